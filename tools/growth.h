/* Groups compared across time, for `fdleak diff` and `fdleak watch`: a process's leaked
 * descriptors grouped by what identifies their origin across dumps (call, kind, and the stack
 * by function/file/line where symbolized, else module+offset, plus the Python frames; never
 * by address or stack id, which change from run to run and dump to dump), read from a raw
 * dump or from a `--json` report, matched between two moments, and printed. */
#ifndef FDT_TOOL_GROWTH_H
#define FDT_TOOL_GROWTH_H

#include "model.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct fdt_gframe {
    const char *function, *file, *module; /* NULL or "" when unknown */
    int line;                             /* 0 when unknown */
    uint64_t offset, ip;
    bool inlined;
};

struct fdt_gpy {
    const char *file, *function;
    long line;
};

struct fdt_gfd {
    int fd;
    const char *kind, *path, *local, *peer;
    int64_t age_ms;
};

struct fdt_ggroup {
    char *key; /* call, kind, C and Python frames: equal keys are the same origin */
    const char *call, *kind;
    size_t count, nframes, npy;
    struct fdt_gframe *frames; /* innermost first */
    struct fdt_gpy *py;        /* innermost first */
    struct fdt_gfd *fds;       /* count of them, ascending fd */
    bool owned;                /* strings are this group's own copies (fdt_ggroup_copy) */
};

struct fdt_gproc {
    long pid;
    const char *exe;
    int64_t time_ns;
    long open_fds, limit_nofile;
    size_t ngroups;
    struct fdt_ggroup *groups; /* sorted by key, one per key */
};

/* One input: a raw dump or a report, and what its strings live in. */
struct fdt_gset {
    size_t nprocs;
    struct fdt_gproc *procs;
    struct fdt_proc *dproc; /* raw dump: its model (symbolized) */
    char *buf;              /* report: its text and JSON tree */
    struct fdt_jdoc *doc;
};

/* Reads path, a raw dump (docs/dump-format.md) or a report ("fdleak-report", README.md),
 * through safefile.c (never a FIFO or device, size-capped). 0, or -1 with one line in err. */
int fdt_gset_load(const char *path, struct fdt_gset *s, char *err, size_t errlen);
/* The groups of a dump's model, which the set then owns. */
void fdt_gset_from_proc(struct fdt_gset *s, struct fdt_proc *p);
void fdt_gset_free(struct fdt_gset *s);

/* A deep copy, independent of the set it came from (watch keeps groups across samples). */
void fdt_ggroup_copy(struct fdt_ggroup *dst, const struct fdt_ggroup *src);
void fdt_ggroup_free(struct fdt_ggroup *g);
/* The group of p with key, or NULL. */
const struct fdt_ggroup *fdt_gproc_find(const struct fdt_gproc *p, const char *key);

/* One group's change between two moments. */
enum fdt_gclass { FDT_G_GREW, FDT_G_NEW, FDT_G_SHRUNK, FDT_G_GONE };
struct fdt_gdelta {
    const struct fdt_ggroup *before, *after; /* either may be NULL (new, gone) */
    long delta;
    enum fdt_gclass cls;
    size_t nnew;
    size_t *new_fds; /* indices into after->fds of descriptors not in before */
};
/* The groups whose count changed, grown ones first (largest growth first), then new ones,
 * then shrunk and gone ones (largest loss first); ties by key. *n gets the count; free with
 * fdt_gdiff_free. */
struct fdt_gdelta *fdt_gdiff(const struct fdt_gproc *a, const struct fdt_gproc *b, size_t *n);
void fdt_gdiff_free(struct fdt_gdelta *d, size_t n);

/* Text helpers. Every string from a dump or report is escaped (common/report_text.c). */
void fdt_gprint_esc(FILE *out, const char *s);
/* "1 h 02 min", "3 min 05 s", "4.2 s", "120 ms". */
void fdt_gprint_duration(FILE *out, double seconds);
/* The Python and C frames of g, one per line, indented by three spaces, start-up frames
 * trimmed; file names under cwd shown relative. */
void fdt_gprint_stack(FILE *out, const struct fdt_ggroup *g, const char *cwd);
/* "open() at log_request (src/log.c:19)": call and innermost frame on one line. */
void fdt_gprint_origin(FILE *out, const struct fdt_ggroup *g, const char *cwd);
/* One descriptor: "fd 9  /tmp/x.log  age 12 ms". */
void fdt_gprint_fd(FILE *out, const char *prefix, const struct fdt_gfd *f);

/* The changes from a to b (v, n from fdt_gdiff) as `fdleak diff` prints them, at most max_fds
 * new descriptors per group (0 = all). Returns true if a group grew or appeared. */
bool fdt_gprint_changes(FILE *out, const struct fdt_gproc *a, const struct fdt_gproc *b,
                        const struct fdt_gdelta *v, size_t n, size_t max_fds, const char *cwd);
/* Orders keys (growth.c keys are not C strings: they hold NULs). */
int fdt_gkey_cmp(const char *a, const char *b);

/* JSON "stack" and "pystack" arrays of g, as in the report. */
struct fdt_jw;
void fdt_gjson_stacks(struct fdt_jw *w, const struct fdt_ggroup *g);

#endif
