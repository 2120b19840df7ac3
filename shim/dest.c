/* Every descriptor a dump opens, and where the dump goes: the FDLEAK_OUTPUT template expanded
 * and created exclusively, the snapshot directory for `fdleak snapshot`, the /proc files a dump
 * reads, and the run directory's start markers (FDLEAK_RUN_DIR, common/contract.h). The
 * library holds no descriptor while the program runs: each is opened when needed and closed
 * before the dump returns. At the fd limit an open raises the soft RLIMIT_NOFILE by a few for
 * itself, when the hard limit allows, and restores it at once; it never borrows or closes a
 * descriptor of the program's. Raw syscalls only: this runs in signal handlers. */
#include "dump.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* How far an open at the fd limit raises the soft limit: a dump holds two descriptors at most
 * (the snapshot directory and its file). */
#define LIMIT_HEADROOM 4
/* Name collisions tried by create_excl: path, path-1 ... path-99. */
#define CREATE_TRIES 100

static char out_path[1200], tmp_path[1300];
static int snap_dirfd = -1;
static char run_dir[1024]; /* FDLEAK_RUN_DIR, read once at start-up; "" = not in run mode */
static uid_t start_euid;

static int sys_openat(int dirfd, const char *path, int flags, int mode)
{
    return (int)syscall(SYS_openat, dirfd, path, flags | O_CLOEXEC, mode);
}

int fdl_dest_openat(int dirfd, const char *path, int flags, int mode)
{
    int fd = sys_openat(dirfd, path, flags, mode);
    if (fd >= 0 || errno != EMFILE)
        return fd;
    struct rlimit rl, more;
    if (syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        more = rl;
        more.rlim_cur =
            rl.rlim_max - rl.rlim_cur > LIMIT_HEADROOM ? rl.rlim_cur + LIMIT_HEADROOM : rl.rlim_max;
        if (syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &more, NULL) == 0) {
            fd = sys_openat(dirfd, path, flags, mode);
            int e = errno;
            syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &rl, NULL);
            errno = e;
        }
    }
    return fd;
}

const char *fdl_dest_strerror(int e)
{
    switch (e) {
    case EACCES:
        return "Permission denied";
    case EPERM:
        return "Operation not permitted";
    case ENOENT:
        return "No such file or directory";
    case ENOTDIR:
        return "Not a directory";
    case EROFS:
        return "Read-only file system";
    case ENOSPC:
        return "No space left on device";
    case EDQUOT:
        return "Disk quota exceeded";
    case EEXIST:
        return "File exists";
    case ELOOP:
        return "Symbolic link in the way";
    case EMFILE:
        return "Too many open files";
    case ENFILE:
        return "Too many open files in system";
    case EIO:
        return "Input/output error";
    case EPIPE:
        return "Broken pipe";
    default:
        return "error";
    }
}

size_t fdl_dest_read_proc(const char *path, char *buf, size_t cap, void (*line)(const char *))
{
    int fd = fdl_dest_openat(AT_FDCWD, path, O_RDONLY, 0);
    if (fd < 0)
        return 0;
    size_t have = 0, total = 0;
    for (;;) {
        long r = syscall(SYS_read, fd, buf + have, cap - have - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        have += (size_t)r;
        total += (size_t)r;
        if (!line) {
            if (have >= cap - 1)
                break;
            continue;
        }
        size_t from = 0;
        for (size_t i = 0; i < have; i++) {
            if (buf[i] == '\n') {
                buf[i] = 0;
                line(buf + from);
                from = i + 1;
            }
        }
        memmove(buf, buf + from, have - from);
        have -= from;
        if (have >= cap - 1)
            have = 0; /* an absurdly long line: drop it */
    }
    syscall(SYS_close, fd);
    buf[have] = 0;
    return line ? total : have;
}

static size_t expand(char *dst, size_t cap, const char *tmpl, const char *trigger, unsigned seq,
                     int *has_n)
{
    size_t n = 0;
    *has_n = 0;
    for (const char *t = tmpl; *t && n + 24 < cap; t++) {
        if (*t != '%' || !t[1]) {
            dst[n++] = *t;
            continue;
        }
        t++;
        if (*t == 'p')
            n += fdl_fmt_u64(dst + n, (uint64_t)syscall(SYS_getpid));
        else if (*t == 'n')
            n += fdl_fmt_u64(dst + n, seq), *has_n = 1;
        else if (*t == 't')
            for (const char *q = trigger; *q && n + 24 < cap; q++)
                dst[n++] = *q;
        else if (*t == '%')
            dst[n++] = '%';
        else
            dst[n++] = '%', dst[n++] = *t;
    }
    dst[n] = 0;
    return n;
}

/* Creates a new file, never following a symlink nor reusing an existing file: another user
 * may own a name in a shared directory such as /tmp. */
static int create_excl(int dirfd, char *path, size_t len, size_t cap)
{
    int fd = fdl_dest_openat(dirfd, path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
    for (unsigned k = 1; fd < 0 && errno == EEXIST && k < CREATE_TRIES && len + 8 < cap; k++) {
        path[len] = '-';
        path[len + 1 + fdl_fmt_u64(path + len + 1, k)] = 0;
        fd = fdl_dest_openat(dirfd, path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
    }
    return fd;
}

/* The snapshot directory: FDLEAK_SNAPSHOT_DIR, or /tmp/fdleak-<euid now>. */
static const char *snapshot_dir(void)
{
    static char dflt[sizeof(FDC_SNAPSHOT_DIR_PREFIX) + 24];
    if (fdl_cfg.snapdir[0])
        return fdl_cfg.snapdir;
    size_t n = sizeof(FDC_SNAPSHOT_DIR_PREFIX) - 1;
    memcpy(dflt, FDC_SNAPSHOT_DIR_PREFIX, n);
    dflt[n + fdl_fmt_u64(dflt + n, (uint64_t)syscall(SYS_geteuid))] = 0;
    return dflt;
}

/* Opens the snapshot directory, creating it (0700, as this process's user) if it is missing:
 * `fdleak snapshot`, often root, never creates it from a path the target chose. It must be
 * ours and not writable by others: another user may have planted it in /tmp. */
static int open_snapshot_dir(const char *dir)
{
    int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW;
    int dfd = fdl_dest_openat(AT_FDCWD, dir, flags, 0);
    if (dfd < 0 && errno == ENOENT && syscall(SYS_mkdirat, AT_FDCWD, dir, 0700) == 0)
        dfd = fdl_dest_openat(AT_FDCWD, dir, flags, 0);
    if (dfd < 0) {
        fdl_msg("cannot open snapshot directory ", dir, ": ", fdl_dest_strerror(errno));
        return -1;
    }
    struct stat st;
    if (syscall(SYS_fstat, dfd, &st) != 0 || st.st_uid != (uid_t)syscall(SYS_geteuid) ||
        (st.st_mode & 022)) {
        fdl_msg("snapshot directory ", dir,
                " is not owned by this user or is writable by others; not writing there");
        syscall(SYS_close, dfd);
        return -1;
    }
    return dfd;
}

static int open_snapshot(int token)
{
    const char *dir = snapshot_dir();
    int dfd = open_snapshot_dir(dir);
    if (dfd < 0)
        return -1;
    char *p = tmp_path;
    memcpy(p, FDC_SNAPSHOT_FILE_PREFIX, sizeof(FDC_SNAPSHOT_FILE_PREFIX) - 1);
    p += sizeof(FDC_SNAPSHOT_FILE_PREFIX) - 1;
    p += fdl_fmt_u64(p, (uint64_t)syscall(SYS_getpid));
    *p++ = '.';
    p += fdl_fmt_u64(p, (uint64_t)token);
    memcpy(p, FDC_SNAPSHOT_FILE_SUFFIX, sizeof(FDC_SNAPSHOT_FILE_SUFFIX));
    memcpy(out_path, tmp_path, (size_t)(p - tmp_path) + sizeof(FDC_SNAPSHOT_FILE_SUFFIX));
    memcpy(p + sizeof(FDC_SNAPSHOT_FILE_SUFFIX) - 1, ".tmp", 5);
    int fd = create_excl(dfd, tmp_path, strlen(tmp_path), sizeof(tmp_path));
    if (fd < 0) {
        fdl_msg("cannot create a snapshot in ", dir, ": ", fdl_dest_strerror(errno));
        syscall(SYS_close, dfd);
        return -1;
    }
    snap_dirfd = dfd;
    return fd;
}

/* Why a dump file could not be created, in one line; in run mode the only thing said. */
static void say_cannot_create(int err)
{
    const char *why = "";
    if (err == EMFILE || err == ENFILE)
        why = " (the dump could not be written at the fd limit)";
    else if ((err == EACCES || err == EPERM) && (uid_t)syscall(SYS_geteuid) != start_euid) {
        static char hint[64];
        static const char head[] = " (the process changed its user to ";
        size_t n = sizeof(head) - 1;
        memcpy(hint, head, n);
        n += fdl_fmt_u64(hint + n, (uint64_t)syscall(SYS_geteuid));
        memcpy(hint + n, "?)", 3);
        why = hint;
    }
    if (run_dir[0])
        fdl_msg("cannot create ", out_path, ": ", fdl_dest_strerror(err), why);
    else
        fdl_msg("cannot create ", out_path, ": ", fdl_dest_strerror(err), why,
                "; writing the report to stderr");
}

int fdl_dest_open(const struct fdl_dump_req *req, unsigned seq)
{
    int fd;
    if (req->snapshot_token >= 0) {
        fd = open_snapshot(req->snapshot_token);
    } else if (fdl_cfg.output[0]) {
        int has_n;
        size_t len = expand(out_path, sizeof(out_path) - 16, fdl_cfg.output,
                            fdc_trigger_name(req->trigger), seq, &has_n);
        if (!has_n && seq > 1) {
            out_path[len++] = '.';
            len += fdl_fmt_u64(out_path + len, seq);
            out_path[len] = 0;
        }
        fd = create_excl(AT_FDCWD, out_path, len, sizeof(out_path));
        if (fd < 0)
            say_cannot_create(errno);
    } else {
        return FDL_DEST_TEXT;
    }
    if (fd >= 0)
        return fd;
    /* A snapshot was asked for by `fdleak snapshot`, which waits for the file: the line above
     * said why there is none, and the program's stderr is no place for the report. In run mode
     * `fdleak run` reads dumps, not the program's stderr, which the program may parse. */
    return run_dir[0] || req->snapshot_token >= 0 ? FDL_DEST_NONE : FDL_DEST_TEXT;
}

void fdl_dest_finish(int fd, const struct fdl_out *o)
{
    if (o->failed)
        fdl_msg("the report in ", out_path, " is incomplete: ", fdl_dest_strerror(o->err));
    syscall(SYS_close, fd);
    if (snap_dirfd >= 0) {
        syscall(SYS_renameat, snap_dirfd, tmp_path, snap_dirfd, out_path);
        syscall(SYS_close, snap_dirfd);
        snap_dirfd = -1;
    }
}

/* <run dir>/started.<pid>, holding the executable's path, created and closed at once. A fork
 * child that execs keeps its pid: the new program's marker replaces the one made at fork. */
static void mark_started(void)
{
    static char path[1200], exe[1024];
    size_t n = strlen(run_dir), k = sizeof(FDC_RUN_STARTED_PREFIX) - 1;
    if (!n || n + k + 24 > sizeof(path))
        return;
    memcpy(path, run_dir, n);
    path[n++] = '/';
    memcpy(path + n, FDC_RUN_STARTED_PREFIX, k);
    n += k;
    path[n + fdl_fmt_u64(path + n, (uint64_t)syscall(SYS_getpid))] = 0;
    int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW;
    int fd = fdl_dest_openat(AT_FDCWD, path, flags, 0600);
    if (fd < 0 && errno == EEXIST && syscall(SYS_unlinkat, AT_FDCWD, path, 0) == 0)
        fd = fdl_dest_openat(AT_FDCWD, path, flags, 0600);
    if (fd < 0)
        return;
    long len = syscall(SYS_readlinkat, AT_FDCWD, FDL_PROC_SELF "/exe", exe, sizeof(exe) - 1);
    if (len > 0) {
        long w = syscall(SYS_write, fd, exe, (size_t)len);
        (void)w;
    }
    syscall(SYS_close, fd);
}

void fdl_dest_init(void)
{
    start_euid = (uid_t)syscall(SYS_geteuid);
    const char *v = getenv(FDC_RUN_DIR_ENV);
    run_dir[0] = 0;
    if (v && *v && strlen(v) < sizeof(run_dir))
        strcpy(run_dir, v);
    mark_started();
}

void fdl_dest_after_fork(void)
{
    int saved = errno;
    snap_dirfd = -1;
    mark_started();
    errno = saved;
}
