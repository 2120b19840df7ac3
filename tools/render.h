/* The reports people read and scripts parse, rendered from the model (model.h): text through the
 * renderer the library shares (common/report_text.c: "==PID==" lines, colour only when asked)
 * and the documented --json structure (README.md, "JSON format"). */
#ifndef FDT_TOOL_RENDER_H
#define FDT_TOOL_RENDER_H

#include "json.h"
#include "model.h"

struct fdt_supp_gen;

#include <stdbool.h>
#include <stdio.h>

struct fdt_render_opts {
    bool show_inherited;
    bool color;
    size_t max_fds;           /* descriptors listed per group in text, 0 = all */
    const char *cwd;          /* file names under it are shown relative in text; may be NULL */
    struct fdt_supp_gen *gen; /* --gen-suppressions: an entry under each group; may be NULL */
};

/* Writes the text report of p. A process with nothing to report (no leaked and no unknown-origin
 * descriptor) is still rendered; fdt_render_nothing() tells the caller beforehand. */
void fdt_render_text(FILE *out, struct fdt_proc *p, const struct fdt_render_opts *o);
bool fdt_render_nothing(const struct fdt_proc *p);
/* Writes one element of the JSON "processes" array. */
void fdt_render_json(struct fdt_jw *w, struct fdt_proc *p);
/* One frame of a "stack" array, as the JSON report writes it (README, JSON contract). */
void fdt_json_frame(struct fdt_jw *w, uint64_t ip, const char *module, uint64_t offset,
                    const char *function, const char *file, int line, bool inlined);
/* One frame of a "pystack" array: {"file", "function", "line"}. */
void fdt_json_pyframe(struct fdt_jw *w, const char *file, const char *function, long line);
/* Writes {"version": 1, "processes": [...]} to path ("-" = stdout). 0 or -1 (message given). */
int fdt_render_json_file(const char *path, struct fdt_proc *procs, size_t n);

#endif
