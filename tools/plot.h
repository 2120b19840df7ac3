/* `fdleak watch --plot`: descriptors over time as a self-contained SVG (or an HTML page holding
 * it; no script, no network): the process's total, one line per top group, the limit, axes,
 * labels and a legend, readable without the terminal output beside it. */
#ifndef FDT_TOOL_PLOT_H
#define FDT_TOOL_PLOT_H

#include <stddef.h>

struct fdt_plot_series {
    const char *label; /* raw text from a dump: the plot escapes it */
    const long *y;     /* one per sample */
};

struct fdt_plot {
    const char *title; /* raw text */
    size_t n;          /* samples */
    const double *x;   /* seconds since the first sample */
    const long *total; /* open descriptors of the process */
    long limit;        /* soft RLIMIT_NOFILE, 0 = unknown */
    size_t nseries;
    const struct fdt_plot_series *series;
};

/* Writes the plot to path (.svg, or .html for a page). 0, or -1 after one line. */
int fdt_plot_write(const char *path, const struct fdt_plot *p);

#endif
