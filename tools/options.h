/* The options the three commands share (-o, --json, --error-exitcode, the text report's
 * settings), the options of one command (run: --depth, --signal, --threshold, --keep-dumps;
 * snapshot: --timeout), one parser for all of them, and the report output they name. */
#ifndef FDT_TOOL_OPTIONS_H
#define FDT_TOOL_OPTIONS_H

#include "render.h"
#include "suppress.h"

#include <stdbool.h>
#include <stdio.h>

#define FDT_VERSION "0.1"
#define FDT_EXIT_USAGE 2
#define FDT_SUPP_FILES_MAX 64

/* Which command-specific options a command accepts; the others are refused with one line. */
enum { FDT_OPTS_RUN = 1, FDT_OPTS_SNAPSHOT = 2 };
/* diff and watch (issue 10): their own block */
enum { FDT_OPTS_WATCH = 16, FDT_OPTS_PEAK = 32 };

struct fdt_cmd_spec {
    const char *name;    /* "run": used in messages ("fdleak run: ...") */
    const char *usage;   /* the command's own help, followed by the shared options */
    unsigned opts;       /* FDT_OPTS_* */
    int report_fd;       /* where the text goes without -o (1 or 2): decides --color=auto */
    int stop_at_operand; /* run: options after CMD belong to CMD */
};

struct fdt_opts {
    const char *output; /* -o: text report file, NULL = the command's default stream */
    const char *json;   /* --json FILE */
    int error_exitcode; /* --error-exitcode, -1 = not set */
    struct fdt_render_opts render;
    const char *color; /* auto, always, never */
    /* run */
    const char *depth, *signal, *threshold, *keep_dumps;
    /* snapshot */
    long timeout;
    /* flame graph and suppressions (flame.c, suppress.c) */
    const char *folded;     /* --folded=FILE */
    bool folded_text;       /* --folded: folded stacks instead of the text report */
    const char *flamegraph; /* --flamegraph=FILE.svg */
    size_t nsupp_files;
    const char *supp_files[FDT_SUPP_FILES_MAX]; /* --suppressions, in order */
    bool gen_supp_text;                         /* --gen-suppressions */
    const char *gen_supp_file;                  /* --gen-suppressions=FILE */
    bool show_unused_supp, no_default_supp;
    struct fdt_supp *supp; /* the default file and the --suppressions files, loaded */
    /* watch: seconds between snapshots, snapshots to take (0 = until exit or Ctrl-C), plot */
    double interval;
    long count;
    const char *plot;
    /* run: FDLEAK_PEAK, FDLEAK_MISUSE (NULL: the library's default) */
    int peak;
    const char *misuse;
};

/* Parses argv (argv[0] is the command name) and loads the suppression files it names (and the
 * default one). Returns -1 after printing one line on a bad option or suppression file, 1
 * after printing help, else 0 with *first_arg the index of the first operand. */
int fdt_opts_parse(const struct fdt_cmd_spec *spec, int argc, char **argv, struct fdt_opts *o,
                   int *first_arg);

/* The one PID operand of `snapshot` and `watch`: argv[first] must be the last argument and a
 * process id. Returns 0 with *pid, or prints one usage line and returns -1. */
int fdt_opts_pid(const char *cmd, int argc, char **argv, int first, long *pid);

/* The text output: -o FILE (created by the invoking user's choice, so opened plainly) or dflt. */
FILE *fdt_open_output(const struct fdt_opts *o, FILE *dflt);
/* Flushes or closes it; 0, or -1 after a message. */
int fdt_close_output(const struct fdt_opts *o, FILE *f);
/* Renders procs as text to out (blank line between processes, or folded stacks with --folded),
 * as JSON if --json was given, and writes --folded=FILE, --flamegraph, --gen-suppressions=FILE
 * and the --show-unused-suppressions lines (to out). notes, if not NULL, holds one line per process
 * (or NULL) printed before its text report, already escaped. Returns 0 or -1. */
int fdt_render_all(const struct fdt_opts *o, FILE *out, struct fdt_proc *procs,
                   const char *const *notes, size_t n);

/* The commands, argv[0] being the command's name. */
int fdt_cmd_run(int argc, char **argv);
int fdt_cmd_snapshot(int argc, char **argv);
int fdt_cmd_report(int argc, char **argv);
int fdt_cmd_diff(int argc, char **argv);
int fdt_cmd_watch(int argc, char **argv);

#endif
