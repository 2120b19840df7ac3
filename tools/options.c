/* One option parser for the three commands, the help text of the options they share, and the
 * report output those options name (see options.h). Each command's own help text lives in its
 * file (cmd_run.c, cmd_snapshot.c, cmd_report.c). */
#include "options.h"

#include "contract.h"
#include "flame.h"
#include "safefile.h"
#include "signame.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
    OPT_JSON = 256,
    OPT_ERROR_EXITCODE,
    OPT_SHOW_INHERITED,
    OPT_FDS,
    OPT_COLOR,
    OPT_DEPTH, /* run only, from here to OPT_KEEP_DUMPS */
    OPT_SIGNAL,
    OPT_THRESHOLD,
    OPT_KEEP_DUMPS,
    OPT_TIMEOUT, /* snapshot only */
    /* flame graph and suppressions */
    OPT_FOLDED,
    OPT_FLAMEGRAPH,
    OPT_SUPPRESSIONS,
    OPT_GEN_SUPPRESSIONS,
    OPT_SHOW_UNUSED_SUPPRESSIONS,
    OPT_NO_DEFAULT_SUPPRESSIONS,
    /* diff and watch (issue 10) */
    OPT_INTERVAL, /* watch only, to OPT_PLOT */
    OPT_COUNT,
    OPT_PLOT,
    OPT_PEAK,   /* run only */
    OPT_MISUSE, /* run only */
};

static const char fdt_usage_common[] =
    "  -o, --output=FILE        write the text report to FILE\n"
    "      --json=FILE          also write the report as JSON to FILE ('-' = stdout)\n"
    "      --error-exitcode=N   exit with N if any leaked descriptor was found\n"
    "      --show-inherited     list inherited descriptors (default: only counted)\n"
    "      --fds=N              list at most N descriptors per group (default 20, 0 = all)\n"
    "      --color=WHEN         colour the text: auto (a terminal, NO_COLOR unset), always, "
    "never\n"
    "      --folded[=FILE]      leaked stacks as folded lines (flamegraph.pl, speedscope):\n"
    "                           instead of the text report, or also into FILE\n"
    "      --flamegraph=FILE    also write an SVG flame graph of the leaked stacks to FILE\n"
    "      --suppressions=FILE  leave out leaks that an entry of FILE matches (repeatable)\n"
    "      --gen-suppressions[=FILE]  print a suppression entry under each group, or write\n"
    "                           them all to FILE (usable as is with --suppressions=FILE)\n"
    "      --show-unused-suppressions  name the entries that matched nothing\n"
    "      --no-default-suppressions   do not read the default file (share/fdleak/default.supp)\n"
    "  -h, --help               show this help\n";

/* The default suppression file, found like libfdleak.so (cmd_run.c): next to this executable
 * (build/default.supp), else in ../share/fdleak/ relative to it (the installed layout). NULL
 * if neither exists (malloc'd). */
static char *fdt_default_supp(void)
{
    char *self = realpath("/proc/self/exe", NULL);
    if (!self)
        return NULL;
    *strrchr(self, '/') = 0;
    const char *cands[] = {"%s/default.supp", "%s/../share/fdleak/default.supp"};
    char *found = NULL;
    for (size_t i = 0; i < 2 && !found; i++) {
        char *p = fdt_xasprintf(cands[i], self);
        if (access(p, F_OK) == 0)
            found = p;
        else
            free(p);
    }
    free(self);
    return found;
}

/* Reachable from here until exit: the command's options live on its stack. */
static struct fdt_supp *fdt_loaded_supp;
static char *fdt_default_supp_path;

/* Reads the default file (unless --no-default-suppressions) and the --suppressions files
 * before anything runs. 0, or -1 after one line naming FILE:LINE. */
static int fdt_opts_load_supp(struct fdt_opts *o)
{
    const char *files[FDT_SUPP_FILES_MAX + 1];
    size_t n = 0;
    if (!o->no_default_supp && !fdt_default_supp_path)
        fdt_default_supp_path = fdt_default_supp();
    if (!o->no_default_supp && fdt_default_supp_path)
        files[n++] = fdt_default_supp_path;
    for (size_t i = 0; i < o->nsupp_files; i++)
        files[n++] = o->supp_files[i];
    fdt_supp_free(fdt_loaded_supp);
    fdt_loaded_supp = o->supp = fdt_supp_load(files, n);
    return o->supp ? 0 : -1;
}

/* Checks one option's value; returns NULL or why it is refused. */
static const char *fdt_opt_value(int c, const char *arg, struct fdt_opts *o)
{
    long v;
    switch (c) {
    case 'o':
        o->output = arg;
        return NULL;
    case OPT_JSON:
        o->json = arg;
        return NULL;
    case OPT_ERROR_EXITCODE:
        if (fdt_parse_long(arg, 1, 255, &v))
            return "expected a status from 1 to 255";
        o->error_exitcode = (int)v;
        return NULL;
    case OPT_SHOW_INHERITED:
        o->render.show_inherited = true;
        return NULL;
    case OPT_FDS:
        if (fdt_parse_long(arg, 0, LONG_MAX, &v))
            return "expected a count (0 = all)";
        o->render.max_fds = (size_t)v;
        return NULL;
    case OPT_COLOR:
        if (strcmp(arg, "auto") && strcmp(arg, "always") && strcmp(arg, "never"))
            return "expected auto, always or never";
        o->color = arg;
        return NULL;
    case OPT_DEPTH:
        if (fdt_parse_long(arg, 1, FDC_DEPTH_MAX, &v))
            return "expected 1 to 128 frames";
        o->depth = arg;
        return NULL;
    case OPT_SIGNAL: {
        int sig;
        if (fdc_sig_parse(arg, &sig))
            return "expected a signal number or name (USR1, RTMAX-3) or none";
        if (sig && !fdc_sig_usable_for_dump(sig))
            return "not a dump signal: USR1, USR2, WINCH, PWR, URG, RTMIN+N, RTMAX-N or none";
        o->signal = arg;
        return NULL;
    }
    case OPT_THRESHOLD: {
        size_t n = strlen(arg);
        char num[32];
        if (n && n < sizeof num && arg[n - 1] == '%') {
            memcpy(num, arg, n - 1);
            num[n - 1] = 0;
            if (fdt_parse_long(num, 1, 100, &v))
                return "expected a percentage from 1% to 100%";
        } else if (fdt_parse_long(arg, 1, INT_MAX, &v)) {
            return "expected a descriptor count N or a percentage P% of the limit";
        }
        o->threshold = arg;
        return NULL;
    }
    case OPT_KEEP_DUMPS:
        o->keep_dumps = arg;
        return NULL;
    case OPT_TIMEOUT:
        if (fdt_parse_long(arg, 1, 86400, &v))
            return "expected seconds, 1 to 86400";
        o->timeout = v;
        return NULL;
    case OPT_FOLDED:
        o->folded_text = !arg;
        o->folded = arg;
        return arg && !*arg ? "expected a file name" : NULL;
    case OPT_FLAMEGRAPH:
        o->flamegraph = arg;
        return NULL;
    case OPT_SUPPRESSIONS:
        if (o->nsupp_files == FDT_SUPP_FILES_MAX)
            return "too many suppression files";
        o->supp_files[o->nsupp_files++] = arg;
        return NULL;
    case OPT_GEN_SUPPRESSIONS:
        o->gen_supp_text = !arg;
        o->gen_supp_file = arg;
        return arg && !*arg ? "expected a file name" : NULL;
    case OPT_SHOW_UNUSED_SUPPRESSIONS:
        o->show_unused_supp = true;
        return NULL;
    case OPT_NO_DEFAULT_SUPPRESSIONS:
        o->no_default_supp = true;
        return NULL;
    /* diff and watch (issue 10) */
    case OPT_INTERVAL: {
        char *end;
        double d = strtod(arg, &end);
        if (end == arg || *end || !(d >= 0.05 && d <= 86400))
            return "expected seconds, 0.05 to 86400 (fractions allowed)";
        o->interval = d;
        return NULL;
    }
    case OPT_COUNT:
        if (fdt_parse_long(arg, 1, 1000000, &v))
            return "expected a number of snapshots, 1 to 1000000";
        o->count = v;
        return NULL;
    case OPT_PLOT: {
        size_t n = strlen(arg);
        if (n < 5 || (strcmp(arg + n - 4, ".svg") && (n < 6 || strcmp(arg + n - 5, ".html"))))
            return "expected a file name ending in .svg or .html";
        o->plot = arg;
        return NULL;
    }
    case OPT_PEAK:
        o->peak = 1;
        return NULL;
    case OPT_MISUSE:
        if (strcmp(arg, "report") && strcmp(arg, "abort") && strcmp(arg, "off"))
            return "expected report, abort or off";
        o->misuse = arg;
        return NULL;
    }
    return NULL;
}

int fdt_opts_parse(const struct fdt_cmd_spec *spec, int argc, char **argv, struct fdt_opts *o,
                   int *first_arg)
{
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'},
        {"json", required_argument, 0, OPT_JSON},
        {"error-exitcode", required_argument, 0, OPT_ERROR_EXITCODE},
        {"show-inherited", no_argument, 0, OPT_SHOW_INHERITED},
        {"fds", required_argument, 0, OPT_FDS},
        {"color", required_argument, 0, OPT_COLOR},
        {"colour", required_argument, 0, OPT_COLOR},
        {"help", no_argument, 0, 'h'},
        {"depth", required_argument, 0, OPT_DEPTH},
        {"signal", required_argument, 0, OPT_SIGNAL},
        {"threshold", required_argument, 0, OPT_THRESHOLD},
        {"keep-dumps", required_argument, 0, OPT_KEEP_DUMPS},
        {"timeout", required_argument, 0, OPT_TIMEOUT},
        {"folded", optional_argument, 0, OPT_FOLDED},
        {"flamegraph", required_argument, 0, OPT_FLAMEGRAPH},
        {"suppressions", required_argument, 0, OPT_SUPPRESSIONS},
        {"gen-suppressions", optional_argument, 0, OPT_GEN_SUPPRESSIONS},
        {"show-unused-suppressions", no_argument, 0, OPT_SHOW_UNUSED_SUPPRESSIONS},
        {"no-default-suppressions", no_argument, 0, OPT_NO_DEFAULT_SUPPRESSIONS},
        /* diff and watch (issue 10) */
        {"interval", required_argument, 0, OPT_INTERVAL},
        {"count", required_argument, 0, OPT_COUNT},
        {"plot", required_argument, 0, OPT_PLOT},
        {"peak", no_argument, 0, OPT_PEAK},
        {"misuse", required_argument, 0, OPT_MISUSE},
        {0, 0, 0, 0},
    };
    const char *cmd = spec->name;
    memset(o, 0, sizeof *o);
    o->error_exitcode = -1;
    o->render.max_fds = FDC_TEXT_FDS_PER_GROUP;
    o->color = "auto";
    o->timeout = 5;
    o->interval = 10;
    opterr = 0;
    optind = 1;
    int c, idx;
    while ((c = getopt_long(argc, argv, spec->stop_at_operand ? "+:o:h" : ":o:h", longopts,
                            &idx)) != -1) {
        const char *bad = NULL;
        switch (c) {
        case 'h':
            fputs(spec->usage, stdout);
            fputs(fdt_usage_common, stdout);
            return 1;
        case ':':
            fprintf(stderr, "fdleak %s: option '%s' needs a value (see 'fdleak %s --help')\n", cmd,
                    argv[optind - 1], cmd);
            return -1;
        case '?':
            if (optopt && optopt < 256)
                fprintf(stderr, "fdleak %s: unknown option '-%c' (see 'fdleak %s --help')\n", cmd,
                        optopt, cmd);
            else
                fprintf(stderr, "fdleak %s: unknown option '%s' (see 'fdleak %s --help')\n", cmd,
                        argv[optind - 1], cmd);
            return -1;
        default:
            if ((c >= OPT_DEPTH && c <= OPT_KEEP_DUMPS && !(spec->opts & FDT_OPTS_RUN)) ||
                (c == OPT_TIMEOUT && !(spec->opts & FDT_OPTS_SNAPSHOT)) ||
                (c >= OPT_INTERVAL && c <= OPT_PLOT && !(spec->opts & FDT_OPTS_WATCH)) ||
                ((c == OPT_PEAK || c == OPT_MISUSE) && !(spec->opts & FDT_OPTS_PEAK)))
                bad = "not an option of this command";
            else
                bad = fdt_opt_value(c, optarg, o);
        }
        if (bad) {
            fprintf(stderr, "fdleak %s: --%s=%s: %s\n", cmd,
                    c == 'o' ? "output" : longopts[idx].name, optarg ? optarg : "", bad);
            return -1;
        }
    }
    bool color = !strcmp(o->color, "always");
    if (!strcmp(o->color, "auto")) {
        const char *term = getenv("TERM");
        color = !o->output && isatty(spec->report_fd) && !getenv("NO_COLOR") &&
                !(term && !strcmp(term, "dumb"));
    }
    o->render.color = color;
    if (fdt_opts_load_supp(o))
        return -1;
    *first_arg = optind;
    return 0;
}

FILE *fdt_open_output(const struct fdt_opts *o, FILE *dflt)
{
    if (!o->output || !strcmp(o->output, "-"))
        return o->output ? stdout : dflt;
    FILE *f = fopen(o->output, "we");
    if (!f)
        fdt_msg("%s: %s", o->output, strerror(errno));
    return f;
}

int fdt_close_output(const struct fdt_opts *o, FILE *f)
{
    if (f == stdout || f == stderr)
        return fflush(f) == 0 ? 0 : -1;
    if (fclose(f) != 0) {
        fdt_msg("%s: %s", o->output, strerror(errno));
        return -1;
    }
    return 0;
}

/* Writes every generated suppression entry of procs to path, each once. 0 or -1. */
static int fdt_gen_supp_file(const char *path, struct fdt_proc *procs, size_t n)
{
    FILE *f = fopen(path, "we");
    if (!f) {
        fdt_msg("%s: %s", path, strerror(errno));
        return -1;
    }
    struct fdt_supp_gen *gen = fdt_supp_gen_new();
    fprintf(f, "# fdleak suppressions, generated by fdleak --gen-suppressions (README.md,\n"
               "# \"Suppressions\"); use with --suppressions=FILE.\n");
    for (size_t i = 0; i < n; i++)
        for (size_t g = 0; g < procs[i].ngroups; g++) {
            bool dup;
            char *e = fdt_supp_gen_entry(gen, &procs[i], &procs[i].groups[g], &dup);
            if (!dup)
                fprintf(f, "\n%s", e);
            free(e);
        }
    fdt_supp_gen_free(gen);
    if (fclose(f) != 0) {
        fdt_msg("%s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int fdt_render_all(const struct fdt_opts *o, FILE *out, struct fdt_proc *procs,
                   const char *const *notes, size_t n)
{
    char cwd[PATH_MAX];
    struct fdt_render_opts ro = o->render;
    ro.cwd = getcwd(cwd, sizeof cwd);
    ro.gen = o->gen_supp_text ? fdt_supp_gen_new() : NULL;
    int rc = 0;
    for (size_t i = 0; i < n && !o->folded_text; i++) {
        if (i)
            fputc('\n', out);
        if (notes && notes[i])
            fprintf(out, "%s\n", notes[i]);
        fdt_render_text(out, &procs[i], &ro);
    }
    fdt_supp_gen_free(ro.gen);
    if (o->folded || o->folded_text || o->flamegraph) {
        struct fdt_flame *fl = fdt_flame_new(ro.cwd);
        for (size_t i = 0; i < n; i++)
            fdt_flame_add(fl, &procs[i]);
        if (o->folded_text)
            fdt_flame_folded(fl, out);
        if (o->folded) {
            FILE *f = fopen(o->folded, "we");
            if (f)
                fdt_flame_folded(fl, f);
            if (!f || fclose(f) != 0) {
                fdt_msg("%s: %s", o->folded, strerror(errno));
                rc = -1;
            }
        }
        if (o->flamegraph && fdt_flame_svg(fl, o->flamegraph, "fdleak: leaked file descriptors"))
            rc = -1;
        fdt_flame_free(fl);
    }
    if (o->gen_supp_file && fdt_gen_supp_file(o->gen_supp_file, procs, n))
        rc = -1;
    if (o->show_unused_supp)
        fdt_supp_print_unused(o->supp, out);
    if (o->json && fdt_render_json_file(o->json, procs, n))
        rc = -1;
    return rc;
}

int fdt_opts_pid(const char *cmd, int argc, char **argv, int first, long *pid)
{
    if (first != argc - 1) {
        fprintf(stderr, "fdleak %s: expected one PID (see 'fdleak %s --help')\n", cmd, cmd);
        return -1;
    }
    if (fdt_parse_long(argv[first], 1, INT_MAX, pid)) {
        char esc[256];
        fprintf(stderr, "fdleak %s: '%s' is not a process id\n", cmd,
                fdt_escape(argv[first], esc, sizeof esc));
        return -1;
    }
    return 0;
}
