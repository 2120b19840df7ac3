/* The text report, one renderer for the library (stderr, possibly in a signal handler) and the
 * command (`fdleak run/report/snapshot`): the valgrind-style "==PID==" layout, its wording, the
 * start-up frame trimming, and the escaping of every string a program controls. Both callers
 * present their report through the model below (the library from its scratch records, the
 * command from its symbolized dump) and receive the text through a sink. Async-signal-safe and
 * allocation-free: no stdio, no locale, no malloc. */
#ifndef FDC_REPORT_TEXT_H
#define FDC_REPORT_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* One C frame. Any string may be NULL or "" when unknown; line 0 when unknown. */
struct fdc_rframe {
    const char *function, *file, *module; /* module: a path; its basename is shown */
    int line;
    uint64_t offset; /* the call's address in the module (ip - 1 - base) */
    uint64_t ip;     /* as captured (a return address) */
    int inlined;     /* inlined into the next (outer) frame */
};

struct fdc_rpyframe {
    const char *file, *function;
    long line;
};

/* One descriptor line. path: what it refers to (file path, link target), "" if nothing;
 * local/peer: socket addresses, "" if none. */
struct fdc_rfd {
    int fd;
    const char *kind, *path, *local, *peer;
    int cloexec;
    int64_t age_ms;
    long tid;
};

/* A group: leaked descriptors sharing (stack, Python stack, call); kind "mixed" when they
 * differ. stack and pystack are the model's own handles, given back to frame()/pyframe(). */
struct fdc_rgroup {
    const char *call, *kind;
    size_t count;
    uint64_t stack, pystack;
    size_t pytruncated; /* Python frames dropped past the depth limit (outermost ones) */
};

/* A misuse event (double close, bad fd, use after close, owned close). Names as in dumps;
 * stacks are the model's handles (0: none); call names "" when unknown. */
struct fdc_rmisuse {
    const char *kind, *call, *closed_call, *acquired_call, *owner;
    int fd;
    uint64_t count;
    uint64_t stack, closed_stack, acquired_stack;
    uint64_t pystack;            /* where, in Python (pyframe()), 0: none */
    size_t pytruncated;          /* its frames dropped past the depth limit */
    uint64_t acquired_pystack;   /* the acquisition's Python stack (pyframe()), 0: none */
    size_t acquired_pytruncated; /* its frames dropped past the depth limit */
};

/* The process as a whole: what the header and the summary say. */
struct fdc_rproc {
    long pid;
    const char *exe;
    const char *trigger; /* exit, fatal-signal, signal, emfile, threshold */
    int signal;
    const char *trigger_call; /* emfile, threshold */
    int trigger_enfile;       /* emfile: ENFILE rather than EMFILE */
    long threshold;
    uint64_t trigger_stack; /* 0: none */
    long open_fds, limit_nofile;
    size_t leaked, ngroups, ninherited, nunknown;
    int64_t stack_store_full, path_store_full;
    int truncated; /* the library could not list every descriptor */
    size_t nearlier;
    /* Suppressions (the command only): descriptors and groups left out of the report, and
     * how many rules matched them; 0 in the library, which does not read suppressions. */
    size_t nsuppressed, nsupp_groups, nsupp_rules;
    size_t nmisuse;          /* misuse events (merged), shown before the leaks */
    uint64_t misuse_dropped; /* events the library could not keep */
};

typedef void fdc_sink_fn(void *arg, const char *s, size_t n);

/* The report as the renderer reads it. Strings returned through the callbacks stay valid
 * until the next callback; groups are in report order (largest first, ties by lowest fd),
 * descriptors of a group and of the other lists in ascending fd order. */
struct fdc_rmodel {
    void *ctx;
    struct fdc_rproc proc;
    /* Command-line argument i >= 1, or NULL past the last. */
    const char *(*arg)(void *ctx, size_t i);
    void (*group)(void *ctx, size_t g, struct fdc_rgroup *out);
    void (*group_fd)(void *ctx, size_t g, size_t i, struct fdc_rfd *out);
    /* Returns the number of frames of stack (innermost first, inlined frames expanded) and,
     * when out is not NULL and i is below it, fills frame i. */
    size_t (*frame)(void *ctx, uint64_t stack, size_t i, struct fdc_rframe *out);
    size_t (*pyframe)(void *ctx, uint64_t pystack, size_t i, struct fdc_rpyframe *out);
    /* Descriptor i of the inherited (FDC_ORIGIN_INHERITED) or unknown-origin list; with
     * details 0 only its number is needed (the library then spares its /proc lookups). */
    void (*other)(void *ctx, int origin, size_t i, int details, struct fdc_rfd *out);
    /* Earlier dump i of the same process (trigger name, sequence number); may be NULL. */
    void (*earlier)(void *ctx, size_t i, const char **trigger, long *seq);
    /* Suppression rule i (of proc.nsupp_rules) that matched: its name, the descriptors and
     * groups it left out; may be NULL. */
    void (*suppressed)(void *ctx, size_t i, const char **rule, size_t *count, size_t *groups);
    /* Writes lines of its own after group g (a ready suppression entry, unprefixed so that it
     * can be copied as is); may be NULL. */
    void (*group_after)(void *ctx, size_t g, fdc_sink_fn *sink, void *sink_arg);
    /* Misuse event i (of proc.nmisuse); may be NULL when there are none. */
    void (*misuse)(void *ctx, size_t i, struct fdc_rmisuse *out);
};

struct fdc_ropts {
    int color;             /* ANSI colours */
    size_t max_fds;        /* descriptors listed per group and per list, 0 = all */
    const char *cwd;       /* file names under it are shown relative; may be NULL */
    int show_inherited;    /* list inherited descriptors rather than their numbers */
    const char *inh_hint;  /* appended to the inherited line ("--show-inherited lists them") */
    const char *more_hint; /* appended to "... and N more" ("--fds=0 lists all") */
    const char *footer;    /* a last line, e.g. how to get file:line; may be NULL */
};

/* Writes the report of m through sink. */
void fdc_report_text(const struct fdc_rmodel *m, const struct fdc_ropts *o, fdc_sink_fn *sink,
                     void *sink_arg);

/* Writes one misuse event's section (the library's FDLEAK_MISUSE=abort prints it alone). */
void fdc_report_misuse(const struct fdc_rmodel *m, const struct fdc_ropts *o,
                       const struct fdc_rmisuse *ev, fdc_sink_fn *sink, void *sink_arg);

/* 1 when the process has nothing to report: no leaked and no unknown-origin descriptor
 * (inherited ones are the parent's business) and no misuse. Callers decide whether to print
 * anyway. */
int fdc_report_nothing(const struct fdc_rproc *p);

/* 1 for the C frames of process start-up, trimmed from the outer end of every stack:
 * _start, __libc_start_main, __libc_start_call_main. */
int fdc_report_startup_frame(const char *function);

/* Writes s as the report shows program-controlled strings: printable ASCII and well-formed
 * UTF-8 as they are; backslash as \\, newline, tab and carriage return as \n \t \r; every other
 * control byte (C0, DEL), C1 control and bidirectional override character, and every byte that
 * is not part of well-formed UTF-8 (overlong, surrogate, past U+10FFFF, cut short) as \xNN.
 * The result cannot start a line, move the cursor or pass for another string. */
void fdc_report_escape(const char *s, fdc_sink_fn *sink, void *sink_arg);

#endif
