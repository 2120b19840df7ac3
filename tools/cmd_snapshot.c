/* `fdleak snapshot PID`: asks a live process running under libfdleak.so for a dump now and
 * renders it. Run by root against any user's process, it trusts nothing the target or another
 * user controls: it sends the dump signal only if the process catches it (SigCgt) and does not
 * block it in every thread, so a wrong guess never kills; it creates nothing (the library makes
 * its own snapshot directory, as its own user); it reads the answer only from a directory owned
 * by the target's user (or root) that others cannot write to, only a regular file of that user,
 * opened without following links and without blocking, polled against a deadline. */
#include "contract.h"
#include "dumpfile.h"
#include "options.h"
#include "safefile.h"
#include "signame.h"
#include "snapshot.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A snapshot is a dump like any other; this only bounds what a process can make root read. */
#define FDT_SNAPSHOT_MAX_BYTES ((size_t)1 << 30)
/* how long a failed check is tried again before the process is refused */
#define FDT_SETTLE_MS 500

static const char fdt_usage_snapshot[] =
    "Usage: fdleak snapshot [OPTIONS] PID\n"
    "Asks PID, a live process running under libfdleak.so, for a dump now, waits for it and\n"
    "prints the report on stdout (or -o FILE). Run it again later to see what grew.\n"
    "Nothing is sent unless the process catches its dump signal (SigCgt in /proc/PID/status),\n"
    "so a process not under fdleak, or with another FDLEAK_SIGNAL, is never killed. The dump\n"
    "is read from the process's snapshot directory (FDLEAK_SNAPSHOT_DIR, else\n"
    "/tmp/fdleak-UID), which the library creates; it must belong to the process's user and\n"
    "not be writable by others. fdleak creates nothing there.\n"
    "\n"
    "Options:\n"
    "      --timeout=SEC        wait at most SEC seconds for the dump (default 5)\n";

static const struct fdt_cmd_spec fdt_snapshot_spec = {
    .name = "snapshot", .usage = fdt_usage_snapshot, .opts = FDT_OPTS_SNAPSHOT, .report_fd = 1};

/* Chooses t->view. A process whose main thread called pthread_exit lives on in its other
 * threads, but /proc/PID shows the main thread, a zombie: no memory map, no environment, no
 * current directory. A live thread's directory shows them. */
static void fdt_target_view(struct fdt_target *t)
{
    char path[96];
    snprintf(t->view, sizeof t->view, "/proc/%ld", t->pid);
    snprintf(path, sizeof path, "/proc/%ld/stat", t->pid);
    if (fdt_proc_state(path) != 'Z')
        return;
    snprintf(path, sizeof path, "/proc/%ld/task", t->pid);
    DIR *dh = opendir(path);
    struct dirent *e;
    while (dh && (e = readdir(dh))) {
        char *end;
        long tid = strtol(e->d_name, &end, 10);
        if (*end || tid <= 0 || tid == t->pid)
            continue;
        snprintf(path, sizeof path, "/proc/%ld/task/%ld/stat", t->pid, tid);
        char st = fdt_proc_state(path);
        if (st && st != 'Z' && st != 'X') {
            snprintf(t->view, sizeof t->view, "/proc/%ld/task/%ld", t->pid, tid);
            break;
        }
    }
    if (dh)
        closedir(dh);
}

/* Reads VIEW/environ and returns the value of name (malloc'd) or NULL. */
static char *fdt_proc_getenv(const char *view, const char *name)
{
    char path[96];
    snprintf(path, sizeof path, "%s/environ", view);
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

/* 1 if VIEW/maps shows libfdleak.so, 0 if not, -1 if unreadable. */
static int fdt_proc_has_shim(const char *view)
{
    char path[96], *line = NULL;
    size_t cap = 0;
    int found = 0;
    snprintf(path, sizeof path, "%s/maps", view);
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    while (!found && getline(&line, &cap, f) > 0)
        found = strstr(line, "/libfdleak.so") != NULL;
    free(line);
    fclose(f);
    return found;
}

/* Reads the Uid:, SigCgt:, SigIgn: and SigBlk: lines of a status file. -1 if unreadable. */
static int fdt_read_status(const char *path, uid_t *euid, uint64_t *cgt, uint64_t *ign,
                           uint64_t *blk)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    char line[256];
    unsigned long long v;
    unsigned r, e;
    int got = 0;
    while (fgets(line, sizeof line, f)) {
        if (euid && sscanf(line, "Uid: %u %u", &r, &e) == 2)
            *euid = e, got |= 1;
        else if (cgt && sscanf(line, "SigCgt: %llx", &v) == 1)
            *cgt = v, got |= 2;
        else if (ign && sscanf(line, "SigIgn: %llx", &v) == 1)
            *ign = v, got |= 4;
        else if (blk && sscanf(line, "SigBlk: %llx", &v) == 1)
            *blk = v, got |= 8;
    }
    fclose(f);
    return got ? 0 : -1;
}

/* Fills t from /proc/PID/status (dispositions are per process) and /proc/PID/task/ (masks
 * are per thread: a process-directed signal reaches any thread that does not block it). */
static int fdt_target_read(struct fdt_target *t)
{
    char path[96];
    snprintf(path, sizeof path, "%s/status", t->view);
    if (fdt_read_status(path, &t->euid, &t->caught, &t->ignored, NULL) != 0)
        return -1;
    t->blocked_all = ~(uint64_t)0;
    snprintf(path, sizeof path, "/proc/%ld/task", t->pid);
    DIR *dh = opendir(path);
    struct dirent *e;
    int threads = 0;
    while (dh && (e = readdir(dh))) {
        uint64_t blk;
        if (e->d_name[0] == '.')
            continue;
        /* an ended thread (the main one after pthread_exit) takes no signal: its mask
         * does not count */
        snprintf(path, sizeof path, "/proc/%ld/task/%.20s/stat", t->pid, e->d_name);
        char st = fdt_proc_state(path);
        if (st == 'Z' || st == 'X')
            continue;
        snprintf(path, sizeof path, "/proc/%ld/task/%.20s/status", t->pid, e->d_name);
        if (fdt_read_status(path, NULL, NULL, NULL, &blk) == 0)
            t->blocked_all &= blk, threads++;
    }
    if (dh)
        closedir(dh);
    if (!threads)
        t->blocked_all = 0;
    return 0;
}

/* A zombie still takes signal 0, so with a pidfd "alive" is "its pidfd is not readable yet"
 * (a poll cut short by a signal of ours says nothing either way: alive). */
bool fdt_target_alive(const struct fdt_target *t)
{
    if (t->pidfd >= 0) {
        struct pollfd p = {.fd = t->pidfd, .events = POLLIN};
        return poll(&p, 1, 0) != 1;
    }
    return kill((pid_t)t->pid, 0) == 0 || errno != ESRCH;
}

/* Queues sig with the snapshot request in its value, through the pidfd when there is one, so
 * the signal reaches the process that was checked and not one that took its pid since. */
static int fdt_target_send(const struct fdt_target *t, int sig, unsigned token)
{
    union sigval val = {.sival_int = (int)(FDC_SNAPSHOT_MAGIC | token)};
    if (t->pidfd < 0)
        return sigqueue((pid_t)t->pid, sig, val);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    si.si_signo = sig;
    si.si_code = SI_QUEUE;
    si.si_pid = getpid();
    si.si_uid = getuid();
    si.si_value = val;
    return pidfd_send_signal(t->pidfd, sig, &si, 0);
}

/* The pidfd turns readable when the process exits. */
bool fdt_target_wait_exit(const struct fdt_target *t, int ms)
{
    if (t->pidfd >= 0) {
        struct pollfd p = {.fd = t->pidfd, .events = POLLIN};
        return poll(&p, 1, ms) == 1;
    }
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
    return !fdt_target_alive(t);
}

static long fdt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* The signal the library chose, by its own reading of FDLEAK_SIGNAL (common/signame.c): a
 * value it refuses leaves it on the default. 0 = disabled. *env gets the raw value. */
static int fdt_target_signal(const struct fdt_target *t, char **env)
{
    int sig = fdc_sig_default(), parsed;
    *env = fdt_proc_getenv(t->view, "FDLEAK_SIGNAL");
    if (*env && fdc_sig_parse(*env, &parsed) == 0 &&
        (parsed == 0 || fdc_sig_usable_for_dump(parsed)))
        sig = parsed;
    return sig;
}

/* The directory the library writes snapshots to: FDLEAK_SNAPSHOT_DIR (relative to the
 * process's current directory, as the library opens it) or /tmp/fdleak-<euid>. */
static char *fdt_target_snapdir(const struct fdt_target *t)
{
    char *env = fdt_proc_getenv(t->view, "FDLEAK_SNAPSHOT_DIR"), *dir;
    if (!env || !*env)
        dir = fdt_xasprintf(FDC_SNAPSHOT_DIR_PREFIX "%u", (unsigned)t->euid);
    else if (env[0] != '/')
        dir = fdt_xasprintf("%s/cwd/%s", t->view, env);
    else
        dir = fdt_xstrdup(env);
    free(env);
    return dir;
}

static int fdt_why(char *why, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fdt_why(char *why, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, n, fmt, ap);
    va_end(ap);
    return 1;
}

/* Checks the target before anything is sent. 0, or 1 with the reason in why. */
static int fdt_snapshot_check(struct fdt_target *t, int *sig_out, char *why, size_t n)
{
    char signame[32], esc[256];
    fdt_target_view(t);
    int shim = fdt_proc_has_shim(t->view);
    if (shim < 0)
        return fdt_why(why, n, "cannot read /proc/%ld/maps: %s (run as its user or root)", t->pid,
                       strerror(errno));
    if (!shim) {
        return fdt_why(
            why, n,
            "process %ld is not running under fdleak (libfdleak.so is not loaded); nothing "
            "sent",
            t->pid);
    }
    char *sigenv;
    int sig = fdt_target_signal(t, &sigenv);
    if (sig == 0) {
        fdt_why(why, n, "process %ld has the dump signal disabled (FDLEAK_SIGNAL=%s); nothing sent",
                t->pid, fdt_escape(sigenv, esc, sizeof esc));
        free(sigenv);
        return 1;
    }
    free(sigenv);
    if (fdt_target_read(t) != 0) {
        return fdt_why(why, n, "cannot read /proc/%ld/status: %s; nothing sent", t->pid,
                       strerror(errno));
    }
    fdc_sig_name(sig, signame, sizeof signame);
    uint64_t bit = (uint64_t)1 << (sig - 1);
    if (t->ignored & bit) {
        return fdt_why(
            why, n,
            "process %ld ignores %s: the program set it to SIG_IGN, so no dump would come; "
            "nothing sent",
            t->pid, signame);
    }
    if (!(t->caught & bit)) {
        return fdt_why(why, n,
                       "process %ld does not catch %s: not running under fdleak's dump signal, or "
                       "FDLEAK_SIGNAL differs, or the program replaced the handler; nothing sent",
                       t->pid, signame);
    }
    if (t->blocked_all & bit) {
        return fdt_why(why, n,
                       "process %ld blocks %s in every thread: the dump would not come until it "
                       "unblocks it; nothing sent",
                       t->pid, signame);
    }
    *sig_out = sig;
    return 0;
}

/* Opens dir if it exists and is fit to read a snapshot from. Returns the fd; -1 with *missing
 * set if it does not exist (yet); -1 after one line ending with `then` if it is not fit. */
static int fdt_snapdir_open(const char *dir, uid_t owner, bool *missing, const char *then)
{
    struct stat st;
    char err[1024], esc[1024];
    *missing = lstat(dir, &st) != 0 && errno == ENOENT;
    if (*missing)
        return -1;
    int fd = fdt_open_private_dir(dir, owner, err, sizeof err);
    if (fd < 0)
        fdt_msg("snapshot directory %s%s", fdt_escape(err, esc, sizeof esc), then);
    return fd;
}

int fdt_target_open(struct fdt_target *t, long pid)
{
    memset(t, 0, sizeof *t);
    t->pid = pid;
    t->pidfd = pidfd_open((pid_t)pid, 0);
    if (t->pidfd < 0 && errno == ESRCH) {
        fdt_msg("no process %ld", pid);
        return 1;
    }
    return 0;
}

void fdt_target_close(struct fdt_target *t)
{
    if (t->pidfd >= 0)
        close(t->pidfd);
    t->pidfd = -1;
}

struct fdt_dump *fdt_snapshot_take(struct fdt_target *t, long timeout_s, bool *exited)
{
    long pid = t->pid;
    int sig = 0;
    *exited = false;
    if (!fdt_target_alive(t)) {
        fdt_msg("process %ld exited; nothing sent", pid);
        *exited = true;
        return NULL;
    }
    /* A process fails a check for a moment while it starts (no handler yet), while it exits
     * (its maps go before its pidfd turns readable) and in the library's short sections with
     * every signal blocked: a failed check is tried again for a while, and a process that ends
     * meanwhile is said to have exited, which is what happened. */
    char why[1024];
    long settle = fdt_now_ms() + FDT_SETTLE_MS;
    while (fdt_snapshot_check(t, &sig, why, sizeof why)) {
        long left = settle - fdt_now_ms();
        if (fdt_target_wait_exit(t, left <= 0 ? 0 : left < 20 ? (int)left : 20)) {
            fdt_msg("process %ld exited; nothing sent", pid);
            *exited = true;
            return NULL;
        }
        if (left <= 0) {
            fdt_msg("%s", why);
            return NULL;
        }
    }
    char *dir = fdt_target_snapdir(t), esc[1024], signame[32];
    fdt_escape(dir, esc, sizeof esc);
    fdc_sig_name(sig, signame, sizeof signame);
    bool missing;
    int dfd = fdt_snapdir_open(dir, t->euid, &missing, "; nothing sent");
    if (dfd < 0 && !missing) {
        free(dir);
        return NULL;
    }
    /* /proc was read about the process the pidfd pins only if it is still alive now. */
    if (!fdt_target_alive(t)) {
        fdt_msg("process %ld exited; nothing sent", pid);
        *exited = true;
        if (dfd >= 0)
            close(dfd);
        free(dir);
        return NULL;
    }
    unsigned short token;
    if (getrandom(&token, sizeof token, 0) != sizeof token)
        token = (unsigned short)(time(NULL) ^ getpid());
    char name[96];
    snprintf(name, sizeof name, FDC_SNAPSHOT_FILE_PREFIX "%ld.%u" FDC_SNAPSHOT_FILE_SUFFIX, pid,
             (unsigned)token);
    if (fdt_target_send(t, sig, token) != 0) {
        int e = errno;
        if (e == ESRCH || fdt_target_wait_exit(t, 0)) {
            fdt_msg("process %ld exited; nothing sent", pid);
            *exited = true;
        } else {
            fdt_msg("cannot send %s to process %ld: %s", signame, pid, strerror(e));
        }
        if (dfd >= 0)
            close(dfd);
        free(dir);
        return NULL;
    }
    /* Poll without ever blocking: fstatat first (a FIFO or a planted file is seen, never
     * opened for reading), then the checked non-blocking open of safefile.c. */
    long deadline = fdt_now_ms() + timeout_s * 1000;
    struct fdt_dump *d = NULL;
    char err[2048];
    for (;;) {
        if (dfd < 0) {
            dfd = fdt_snapdir_open(dir, t->euid, &missing, "");
            if (dfd < 0 && !missing)
                break;
        }
        struct stat st;
        if (dfd >= 0 && fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
            char *shown = fdt_xasprintf("%s/%s", dir, name);
            d = fdt_dump_load_at(dfd, name, shown, t->euid, FDT_SNAPSHOT_MAX_BYTES, &st, err,
                                 sizeof err);
            free(shown);
            struct stat now;
            /* only the file that was read, in the target's own directory */
            if (st.st_ino && fstatat(dfd, name, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
                now.st_ino == st.st_ino && now.st_dev == st.st_dev)
                unlinkat(dfd, name, 0);
            if (!d)
                fdt_msg("%s", fdt_escape(err, esc, sizeof esc));
            break;
        }
        long left = deadline - fdt_now_ms();
        if (left <= 0) {
            if (dfd < 0)
                fdt_msg("no dump from %ld within %ld s: its snapshot directory %s does not "
                        "exist (the library creates it, as the process's user, when asked for "
                        "a snapshot; the process's stderr says why it could not); fdleak "
                        "created nothing",
                        pid, timeout_s, esc);
            else
                fdt_msg("no dump from %ld within %ld s (is it stopped, or busy in a dump? it "
                        "catches %s)",
                        pid, timeout_s, signame);
            break;
        }
        if (fdt_target_wait_exit(t, left < 10 ? (int)left : 10)) {
            fdt_msg("process %ld exited before writing its dump", pid);
            *exited = true;
            break;
        }
    }
    if (dfd >= 0)
        close(dfd);
    free(dir);
    return d;
}

int fdt_cmd_snapshot(int argc, char **argv)
{
    struct fdt_opts o;
    int first, rc = fdt_opts_parse(&fdt_snapshot_spec, argc, argv, &o, &first);
    long pid;
    if (rc)
        return rc > 0 ? 0 : FDT_EXIT_USAGE;
    if (fdt_opts_pid("snapshot", argc, argv, first, &pid))
        return FDT_EXIT_USAGE;
    struct fdt_target t;
    if (fdt_target_open(&t, pid))
        return 1;
    bool exited;
    struct fdt_dump *d = fdt_snapshot_take(&t, o.timeout, &exited);
    fdt_target_close(&t);
    if (!d)
        return 1;
    struct fdt_proc p;
    fdt_proc_init(&p, d);
    fdt_supp_apply(o.supp, &p);
    FILE *out = fdt_open_output(&o, stdout);
    rc = 0;
    if (!out || fdt_render_all(&o, out, &p, NULL, 1))
        rc = 1;
    if (out && fdt_close_output(&o, out))
        rc = 1;
    bool leaked = p.leaked > 0 || p.dump->nmisuse > 0;
    fdt_proc_fini(&p);
    if (rc)
        return rc;
    return leaked && o.error_exitcode > 0 ? o.error_exitcode : 0;
}
