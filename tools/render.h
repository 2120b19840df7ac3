/* The reports people read and scripts parse: a dump's descriptors grouped by acquisition stack,
 * rendered as text (valgrind-like, "==PID==" prefix, colour only when asked) or as the
 * documented --json structure (README.md, "JSON format"). */
#ifndef FDT_TOOL_RENDER_H
#define FDT_TOOL_RENDER_H

#include "dumpfile.h"
#include "json.h"
#include "symbolize.h"

#include <stdbool.h>
#include <stdio.h>

struct fdt_group {
    const char *call, *kind; /* kind is "mixed" if the fds differ */
    uint32_t stack, pystack;
    size_t count;
    size_t *fds; /* indices into dump->fds, ascending fd */
};

struct fdt_proc {
    struct fdt_dump *dump;
    struct fdt_sym *sym;
    size_t ngroups, leaked, ninherited, nunknown;
    struct fdt_group *groups;    /* largest first, ties by first fd */
    size_t *inherited, *unknown; /* indices into dump->fds */
    size_t nearlier;
    const struct fdt_dump **earlier; /* earlier dumps of the same process (fdleak run) */
};

struct fdt_render_opts {
    bool show_inherited;
    bool color;
    size_t max_fds;  /* descriptors listed per group in text, 0 = all */
    const char *cwd; /* file names under it are shown relative in text; may be NULL */
};

/* Groups the descriptors of d (which the proc then owns, with its symbolizer). */
void fdt_proc_init(struct fdt_proc *p, struct fdt_dump *d);
void fdt_proc_fini(struct fdt_proc *p);

void fdt_render_text(FILE *out, struct fdt_proc *p, const struct fdt_render_opts *o);
/* Writes one element of the JSON "processes" array. */
void fdt_render_json(struct fdt_jw *w, struct fdt_proc *p);
/* Writes {"version": 1, "processes": [...]} to path ("-" = stdout). 0 or -1 (message given). */
int fdt_render_json_file(const char *path, struct fdt_proc *procs, size_t n);

#endif
