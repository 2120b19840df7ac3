/* The reports people read and scripts parse: a dump's descriptors grouped by acquisition stack,
 * rendered as text (valgrind-like, "==PID==" prefix, colour only when asked) or as the
 * documented --json structure (README.md, "JSON format"). */
#ifndef FDL_TOOL_RENDER_H
#define FDL_TOOL_RENDER_H

#include "dump.h"
#include "json.h"
#include "symbolize.h"

#include <stdbool.h>
#include <stdio.h>

struct fdl_group {
    const char *call, *kind; /* kind is "mixed" if the fds differ */
    uint32_t stack, pystack;
    size_t count;
    size_t *fds; /* indices into dump->fds, ascending fd */
};

struct fdl_proc {
    struct fdl_dump *dump;
    struct fdl_sym *sym;
    size_t ngroups, leaked, ninherited, nunknown;
    struct fdl_group *groups;    /* largest first, ties by first fd */
    size_t *inherited, *unknown; /* indices into dump->fds */
    size_t nearlier;
    const struct fdl_dump **earlier; /* earlier dumps of the same process (fdleak run) */
};

struct fdl_render_opts {
    bool show_inherited;
    bool color;
    size_t max_fds;  /* descriptors listed per group in text, 0 = all */
    const char *cwd; /* file names under it are shown relative in text; may be NULL */
};

/* Groups the descriptors of d (which the proc then owns, with its symbolizer). */
void fdl_proc_init(struct fdl_proc *p, struct fdl_dump *d);
void fdl_proc_fini(struct fdl_proc *p);

void fdl_render_text(FILE *out, struct fdl_proc *p, const struct fdl_render_opts *o);
/* Writes one element of the JSON "processes" array. */
void fdl_render_json(struct fdl_jw *w, struct fdl_proc *p);
/* Writes {"version": 1, "processes": [...]} to path ("-" = stdout). 0 or -1 (message given). */
int fdl_render_json_file(const char *path, struct fdl_proc *procs, size_t n);

#endif
