/* `fdleak run -- CMD`: runs CMD under libfdleak.so with a private run directory, then reports
 * what every process of it still held at its end, and names every process that could not be
 * checked. The run directory is mode 01733 so that processes which change their user (a daemon
 * dropping privileges, a child run as another user) can still write their dumps; since others
 * can create names in it too, everything in it is read as untrusted: only regular files with the
 * expected names, through safefile.c, size-capped, with their owner shown when it is not the
 * invoking user. --keep-dumps copies them into a directory of the invoking user without ever
 * following a link. */
#include "contract.h"
#include "dumpfile.h"
#include "options.h"
#include "safefile.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Bounds what a planted file can make the command read; real dumps are far smaller. */
#define FDT_RUN_DUMP_MAX ((size_t)1 << 30)
#define FDT_RUN_MARKER_MAX 4096

static const char fdt_usage_run[] =
    "Usage: fdleak run [OPTIONS] [--] CMD [ARGS...]\n"
    "Runs CMD under libfdleak.so, following its children. When CMD ends, prints one report per\n"
    "process that still held leaked descriptors, to stderr (or -o FILE), and exits with CMD's\n"
    "status (or N from --error-exitcode=N when a leak or misuse was found, or when a process could "
    "not\n"
    "be checked). Ctrl-C reaches CMD; the report is still printed. Dumps go to a run\n"
    "directory of mode 01733, so processes that change their user can write there too.\n"
    "\n"
    "Options:\n"
    "      --depth=N            C frames captured per acquisition, 1 to 128 (default 16)\n"
    "      --signal=SIG         dump-on-demand signal: number, name (USR1, RTMAX-3) or none\n"
    "      --threshold=N|P%     also dump when N live descriptors (or P% of the limit) is "
    "reached\n"
    "      --keep-dumps=DIR     keep the raw dumps in DIR (for 'fdleak report'); DIR is created\n"
    "                           0700 if missing, and must not be a symbolic link\n"
    "      --peak               also dump at each new peak of live descriptors, from 64 and\n"
    "                           doubling (FDLEAK_PEAK=1)\n"
    "      --misuse=MODE        double close, bad fd, use after close, closing a FILE*'s or\n"
    "                           DIR*'s fd: report (default), abort at once, or off\n"
    "                           (FDLEAK_MISUSE)\n";

static const struct fdt_cmd_spec fdt_run_spec = {.name = "run",
                                                 .usage = fdt_usage_run,
                                                 .opts = FDT_OPTS_RUN | FDT_OPTS_PEAK,
                                                 .report_fd = 2,
                                                 .stop_at_operand = 1};

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

/* ---------------------------------------------------------------------- the run directory */

struct fdt_rundir {
    char *path;
    int fd;
};

/* mkdtemp, then 01733: anyone may create a name (the library, as whatever user a process has
 * become), nobody else may list, rename or delete another's. */
static int fdt_rundir_create(struct fdt_rundir *r)
{
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    r->path = fdt_xasprintf("%s/fdleak-run.XXXXXX", tmp);
    if (!mkdtemp(r->path)) {
        fdt_msg("cannot create a directory in %s: %s", tmp, strerror(errno));
        return -1;
    }
    r->fd = open(r->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (r->fd < 0 || fchmod(r->fd, 01733) != 0) {
        fdt_msg("%s: %s", r->path, strerror(errno));
        if (r->fd >= 0)
            close(r->fd);
        rmdir(r->path);
        return -1;
    }
    return 0;
}

/* Removes what is in the directory, by name relative to it (unlinkat never follows a link),
 * and the directory. A directory another user made in it is removed only if empty. */
static void fdt_rundir_remove(struct fdt_rundir *r)
{
    int fd = dup(r->fd);
    DIR *dh = fd >= 0 ? fdopendir(fd) : NULL;
    if (dh) /* a dup shares the offset, left at the end by an earlier listing */
        rewinddir(dh);
    struct dirent *e;
    while (dh && (e = readdir(dh))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (unlinkat(r->fd, e->d_name, 0) != 0 && errno == EISDIR)
            unlinkat(r->fd, e->d_name, AT_REMOVEDIR);
    }
    if (dh)
        closedir(dh);
    else if (fd >= 0)
        close(fd);
    if (rmdir(r->path) != 0)
        fdt_msg("%s: %s; left in place", r->path, strerror(errno));
    close(r->fd);
    free(r->path);
}

/* Opens (creating it 0700 if missing) the --keep-dumps directory, before the program runs:
 * the last component must be a real directory, never a link, owned by the invoking user.
 * Returns the fd or -1 after one line. */
static int fdt_keepdir_open(const char *keep)
{
    char *copy = fdt_xstrdup(keep), *copy2 = fdt_xstrdup(keep);
    char *parent = dirname(copy), *base = basename(copy2);
    int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd = -1;
    const char *why = NULL;
    struct stat st;
    if (pfd < 0 || (mkdirat(pfd, base, 0700) != 0 && errno != EEXIST))
        why = strerror(errno);
    else if ((fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
        why = fdt_is_link(pfd, base) ? "a symbolic link (not followed)" : strerror(errno);
    else if (fstat(fd, &st) != 0)
        why = strerror(errno);
    else if (st.st_uid != geteuid())
        why = "not owned by you";
    if (why) {
        fdt_msg("--keep-dumps=%s: %s; nothing run, nothing written there", keep, why);
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    if (pfd >= 0)
        close(pfd);
    free(copy);
    free(copy2);
    return fd;
}

/* Copies dirfd/name (already checked by the caller's load) into keepfd: O_EXCL, O_NOFOLLOW,
 * 0600, so nothing that exists there, link or file, is written through. 0 or -1. */
static int fdt_keep_copy(int dirfd, const char *name, int keepfd, const char *keep)
{
    char err[1024], *buf;
    size_t len;
    struct stat st;
    int in = fdt_open_regular(dirfd, name, FDT_ANY_OWNER, &st, err, sizeof err);
    if (in < 0)
        return -1;
    int rc = fdt_read_all(in, name, FDT_RUN_DUMP_MAX, &buf, &len, err, sizeof err);
    close(in);
    if (rc)
        return -1;
    int out = openat(keepfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    size_t done = 0;
    while (out >= 0 && done < len) {
        ssize_t n = write(out, buf + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    if (out < 0 || done < len)
        fdt_msg("--keep-dumps: %s/%s: %s; not kept", keep, name,
                out < 0 && errno == EEXIST ? "exists (not overwritten)" : strerror(errno));
    if (out >= 0 && close(out) != 0)
        done = 0;
    free(buf);
    return out >= 0 && done == len ? 0 : -1;
}

/* ------------------------------------------------------------------------------ collecting */

/* A name the library writes: fdleak.<pid>.<seq>.json (marker = false) or started.<pid>. */
struct fdt_entry {
    long pid, seq;
    bool marker;
    char *name;
};

static bool fdt_parse_name(const char *name, struct fdt_entry *e)
{
    char *end;
    const char *p;
    size_t lp = strlen(FDC_RUN_FILE_PREFIX), ls = strlen(FDC_RUN_STARTED_PREFIX);
    if (!strncmp(name, FDC_RUN_STARTED_PREFIX, ls)) {
        p = name + ls;
        e->marker = true;
        e->seq = 0;
        if (*p < '1' || *p > '9')
            return false;
        e->pid = strtol(p, &end, 10);
        return !*end;
    }
    if (strncmp(name, FDC_RUN_FILE_PREFIX, lp))
        return false;
    p = name + lp;
    e->marker = false;
    if (*p < '1' || *p > '9')
        return false;
    e->pid = strtol(p, &end, 10);
    if (*end != '.' || end[1] < '0' || end[1] > '9')
        return false;
    e->seq = strtol(end + 1, &end, 10);
    return !strcmp(end, ".json");
}

/* ---------------------------------------------------------------- descendants still running */

/* How long `fdleak run` waits, once the program has ended, for the processes it started that
 * are still running (a multiprocessing resource tracker reads EOF and exits just after its
 * parent): their exit dumps would otherwise come after the run directory is gone. Bounded: a
 * daemon the program left behind is named as unchecked, not waited for. */
#define FDT_DESCENDANT_WAIT_MS 2000
#define FDT_DESCENDANT_POLL_MS 10

/* Whether a process is running: it exists and is not a zombie (a zombie has written its exit
 * dump, if any). */
static bool fdt_running(long pid)
{
    if (pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno != EPERM)) /* EPERM: another user's */
        return false;
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    char st = fdt_proc_state(path);
    return st && st != 'Z' && st != 'X';
}

/* Reaps what exited, and tells whether a process we started still runs. We are the
 * subreaper of the program's processes: each living descendant is our child or descends from
 * one that lives, so living children mean living descendants (one that has not even written
 * its started marker yet, between its parent's fork and its exec, included). */
static bool fdt_children_running(void)
{
    pid_t r;
    while ((r = waitpid(-1, NULL, WNOHANG)) > 0)
        ;
    return r == 0;
}

/* Waits, at most FDT_DESCENDANT_WAIT_MS, until no process the program started runs. */
static void fdt_wait_descendants(void)
{
    for (int waited = 0; fdt_children_running() && waited < FDT_DESCENDANT_WAIT_MS;
         waited += FDT_DESCENDANT_POLL_MS) {
        struct timespec ts = {0, FDT_DESCENDANT_POLL_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static int fdt_cmp_entry(const void *a, const void *b)
{
    const struct fdt_entry *x = a, *y = b;
    if (x->pid != y->pid)
        return x->pid < y->pid ? -1 : 1;
    if (x->marker != y->marker)
        return x->marker ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static bool fdt_is_final(const struct fdt_dump *d)
{
    return !strcmp(d->trigger, "exit") || !strcmp(d->trigger, "fatal-signal");
}

/* What the run directory held, one result per process. */
struct fdt_collected {
    struct fdt_proc
        *procs;   /* processes with leaks or unknown-origin fds, the command's own process first */
    char **notes; /* per proc: its dump's owner when not the invoking user, or NULL */
    size_t nprocs;
    size_t nleaking;   /* procs whose final dump leaked or misused a descriptor */
    size_t checked;    /* processes with a complete dump */
    size_t unchecked;  /* processes that started (marker) or left a dump, but no complete one */
    size_t suppressed; /* descriptors left out by suppressions, all processes */
    struct fdt_supp *supp;
};

/* The executable named in started.<pid>, escaped, or "?" (malloc'd). */
static char *fdt_marker_exe(int dirfd, const char *name)
{
    char err[256], *buf, esc[PATH_MAX];
    size_t len;
    struct stat st;
    int fd = fdt_open_regular(dirfd, name, FDT_ANY_OWNER, &st, err, sizeof err);
    if (fd < 0)
        return fdt_xstrdup("?");
    int rc = fdt_read_all(fd, name, FDT_RUN_MARKER_MAX, &buf, &len, err, sizeof err);
    close(fd);
    if (rc)
        return fdt_xstrdup("?");
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == 0))
        buf[--len] = 0;
    char *r = fdt_xstrdup(len ? fdt_escape(buf, esc, sizeof esc) : "?");
    free(buf);
    return r;
}

static char *fdt_owner_note(long pid, uid_t uid)
{
    if (uid == getuid())
        return NULL;
    struct passwd *pw = getpwuid(uid);
    return pw ? fdt_xasprintf("fdleak: process %ld wrote its dump as uid %u (%s)", pid,
                              (unsigned)uid, pw->pw_name)
              : fdt_xasprintf("fdleak: process %ld wrote its dump as uid %u", pid, (unsigned)uid);
}

/* Reads one process's entries e[0..n) (marker first, then dumps by seq): picks its last
 * exit/fatal-signal dump, else its last dump, and adds it to c if it leaked. */
static void fdt_collect_one(struct fdt_rundir *r, int keepfd, const char *keep, struct fdt_entry *e,
                            size_t n, struct fdt_collected *c)
{
    long pid = e[0].pid;
    struct fdt_dump **dumps = fdt_xcalloc(n, sizeof *dumps);
    uid_t *owner = fdt_xcalloc(n, sizeof *owner);
    size_t nd = 0, nbad = 0;
    bool marker = false;
    char err[2048], esc[2048];
    for (size_t i = 0; i < n; i++) {
        if (e[i].marker) {
            marker = true;
            continue;
        }
        bool kept = keepfd >= 0 && fdt_keep_copy(r->fd, e[i].name, keepfd, keep) == 0;
        char *shown = kept ? fdt_xasprintf("%s/%s", keep, e[i].name)
                           : fdt_xasprintf("%s/%s", r->path, e[i].name);
        struct stat st;
        struct fdt_dump *d = fdt_dump_load_at(r->fd, e[i].name, shown, FDT_ANY_OWNER,
                                              FDT_RUN_DUMP_MAX, &st, err, sizeof err);
        if (!d && !st.st_ino) {
            fdt_msg("%s; skipped", fdt_escape(err, esc, sizeof esc));
            nbad++;
        } else if (!d) {
            fdt_msg("incomplete dump of process %ld: %s%s", pid, fdt_escape(err, esc, sizeof esc),
                    kept ? "" : " (removed at the end; --keep-dumps=DIR keeps it)");
            nbad++;
        } else if (d->pid != pid) {
            fdt_msg("%s: written by process %ld, not %ld as its name says; skipped",
                    fdt_escape(shown, esc, sizeof esc), d->pid, pid);
            fdt_dump_free(d);
            nbad++;
        } else {
            if (!kept) { /* the JSON "dump" names the kept file, or nothing once it is gone */
                free(d->file);
                d->file = fdt_xstrdup("");
            }
            owner[nd] = st.st_uid;
            dumps[nd++] = d;
        }
        free(shown);
    }
    if (nd == 0) {
        if (marker || nbad) {
            char *exe = marker ? fdt_marker_exe(r->fd, e[0].name) : NULL;
            char *who = exe ? fdt_xasprintf("process %ld (%s)", pid, exe)
                            : fdt_xasprintf("process %ld", pid);
            if (nbad)
                fdt_msg("%s could not be checked: it left no complete dump", who);
            else if (fdt_running(pid))
                fdt_msg("%s could not be checked: still running %d s after the program ended "
                        "(fdleak snapshot %ld asks it for a dump now)",
                        who, FDT_DESCENDANT_WAIT_MS / 1000, pid);
            else
                fdt_msg("%s could not be checked: it wrote no dump (killed by SIGKILL, ended by "
                        "a raw exit syscall, or could not write to the run directory: the "
                        "library says why on stderr)",
                        who);
            free(who);
            free(exe);
            c->unchecked++;
        }
        free(dumps);
        free(owner);
        return;
    }
    c->checked++;
    size_t last = nd - 1;
    for (size_t k = 0; k < nd; k++)
        if (fdt_is_final(dumps[k]))
            last = k;
    struct fdt_proc *p = &c->procs[c->nprocs];
    fdt_proc_init(p, dumps[last]);
    fdt_supp_apply(c->supp, p);
    c->suppressed += p->nsuppressed;
    p->earlier = fdt_xcalloc(nd, sizeof *p->earlier);
    /* The earlier dump (peak, threshold, emfile, signal) that held the most leaked
     * descriptors, if more than the final one: handles closed by an atexit hook after piling
     * up leave a clean final dump, and this one is all that shows the pile. */
    size_t best = nd, best_leaked = p->leaked;
    for (size_t k = 0; k < nd; k++) {
        if (k == last || dumps[k]->seq > dumps[last]->seq || fdt_is_final(dumps[k]))
            continue;
        size_t leaked = 0;
        for (size_t i = 0; i < dumps[k]->nfds; i++)
            leaked += dumps[k]->fds[i].origin == FDC_ORIGIN_TRACKED;
        if (leaked > best_leaked)
            best = k, best_leaked = leaked;
    }
    for (size_t k = 0; k < nd; k++) {
        if (k == last || k == best)
            continue;
        if (p->leaked && dumps[k]->seq < dumps[last]->seq && !fdt_is_final(dumps[k]))
            p->earlier[p->nearlier++] = dumps[k]; /* named in the summary */
        else
            fdt_dump_free(dumps[k]);
    }
    struct fdt_proc shown = {0}; /* filled when an earlier dump is shown */
    char *note = NULL;
    if (best < nd) {
        fdt_proc_init(&shown, dumps[best]);
        shown.shown_as_earlier = true;
        if (p->leaked) /* named in the final report's summary too */
            p->earlier[p->nearlier++] = dumps[best];
        note = fdt_xasprintf("fdleak: process %ld: its earlier dump %ld (trigger %s) held %zu "
                             "leaked descriptors, more than its final %s (%zu); that dump's "
                             "groups, marked earlier:",
                             pid, dumps[best]->seq, dumps[best]->trigger, best_leaked,
                             fdt_is_final(dumps[last]) ? "dump" : "one", p->leaked);
    }
    /* Descriptors of unknown origin are always listed (README), though they are no leak:
     * such a process is shown, and does not count for --error-exitcode. Unknowns on 0-2
     * alone (stdio a program set up behind the wrappers) do not make a process worth
     * showing. */
    bool unknown = false;
    for (size_t i = 0; i < p->nunknown && !unknown; i++)
        unknown = p->dump->fds[p->unknown[i]].fd > 2;
    if (p->leaked || p->dump->nmisuse || p->dump->stats.misuse_dropped) {
        c->notes[c->nprocs++] = fdt_owner_note(pid, owner[last]);
        c->nleaking++;
    } else if (unknown) {
        c->notes[c->nprocs++] = fdt_owner_note(pid, owner[last]);
    } else {
        fdt_proc_fini(p);
    }
    if (note) {
        c->procs[c->nprocs] = shown;
        c->notes[c->nprocs++] = note;
    }
    free(dumps);
    free(owner);
}

/* Reads the run directory: every process's final dump, and the processes that left none. */
static void fdt_collect(struct fdt_rundir *r, long child, int keepfd, const char *keep,
                        struct fdt_supp *supp, struct fdt_collected *c)
{
    int fd = dup(r->fd);
    DIR *dh = fd >= 0 ? fdopendir(fd) : NULL;
    if (dh) /* a dup shares the offset, left at the end by an earlier listing */
        rewinddir(dh);
    struct dirent *de;
    size_t n = 0, cap = 0;
    struct fdt_entry *e = NULL, one;
    while (dh && (de = readdir(dh))) {
        if (!fdt_parse_name(de->d_name, &one))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            e = fdt_xrealloc(e, cap * sizeof *e);
        }
        one.name = fdt_xstrdup(de->d_name);
        e[n++] = one;
    }
    if (dh)
        closedir(dh);
    else if (fd >= 0)
        close(fd);
    if (n)
        qsort(e, n, sizeof *e, fdt_cmp_entry);
    memset(c, 0, sizeof *c);
    c->supp = supp;
    c->procs = fdt_xcalloc(n, sizeof *c->procs);
    c->notes = fdt_xcalloc(n, sizeof *c->notes);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && e[j].pid == e[i].pid)
            j++;
        fdt_collect_one(r, keepfd, keep, e + i, j - i, c);
        i = j;
    }
    for (size_t i = 0; i < n; i++)
        free(e[i].name);
    free(e);
    /* The command's own process first (its final report, then an earlier one shown), the
     * others in their order; earlier dumps are freed by fdt_collected_free. */
    size_t front = 0;
    for (size_t i = 0; i < c->nprocs; i++)
        if (c->procs[i].dump->pid == child) {
            struct fdt_proc t = c->procs[i];
            char *note = c->notes[i];
            memmove(&c->procs[front + 1], &c->procs[front], (i - front) * sizeof t);
            memmove(&c->notes[front + 1], &c->notes[front], (i - front) * sizeof note);
            c->procs[front] = t;
            c->notes[front++] = note;
        }
}

static void fdt_collected_free(struct fdt_collected *c)
{
    for (size_t i = 0; i < c->nprocs; i++)
        for (size_t k = 0; k < c->procs[i].nearlier; k++) {
            const struct fdt_dump *d = c->procs[i].earlier[k];
            bool shown = false; /* an earlier dump shown is its own proc's to free */
            for (size_t j = 0; j < c->nprocs; j++)
                shown |= c->procs[j].dump == d;
            if (!shown)
                fdt_dump_free((struct fdt_dump *)d);
        }
    for (size_t i = 0; i < c->nprocs; i++) {
        fdt_proc_fini(&c->procs[i]);
        free(c->notes[i]);
    }
    free(c->procs);
    free(c->notes);
}

/* ------------------------------------------------------------------------------ the child */

static volatile sig_atomic_t fdt_child_pid;

static void fdt_forward(int sig)
{
    if (fdt_child_pid > 0)
        kill(fdt_child_pid, sig);
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

/* Sets the child's environment: the library first in LD_PRELOAD (after a sanitizer runtime,
 * which must come first), dumps and start markers into the run directory, the options. */
static void fdt_child_env(const char *lib, const struct fdt_rundir *r, const struct fdt_opts *o)
{
    const char *old = getenv("LD_PRELOAD");
    char *preload = !old || !*old            ? fdt_xstrdup(lib)
                    : strstr(old, "libasan") ? fdt_xasprintf("%s:%s", old, lib)
                                             : fdt_xasprintf("%s:%s", lib, old);
    char *output = fdt_xasprintf("%s/" FDC_RUN_FILE_PREFIX "%%p.%%n.json", r->path);
    setenv("LD_PRELOAD", preload, 1);
    setenv("FDLEAK_OUTPUT", output, 1);
    setenv(FDC_RUN_DIR_ENV, r->path, 1);
    if (o->depth)
        setenv("FDLEAK_DEPTH", o->depth, 1);
    if (o->signal)
        setenv("FDLEAK_SIGNAL", o->signal, 1);
    if (o->threshold)
        setenv("FDLEAK_THRESHOLD", o->threshold, 1);
    if (o->peak)
        setenv("FDLEAK_PEAK", "1", 1);
    if (o->misuse)
        setenv("FDLEAK_MISUSE", o->misuse, 1);
    free(preload);
    free(output);
}

/* Runs argv to its end with Ctrl-C and friends going to it alone. Returns its wait status, or
 * -1 (errno-style code in *exec_err) if it could not be started. */
static int fdt_run_child(char **argv, FILE *out, int *exec_err, pid_t *child)
{
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
    /* The program's orphaned processes become ours, to be reaped while we wait for them. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    int errpipe[2];
    *exec_err = 0;
    if (pipe2(errpipe, O_CLOEXEC) != 0) {
        fdt_msg("pipe: %s", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        fdt_msg("fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        sigaction(SIGINT, &oint, NULL);
        sigaction(SIGQUIT, &oquit, NULL);
        sigaction(SIGHUP, &ohup, NULL);
        sigaction(SIGTERM, &oterm, NULL);
        if (out != stderr && out != stdout)
            fclose(out);
        close(errpipe[0]);
        execvp(argv[0], argv);
        int err = errno;
        if (write(errpipe[1], &err, sizeof err) < 0)
            _exit(127);
        _exit(err == ENOENT ? 127 : 126);
    }
    fdt_child_pid = pid;
    *child = pid;
    close(errpipe[1]);
    ssize_t got;
    while ((got = read(errpipe[0], exec_err, sizeof *exec_err)) < 0 && errno == EINTR)
        ;
    close(errpipe[0]);
    /* As the subreaper we also reap the program's orphans as they end (as init would; a
     * service starting helpers for its whole life must not pile up zombies under us). */
    int status = 0, st;
    for (;;) {
        pid_t r = waitpid(-1, &st, 0);
        if (r == pid) {
            status = st;
            break;
        }
        if (r < 0 && errno != EINTR)
            break;
    }
    fdt_child_pid = 0;
    if (got != (ssize_t)sizeof *exec_err)
        *exec_err = 0;
    return *exec_err ? -1 : status;
}

int fdt_cmd_run(int argc, char **argv)
{
    struct fdt_opts o;
    int first, rc = fdt_opts_parse(&fdt_run_spec, argc, argv, &o, &first);
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
    /* A bad -o or --keep-dumps fails before the program runs. */
    int keepfd = o.keep_dumps ? fdt_keepdir_open(o.keep_dumps) : -1;
    FILE *out = o.keep_dumps && keepfd < 0 ? NULL : fdt_open_output(&o, stderr);
    struct fdt_rundir rd;
    if (!out || fdt_rundir_create(&rd) != 0) {
        free(lib);
        return 1;
    }
    fdt_child_env(lib, &rd, &o);
    free(lib);
    int exec_err;
    pid_t pid = 0;
    int status = fdt_run_child(argv + first, out, &exec_err, &pid);
    if (status < 0) {
        if (exec_err)
            fdt_msg("cannot run %s: %s", argv[first], strerror(exec_err));
        fdt_rundir_remove(&rd);
        return exec_err == ENOENT ? 127 : exec_err ? 126 : 1;
    }

    fdt_wait_descendants();
    struct fdt_collected c;
    fdt_collect(&rd, pid, keepfd, o.keep_dumps, o.supp, &c);
    if (keepfd >= 0)
        close(keepfd);
    fdt_rundir_remove(&rd);
    bool failed = false;
    if (c.checked == 0 && c.unchecked == 0) {
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
            fdt_msg("no dump was written: %s was killed by SIGKILL, which cannot be caught",
                    argv[first]);
        else
            fdt_msg("no dump was written: is %s static, setuid, or not using glibc? (see "
                    "README.md, Limits)",
                    argv[first]);
    } else if (o.folded_text) {
        /* folded output stays parseable: nothing but stack lines */
    } else if (c.nleaking == 0 && c.checked && !c.suppressed) {
        fprintf(out, "fdleak: no leaked descriptors (%zu %s checked)\n", c.checked,
                c.checked == 1 ? "process" : "processes");
    } else if (c.nprocs == 0 && c.checked) {
        fprintf(out, "fdleak: no leaked descriptors (%zu %s checked; %zu %s suppressed)\n",
                c.checked, c.checked == 1 ? "process" : "processes", c.suppressed,
                c.suppressed == 1 ? "fd" : "fds");
    }
    if (fdt_render_all(&o, out, c.procs, (const char *const *)c.notes, c.nprocs))
        failed = true;
    if (fdt_close_output(&o, out))
        failed = true;
    /* A run that could not check a process is not a clean run: --error-exitcode fails it. */
    bool bad = c.nleaking || c.unchecked || !c.checked;
    fdt_collected_free(&c);
    if (bad && o.error_exitcode > 0)
        return o.error_exitcode;
    if (failed && WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 1;
    return fdt_exit_like(status);
}
