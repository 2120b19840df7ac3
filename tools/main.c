/* The fdleak command: option parsing and the three commands. `run` starts a program under the
 * shim with a private dump directory and reports what every process of it still held at the
 * end; `snapshot` asks a live process for a dump with sigqueue and waits for the file; `report`
 * renders saved dumps. Reading dumps is dump.c, symbols symbolize.c, output render.c. */
#include "contract.h"
#include "dumpfile.h"
#include "signame.h"
#include "render.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FDT_VERSION "0.1"
#define FDT_EXIT_USAGE 2

/* Options shared by the commands that render reports. */
struct fdt_opts {
    const char *output; /* -o: text report file, NULL = stdout/stderr */
    const char *json;   /* --json FILE */
    int error_exitcode; /* --error-exitcode, -1 = not set */
    struct fdt_render_opts render;
    const char *color; /* auto, always, never */
    /* run */
    const char *depth, *signal, *threshold, *keep_dumps;
    /* snapshot */
    long timeout;
};

enum {
    OPT_JSON = 256,
    OPT_ERROR_EXITCODE,
    OPT_SHOW_INHERITED,
    OPT_FDS,
    OPT_COLOR,
    OPT_DEPTH,
    OPT_SIGNAL,
    OPT_THRESHOLD,
    OPT_KEEP_DUMPS,
    OPT_TIMEOUT,
};

static const char fdt_usage_main[] =
    "Usage: fdleak COMMAND [OPTIONS] ...\n"
    "Finds file-descriptor leaks: which call, from which line, opened each descriptor a\n"
    "process still holds.\n"
    "\n"
    "Commands:\n"
    "  run [OPTIONS] -- CMD [ARGS...]   run CMD under fdleak and report its leaks at the end\n"
    "  snapshot [OPTIONS] PID            report what a live process under fdleak holds now\n"
    "  report [OPTIONS] DUMP...          render raw dumps saved earlier (FDLEAK_OUTPUT)\n"
    "\n"
    "'fdleak COMMAND --help' describes each command. See also fdleak(1) and README.md.\n";

static const char fdt_usage_common[] =
    "  -o, --output=FILE        write the text report to FILE\n"
    "      --json=FILE          also write the report as JSON to FILE ('-' = stdout)\n"
    "      --error-exitcode=N   exit with N if any leaked descriptor was found\n"
    "      --show-inherited     list inherited descriptors (default: only counted)\n"
    "      --fds=N              list at most N descriptors per group (default 20, 0 = all)\n"
    "      --color=WHEN         colour the text: auto (a terminal, NO_COLOR unset), always, "
    "never\n"
    "  -h, --help               show this help\n";

static const char fdt_usage_run[] =
    "Usage: fdleak run [OPTIONS] [--] CMD [ARGS...]\n"
    "Runs CMD under libfdleak.so, following its children. When CMD ends, prints one report per\n"
    "process that still held leaked descriptors, to stderr (or -o FILE), and exits with CMD's\n"
    "status (or N from --error-exitcode=N when a leak was found). Ctrl-C reaches CMD; the\n"
    "report is still printed.\n"
    "\n"
    "Options:\n"
    "      --depth=N            C frames captured per acquisition, 1 to 128 (default 16)\n"
    "      --signal=SIG         dump-on-demand signal: number, name (USR1, RTMAX-3) or none\n"
    "      --threshold=N|P%     also dump when N live descriptors (or P% of the limit) is "
    "reached\n"
    "      --keep-dumps=DIR     keep the raw dumps in DIR (for 'fdleak report')\n";

static const char fdt_usage_snapshot[] =
    "Usage: fdleak snapshot [OPTIONS] PID\n"
    "Asks PID, a live process running under libfdleak.so, for a dump now, waits for it and\n"
    "prints the report on stdout (or -o FILE). Run it again later to see what grew.\n"
    "\n"
    "Options:\n"
    "      --timeout=SEC        wait at most SEC seconds for the dump (default 5)\n";

static const char fdt_usage_report[] =
    "Usage: fdleak report [OPTIONS] DUMP...\n"
    "Renders raw dumps written by libfdleak.so (FDLEAK_OUTPUT, or kept by 'fdleak run\n"
    "--keep-dumps') on stdout (or -o FILE), one report per dump. Symbols are read from the\n"
    "binaries named in each dump, which must be the same builds (checked by build-id).\n"
    "\n"
    "Options:\n";

static void fdt_usage(FILE *f, const char *cmd)
{
    if (!strcmp(cmd, "run"))
        fputs(fdt_usage_run, f);
    else if (!strcmp(cmd, "snapshot"))
        fputs(fdt_usage_snapshot, f);
    else
        fputs(fdt_usage_report, f);
    fputs(fdt_usage_common, f);
}

/* Parses the options of one command. Returns -1 after printing one line on a bad option,
 * 1 after printing help, else 0 with *first_arg the index of the first operand. */
static int fdt_parse(const char *cmd, int argc, char **argv, struct fdt_opts *o, int *first_arg)
{
    static const struct option common[] = {
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
        {0, 0, 0, 0},
    };
    bool is_run = !strcmp(cmd, "run"), is_snap = !strcmp(cmd, "snapshot");
    memset(o, 0, sizeof *o);
    o->error_exitcode = -1;
    o->render.max_fds = FDC_TEXT_FDS_PER_GROUP;
    o->color = "auto";
    o->timeout = 5;
    opterr = 0;
    optind = 1;
    int c, idx;
    while ((c = getopt_long(argc, argv, is_run ? "+:o:h" : ":o:h", common, &idx)) != -1) {
        long v;
        const char *bad = NULL;
        switch (c) {
        case 'h':
            fdt_usage(stdout, cmd);
            return 1;
        case 'o':
            o->output = optarg;
            break;
        case OPT_JSON:
            o->json = optarg;
            break;
        case OPT_ERROR_EXITCODE:
            if (fdt_parse_long(optarg, 1, 255, &v))
                bad = "expected a status from 1 to 255";
            o->error_exitcode = (int)v;
            break;
        case OPT_SHOW_INHERITED:
            o->render.show_inherited = true;
            break;
        case OPT_FDS:
            if (fdt_parse_long(optarg, 0, LONG_MAX, &v))
                bad = "expected a count (0 = all)";
            o->render.max_fds = (size_t)v;
            break;
        case OPT_COLOR:
            if (strcmp(optarg, "auto") && strcmp(optarg, "always") && strcmp(optarg, "never"))
                bad = "expected auto, always or never";
            o->color = optarg;
            break;
        case OPT_DEPTH:
            if (fdt_parse_long(optarg, 1, FDC_DEPTH_MAX, &v))
                bad = "expected 1 to 128 frames";
            o->depth = optarg;
            break;
        case OPT_SIGNAL: {
            int sig;
            if (fdc_sig_parse(optarg, &sig))
                bad = "expected a signal number or name (USR1, RTMAX-3) or none";
            else if (sig && !fdc_sig_usable_for_dump(sig))
                bad = "not a dump signal: USR1, USR2, WINCH, PWR, URG, RTMIN+N, RTMAX-N or none";
            o->signal = optarg;
            break;
        }
        case OPT_THRESHOLD: {
            size_t n = strlen(optarg);
            char num[32];
            if (n && n < sizeof num && optarg[n - 1] == '%') {
                memcpy(num, optarg, n - 1);
                num[n - 1] = 0;
                if (fdt_parse_long(num, 1, 100, &v))
                    bad = "expected a percentage from 1% to 100%";
            } else if (fdt_parse_long(optarg, 1, INT_MAX, &v)) {
                bad = "expected a descriptor count N or a percentage P% of the limit";
            }
            o->threshold = optarg;
            break;
        }
        case OPT_KEEP_DUMPS:
            o->keep_dumps = optarg;
            break;
        case OPT_TIMEOUT:
            if (fdt_parse_long(optarg, 1, 86400, &v))
                bad = "expected seconds, 1 to 86400";
            o->timeout = v;
            break;
        case ':':
            fprintf(stderr, "fdleak %s: option '%s' needs a value (see 'fdleak %s --help')\n", cmd,
                    argv[optind - 1], cmd);
            return -1;
        default:
            if (optopt && optopt < 256)
                fprintf(stderr, "fdleak %s: unknown option '-%c' (see 'fdleak %s --help')\n", cmd,
                        optopt, cmd);
            else
                fprintf(stderr, "fdleak %s: unknown option '%s' (see 'fdleak %s --help')\n", cmd,
                        argv[optind - 1], cmd);
            return -1;
        }
        if (!bad &&
            ((c >= OPT_DEPTH && c <= OPT_KEEP_DUMPS && !is_run) || (c == OPT_TIMEOUT && !is_snap)))
            bad = "not an option of this command";
        if (bad) {
            fprintf(stderr, "fdleak %s: --%s=%s: %s\n", cmd, common[idx].name, optarg ? optarg : "",
                    bad);
            return -1;
        }
    }
    bool color = !strcmp(o->color, "always");
    if (!strcmp(o->color, "auto")) {
        int fd = o->output ? -1 : is_run ? 2 : 1;
        const char *term = getenv("TERM");
        color = fd >= 0 && isatty(fd) && !getenv("NO_COLOR") && !(term && !strcmp(term, "dumb"));
    }
    o->render.color = color;
    *first_arg = optind;
    return 0;
}

/* Opens the text output: -o FILE or the default stream. */
static FILE *fdt_open_output(const struct fdt_opts *o, FILE *dflt)
{
    if (!o->output || !strcmp(o->output, "-"))
        return o->output ? stdout : dflt;
    FILE *f = fopen(o->output, "we");
    if (!f)
        fdt_msg("%s: %s", o->output, strerror(errno));
    return f;
}

static int fdt_close_output(const struct fdt_opts *o, FILE *f)
{
    if (f == stdout || f == stderr)
        return fflush(f) == 0 ? 0 : -1;
    if (fclose(f) != 0) {
        fdt_msg("%s: %s", o->output, strerror(errno));
        return -1;
    }
    return 0;
}

/* Renders procs as text to out and as JSON if asked. Returns 0 or -1. */
static int fdt_render_all(const struct fdt_opts *o, FILE *out, struct fdt_proc *procs, size_t n)
{
    char cwd[PATH_MAX];
    struct fdt_render_opts ro = o->render;
    ro.cwd = getcwd(cwd, sizeof cwd);
    for (size_t i = 0; i < n; i++) {
        if (i)
            fputc('\n', out);
        fdt_render_text(out, &procs[i], &ro);
    }
    if (o->json && fdt_render_json_file(o->json, procs, n))
        return -1;
    return 0;
}

/* ---------------------------------------------------------------------------------- report */

static int fdt_cmd_report(int argc, char **argv)
{
    struct fdt_opts o;
    int first, rc = fdt_parse("report", argc, argv, &o, &first);
    if (rc)
        return rc > 0 ? 0 : FDT_EXIT_USAGE;
    if (first >= argc) {
        fprintf(stderr, "fdleak report: no dump given (see 'fdleak report --help')\n");
        return FDT_EXIT_USAGE;
    }
    size_t n = 0;
    bool failed = false, leaked = false;
    struct fdt_proc *procs = fdt_xcalloc((size_t)(argc - first), sizeof *procs);
    for (int i = first; i < argc; i++) {
        char err[1024];
        struct fdt_dump *d = fdt_dump_load(argv[i], err, sizeof err);
        if (!d) {
            fdt_msg("%s", err);
            failed = true;
            continue;
        }
        fdt_proc_init(&procs[n], d);
        leaked |= procs[n].leaked > 0;
        n++;
    }
    FILE *out = n ? fdt_open_output(&o, stdout) : NULL;
    if (n && !out)
        failed = true;
    if (out) {
        if (fdt_render_all(&o, out, procs, n))
            failed = true;
        if (fdt_close_output(&o, out))
            failed = true;
    }
    for (size_t i = 0; i < n; i++)
        fdt_proc_fini(&procs[i]);
    free(procs);
    if (failed)
        return 1;
    return leaked && o.error_exitcode > 0 ? o.error_exitcode : 0;
}

/* -------------------------------------------------------------------------------- snapshot */

/* Reads /proc/PID/environ and returns the value of name (malloc'd) or NULL. */
static char *fdt_proc_getenv(long pid, const char *name)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/environ", pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    char *line = NULL, *val = NULL;
    size_t cap = 0, nlen = strlen(name);
    ssize_t len;
    while ((len = getdelim(&line, &cap, '\0', f)) > 0) {
        if ((size_t)len > nlen && !strncmp(line, name, nlen) && line[nlen] == '=') {
            val = fdt_xstrdup(line + nlen + 1);
            break;
        }
    }
    free(line);
    fclose(f);
    return val;
}

/* 1 if /proc/PID/maps shows libfdleak.so, 0 if not, -1 if unreadable. */
static int fdt_proc_has_shim(long pid)
{
    char path[64], *line = NULL;
    size_t cap = 0;
    int found = 0;
    snprintf(path, sizeof path, "/proc/%ld/maps", pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    while (!found && getline(&line, &cap, f) > 0)
        found = strstr(line, "/libfdleak.so") != NULL;
    free(line);
    fclose(f);
    return found;
}

static void fdt_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) && errno == EINTR)
        ;
}

static int fdt_cmd_snapshot(int argc, char **argv)
{
    struct fdt_opts o;
    int first, rc = fdt_parse("snapshot", argc, argv, &o, &first);
    long pid;
    if (rc)
        return rc > 0 ? 0 : FDT_EXIT_USAGE;
    if (first != argc - 1) {
        fprintf(stderr, "fdleak snapshot: expected one PID (see 'fdleak snapshot --help')\n");
        return FDT_EXIT_USAGE;
    }
    if (fdt_parse_long(argv[first], 1, INT_MAX, &pid)) {
        fprintf(stderr, "fdleak snapshot: '%s' is not a process id\n", argv[first]);
        return FDT_EXIT_USAGE;
    }
    char procdir[64];
    struct stat st;
    snprintf(procdir, sizeof procdir, "/proc/%ld", pid);
    if (stat(procdir, &st) != 0) {
        fdt_msg("no process %ld", pid);
        return 1;
    }
    int shim = fdt_proc_has_shim(pid);
    if (shim < 0) {
        fdt_msg("cannot read /proc/%ld/maps: %s (run as its user or root)", pid, strerror(errno));
        return 1;
    }
    if (!shim) {
        fdt_msg("process %ld is not running under fdleak (libfdleak.so is not loaded)", pid);
        return 1;
    }
    /* The library's own reading of FDLEAK_SIGNAL (common/signame.c): a value it refuses
     * leaves it on the default signal. */
    int sig = fdc_sig_default(), parsed;
    char *sigenv = fdt_proc_getenv(pid, "FDLEAK_SIGNAL");
    if (sigenv && fdc_sig_parse(sigenv, &parsed) == 0 &&
        (parsed == 0 || fdc_sig_usable_for_dump(parsed)))
        sig = parsed;
    if (sig == 0) {
        fdt_msg("process %ld has the dump signal disabled (FDLEAK_SIGNAL=%s)", pid, sigenv);
        free(sigenv);
        return 1;
    }
    free(sigenv);
    char *env = fdt_proc_getenv(pid, "FDLEAK_SNAPSHOT_DIR"), *dir;
    if (!env || !*env)
        dir = fdt_xasprintf(FDC_SNAPSHOT_DIR_PREFIX "%u", (unsigned)st.st_uid);
    else if (env[0] != '/')
        dir = fdt_xasprintf("/proc/%ld/cwd/%s", pid, env);
    else
        dir = fdt_xstrdup(env);
    free(env);
    if (mkdir(dir, 0700) == 0) {
        if (geteuid() != st.st_uid && chown(dir, st.st_uid, st.st_gid) != 0) {
            int err = errno;
            fdt_msg("cannot give the snapshot directory to uid %u: %s", (unsigned)st.st_uid,
                    strerror(err));
            rmdir(dir);
            free(dir);
            return 1;
        }
    } else if (errno != EEXIST) {
        fdt_msg("%s: %s", dir, strerror(errno));
        free(dir);
        return 1;
    }
    unsigned short token;
    if (getrandom(&token, sizeof token, 0) != sizeof token)
        token = (unsigned short)(time(NULL) ^ getpid());
    char *file = fdt_xasprintf("%s/" FDC_SNAPSHOT_FILE_PREFIX "%ld.%u" FDC_SNAPSHOT_FILE_SUFFIX,
                               dir, pid, (unsigned)token);
    free(dir);
    union sigval val = {.sival_int = (int)(FDC_SNAPSHOT_MAGIC | token)};
    char signame[32];
    if (sigqueue((pid_t)pid, sig, val) != 0) {
        fdt_msg("cannot send %s to process %ld: %s", fdc_sig_name(sig, signame, sizeof signame),
                pid, strerror(errno));
        free(file);
        return 1;
    }
    long waited = 0;
    while (access(file, F_OK) != 0) {
        if (waited >= o.timeout * 1000) {
            fdt_msg("no dump from %ld within %ld s (is it stopped, or blocking signal %d?)", pid,
                    o.timeout, sig);
            free(file);
            return 1;
        }
        if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
            fdt_msg("process %ld exited before writing its dump", pid);
            free(file);
            return 1;
        }
        fdt_sleep_ms(10);
        waited += 10;
    }
    char err[1024];
    struct fdt_dump *d = fdt_dump_load(file, err, sizeof err);
    unlink(file);
    free(file);
    if (!d) {
        fdt_msg("%s", err);
        return 1;
    }
    struct fdt_proc p;
    fdt_proc_init(&p, d);
    FILE *out = fdt_open_output(&o, stdout);
    rc = 0;
    if (!out || fdt_render_all(&o, out, &p, 1))
        rc = 1;
    if (out && fdt_close_output(&o, out))
        rc = 1;
    bool leaked = p.leaked > 0;
    fdt_proc_fini(&p);
    if (rc)
        return rc;
    return leaked && o.error_exitcode > 0 ? o.error_exitcode : 0;
}

/* ------------------------------------------------------------------------------------- run */

/* Finds libfdleak.so: $FDLEAK_LIB, next to this executable, or in ../lib/fdleak/. */
static char *fdt_find_lib(void)
{
    const char *env = getenv("FDLEAK_LIB");
    if (env && *env) {
        if (access(env, R_OK) != 0) {
            fdt_msg("FDLEAK_LIB=%s: %s", env, strerror(errno));
            return NULL;
        }
        return realpath(env, NULL);
    }
    char *self = realpath("/proc/self/exe", NULL);
    if (!self) {
        fdt_msg("cannot find my own executable: %s", strerror(errno));
        return NULL;
    }
    char *slash = strrchr(self, '/');
    *slash = 0;
    const char *cands[] = {"%s/libfdleak.so", "%s/../lib/fdleak/libfdleak.so"};
    for (size_t i = 0; i < 2; i++) {
        char *p = fdt_xasprintf(cands[i], self);
        char *r = access(p, R_OK) == 0 ? realpath(p, NULL) : NULL;
        free(p);
        if (r) {
            free(self);
            return r;
        }
    }
    fdt_msg("cannot find libfdleak.so next to %s or in %s/../lib/fdleak (set FDLEAK_LIB)", self,
            self);
    free(self);
    return NULL;
}

static volatile sig_atomic_t fdt_child_pid;

static void fdt_forward(int sig)
{
    if (fdt_child_pid > 0)
        kill(fdt_child_pid, sig);
}

static void fdt_rm_dir(const char *dir)
{
    DIR *dh = opendir(dir);
    struct dirent *e;
    while (dh && (e = readdir(dh))) {
        if (e->d_name[0] == '.')
            continue;
        char *p = fdt_xasprintf("%s/%s", dir, e->d_name);
        unlink(p);
        free(p);
    }
    if (dh)
        closedir(dh);
    rmdir(dir);
}

/* Moves the dumps of dir into keep (created if missing). */
static void fdt_keep_dumps(const char *dir, const char *keep)
{
    if (mkdir(keep, 0700) != 0 && errno != EEXIST) {
        fdt_msg("--keep-dumps=%s: %s", keep, strerror(errno));
        return;
    }
    DIR *dh = opendir(dir);
    struct dirent *e;
    while (dh && (e = readdir(dh))) {
        if (e->d_name[0] == '.')
            continue;
        char *from = fdt_xasprintf("%s/%s", dir, e->d_name);
        char *to = fdt_xasprintf("%s/%s", keep, e->d_name);
        if (link(from, to) != 0) {
            int in = open(from, O_RDONLY | O_CLOEXEC);
            int outfd = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
            char buf[65536];
            ssize_t n;
            if (in >= 0 && outfd >= 0)
                while ((n = read(in, buf, sizeof buf)) > 0)
                    if (write(outfd, buf, (size_t)n) != n)
                        break;
            if (outfd < 0)
                fdt_msg("%s: %s", to, strerror(errno));
            if (in >= 0)
                close(in);
            if (outfd >= 0)
                close(outfd);
        }
        free(from);
        free(to);
    }
    if (dh)
        closedir(dh);
}

static int fdt_cmp_dump(const void *a, const void *b)
{
    const struct fdt_dump *x = *(struct fdt_dump *const *)a, *y = *(struct fdt_dump *const *)b;
    if (x->pid != y->pid)
        return x->pid < y->pid ? -1 : 1;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return x->time_realtime_ns < y->time_realtime_ns ? -1
                                                     : x->time_realtime_ns > y->time_realtime_ns;
}

static bool fdt_is_final(const struct fdt_dump *d)
{
    return !strcmp(d->trigger, "exit") || !strcmp(d->trigger, "fatal-signal");
}

/* Loads the dumps of dir, picks one per process (the last exit/fatal-signal dump, else the
 * last dump) and keeps those with leaks in *procs, the command's own process first. Returns
 * the number of processes seen; *nprocs gets the number with leaks. */
static size_t fdt_collect(const char *dir, long child, struct fdt_proc **procs, size_t *nprocs)
{
    DIR *dh = opendir(dir);
    struct dirent *e;
    size_t n = 0, cap = 0, seen = 0;
    struct fdt_dump **dumps = NULL;
    while (dh && (e = readdir(dh))) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len < 5 || strcmp(e->d_name + len - 5, ".json"))
            continue;
        char *p = fdt_xasprintf("%s/%s", dir, e->d_name), err[1024];
        struct fdt_dump *d = fdt_dump_load(p, err, sizeof err);
        free(p);
        if (!d) {
            fdt_msg("%s; skipped", err);
            continue;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            dumps = fdt_xrealloc(dumps, cap * sizeof *dumps);
        }
        dumps[n++] = d;
    }
    if (dh)
        closedir(dh);
    if (n) /* dumps is NULL when the directory held none */
        qsort(dumps, n, sizeof *dumps, fdt_cmp_dump);
    *procs = fdt_xcalloc(n, sizeof **procs);
    *nprocs = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && dumps[j]->pid == dumps[i]->pid)
            j++;
        seen++;
        size_t last = j - 1;
        for (size_t k = i; k < j; k++)
            if (fdt_is_final(dumps[k]))
                last = k;
        struct fdt_proc *p = &(*procs)[*nprocs];
        fdt_proc_init(p, dumps[last]);
        p->earlier = fdt_xcalloc(j - i, sizeof *p->earlier);
        for (size_t k = i; k < j; k++) {
            if (k == last)
                continue;
            if (p->leaked && dumps[k]->seq < dumps[last]->seq && !fdt_is_final(dumps[k]))
                p->earlier[p->nearlier++] = dumps[k]; /* named in the summary */
            else
                fdt_dump_free(dumps[k]);
        }
        if (p->leaked)
            (*nprocs)++;
        else
            fdt_proc_fini(p);
        i = j;
    }
    /* The command's own process first; earlier dumps are freed by fdt_free_procs. */
    for (size_t i = 0; i < *nprocs; i++)
        if ((*procs)[i].dump->pid == child && i > 0) {
            struct fdt_proc t = (*procs)[i];
            memmove(&(*procs)[1], &(*procs)[0], i * sizeof t);
            (*procs)[0] = t;
        }
    free(dumps);
    return seen;
}

static void fdt_free_procs(struct fdt_proc *procs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < procs[i].nearlier; k++)
            fdt_dump_free((struct fdt_dump *)procs[i].earlier[k]);
        fdt_proc_fini(&procs[i]);
    }
    free(procs);
}

/* Exits the way the command ended: with its status, or killed by the same signal. */
static int fdt_exit_like(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    int sig = WTERMSIG(status);
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    signal(sig, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    fflush(NULL);
    raise(sig);
    return 128 + sig;
}

static int fdt_cmd_run(int argc, char **argv)
{
    struct fdt_opts o;
    int first, rc = fdt_parse("run", argc, argv, &o, &first);
    if (rc)
        return rc > 0 ? 0 : FDT_EXIT_USAGE;
    if (first < argc && !strcmp(argv[first], "--"))
        first++;
    if (first >= argc) {
        fprintf(stderr, "fdleak run: no command given (see 'fdleak run --help')\n");
        return FDT_EXIT_USAGE;
    }
    char *lib = fdt_find_lib();
    if (!lib)
        return 1;
    /* Open the report file first: a bad -o should fail before the program runs. */
    FILE *out = fdt_open_output(&o, stderr);
    if (!out) {
        free(lib);
        return 1;
    }
    const char *tmp = getenv("TMPDIR");
    char *dir = fdt_xasprintf("%s/fdleak-run.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        fdt_msg("cannot create a directory in %s: %s", tmp && *tmp ? tmp : "/tmp", strerror(errno));
        return 1;
    }
    /* First in LD_PRELOAD, except after a sanitizer runtime, which must come first. */
    const char *old = getenv("LD_PRELOAD");
    char *preload = !old || !*old            ? fdt_xstrdup(lib)
                    : strstr(old, "libasan") ? fdt_xasprintf("%s:%s", old, lib)
                                             : fdt_xasprintf("%s:%s", lib, old);
    char *output = fdt_xasprintf("%s/fdleak.%%p.%%n.json", dir);
    setenv("LD_PRELOAD", preload, 1);
    setenv("FDLEAK_OUTPUT", output, 1);
    if (o.depth)
        setenv("FDLEAK_DEPTH", o.depth, 1);
    if (o.signal)
        setenv("FDLEAK_SIGNAL", o.signal, 1);
    if (o.threshold)
        setenv("FDLEAK_THRESHOLD", o.threshold, 1);
    free(preload);
    free(output);
    free(lib);

    struct sigaction ign = {.sa_handler = SIG_IGN}, fwd = {.sa_handler = fdt_forward}, oint, oquit,
                     ohup, oterm;
    sigemptyset(&ign.sa_mask);
    sigemptyset(&fwd.sa_mask);
    fwd.sa_flags = SA_RESTART;
    sigaction(SIGINT, &ign, &oint);
    sigaction(SIGQUIT, &ign, &oquit);
    sigaction(SIGHUP, &ign, &ohup);
    sigaction(SIGTERM, &fwd, &oterm);
    fflush(NULL);
    int errpipe[2];
    if (pipe2(errpipe, O_CLOEXEC) != 0) {
        fdt_msg("pipe: %s", strerror(errno));
        return 1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        fdt_msg("fork: %s", strerror(errno));
        fdt_rm_dir(dir);
        return 1;
    }
    if (pid == 0) {
        sigaction(SIGINT, &oint, NULL);
        sigaction(SIGQUIT, &oquit, NULL);
        sigaction(SIGHUP, &ohup, NULL);
        sigaction(SIGTERM, &oterm, NULL);
        if (out != stderr && out != stdout)
            fclose(out);
        close(errpipe[0]);
        execvp(argv[first], argv + first);
        int err = errno;
        if (write(errpipe[1], &err, sizeof err) < 0)
            _exit(127);
        _exit(err == ENOENT ? 127 : 126);
    }
    fdt_child_pid = pid;
    close(errpipe[1]);
    int exec_err = 0;
    ssize_t got;
    while ((got = read(errpipe[0], &exec_err, sizeof exec_err)) < 0 && errno == EINTR)
        ;
    close(errpipe[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    fdt_child_pid = 0;
    if (got == (ssize_t)sizeof exec_err) {
        fdt_msg("cannot run %s: %s", argv[first], strerror(exec_err));
        fdt_rm_dir(dir);
        free(dir);
        return exec_err == ENOENT ? 127 : 126;
    }

    struct fdt_proc *procs;
    size_t nprocs, seen = fdt_collect(dir, pid, &procs, &nprocs);
    if (o.keep_dumps)
        fdt_keep_dumps(dir, o.keep_dumps);
    for (size_t i = 0; i < nprocs; i++) {
        /* The JSON "dump" names the kept file, or nothing once the directory is gone. */
        struct fdt_dump *d = procs[i].dump;
        const char *base = strrchr(d->file, '/');
        char *kept = o.keep_dumps ? fdt_xasprintf("%s%s", o.keep_dumps, base) : fdt_xstrdup("");
        free(d->file);
        d->file = kept;
    }
    fdt_rm_dir(dir);
    free(dir);
    bool failed = false;
    if (seen == 0) {
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
            fdt_msg("no dump was written: %s was killed by SIGKILL, which cannot be caught",
                    argv[first]);
        else
            fdt_msg("no dump was written: is %s static, setuid, or not using glibc? (see "
                    "README.md, Limits)",
                    argv[first]);
    } else if (nprocs == 0) {
        fprintf(out, "fdleak: no leaked descriptors (%zu %s checked)\n", seen,
                seen == 1 ? "process" : "processes");
    }
    if (fdt_render_all(&o, out, procs, nprocs))
        failed = true;
    if (fdt_close_output(&o, out))
        failed = true;
    fdt_free_procs(procs, nprocs);
    if (nprocs && o.error_exitcode > 0)
        return o.error_exitcode;
    if (failed && WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 1;
    return fdt_exit_like(status);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(fdt_usage_main, stderr);
        return FDT_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "run"))
        return fdt_cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "snapshot"))
        return fdt_cmd_snapshot(argc - 1, argv + 1);
    if (!strcmp(cmd, "report"))
        return fdt_cmd_report(argc - 1, argv + 1);
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        fputs(fdt_usage_main, stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("fdleak %s\n", FDT_VERSION);
        return 0;
    }
    fprintf(stderr,
            "fdleak: unknown command '%s' (expected run, snapshot or report; see "
            "'fdleak --help')\n",
            cmd);
    return FDT_EXIT_USAGE;
}
