/* Dumps: the descriptors open now, with their records, written as a raw JSON dump
 * (docs/dump-format.md) or as a text report on stderr. This runs at exit, in signal handlers,
 * and inside a wrapper whose call just failed with EMFILE, so it uses only raw syscalls,
 * static buffers and mmap: no malloc, no stdio, no lock another thread may hold. It needs at
 * most one descriptor at a time (two for a snapshot), and borrows the reserve descriptor when
 * the process has none left. Open descriptors are found with poll(2) and POLLNVAL, which
 * needs no descriptor, rather than by listing /proc/self/fd. */
#include "dump.h"
#include "intern.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int fdl_reserve_fd = -1;
static uint32_t dump_owner; /* tid of the thread dumping, 0 = none */
static unsigned dump_seq;

/* ---------- raw syscalls ---------- */

static int sys_openat(int dirfd, const char *path, int flags, int mode)
{
    return (int)syscall(SYS_openat, dirfd, path, flags | O_CLOEXEC, mode);
}

static void sys_close(int fd)
{
    syscall(SYS_close, fd);
}

/* open, when the process has run out: first by borrowing the reserve descriptor; if that is
 * no use (the program lowered its soft limit below the reserve's number) and the hard limit
 * allows, by raising the soft limit for this one open and restoring it at once. */
int fdl_dump_open(int dirfd, const char *path, int flags, int mode)
{
    int fd = sys_openat(dirfd, path, flags, mode);
    if (fd >= 0 || (errno != EMFILE && errno != ENFILE))
        return fd;
    if (fdl_reserve_fd >= 0) {
        int r = fdl_reserve_fd;
        fdl_reserve_fd = -1;
        fdl_table_clear(r);
        sys_close(r);
        fd = sys_openat(dirfd, path, flags, mode);
        if (fd >= 0 || errno != EMFILE)
            return fd;
    }
    struct rlimit rl, more;
    if (syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        more = rl;
        more.rlim_cur = rl.rlim_cur + 16 < rl.rlim_max ? rl.rlim_cur + 16 : rl.rlim_max;
        if (syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &more, NULL) == 0) {
            fd = sys_openat(dirfd, path, flags, mode);
            int e = errno;
            syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &rl, NULL);
            errno = e;
        }
    }
    return fd;
}

static void reserve_refill(void)
{
    if (fdl_reserve_fd >= 0)
        return;
    int fd = sys_openat(AT_FDCWD, "/dev/null", O_RDONLY, 0);
    if (fd >= 0)
        fdl_reserve_fd = fdl_privatize(fd);
}

static uint64_t clock_ns(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static const char *errno_text(int e)
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

/* Reads a whole small /proc file into `buf`; returns its length (0 on failure). */
size_t fdl_dump_read_proc(const char *path, char *buf, size_t cap, void (*line)(const char *))
{
    int fd = fdl_dump_open(AT_FDCWD, path, O_RDONLY, 0);
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
    sys_close(fd);
    buf[have] = 0;
    return line ? total : have;
}

/* ---------- collecting the open descriptors ---------- */

static struct fdl_rec small_recs[256];
static uint32_t small_ids[256 * 2 + 2];
static struct pollfd pfds[1024];

static void *map_zero(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void add_fd(struct fdl_scratch *s, int fd)
{
    struct fdl_rec rr = {.fd = fd};
    int st = fdl_table_get(fd, &rr.e);
    if (st == FDL_PRIVATE)
        return;
    rr.origin = st == FDL_TRACKED     ? FDC_ORIGIN_TRACKED
                : st == FDL_INHERITED ? FDC_ORIGIN_INHERITED
                                      : FDC_ORIGIN_UNKNOWN;
    if (rr.origin == FDC_ORIGIN_UNKNOWN)
        memset(&rr.e, 0, sizeof(rr.e));
    if (s->n == s->cap) {
        s->truncated = 1;
        return;
    }
    s->recs[s->n++] = rr;
}

/* Calls fn for every descriptor in /proc/self/fd, ascending, except the one used to list it.
 * -1 if the directory cannot be read (no descriptor free). Raw syscalls: also used at start-up
 * and in signal handlers. */
int fdl_list_fds(void (*fn)(int fd, void *arg), void *arg)
{
    static char dents[16384]; /* under the dump lock, or at start-up */
    int dfd = sys_openat(AT_FDCWD, "/proc/self/fd", O_RDONLY | O_DIRECTORY, 0);
    if (dfd < 0)
        return -1;
    for (;;) {
        long n = syscall(SYS_getdents64, dfd, dents, sizeof(dents));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            sys_close(dfd);
            return -1;
        }
        if (n == 0)
            break;
        for (long off = 0; off < n;) {
            const struct dirent64 *d = (const struct dirent64 *)(dents + off);
            off += d->d_reclen;
            if (d->d_name[0] < '0' || d->d_name[0] > '9')
                continue;
            long fd = 0;
            for (const char *p = d->d_name; *p >= '0' && *p <= '9'; p++)
                fd = fd * 10 + (*p - '0');
            if (fd != dfd)
                fn((int)fd, arg);
        }
    }
    sys_close(dfd);
    return 0;
}

static void add_listed(int fd, void *arg)
{
    add_fd(arg, fd);
}

/* Finds the open descriptors below `limit`. A table as large as the limit (a process holding
 * many descriptors) is swept with poll(2), `batch` numbers a call, POLLNVAL marking the free
 * ones: that needs no descriptor (the EMFILE case) and costs ~8 us per 1024 numbers. A sparse
 * one is listed instead. poll() refuses more descriptors than the soft RLIMIT_NOFILE in one
 * call, and the table may reach beyond a lowered limit. */
static void collect(struct fdl_scratch *s, long limit, long soft)
{
    size_t cap = (size_t)limit;
    s->map_bytes = cap * sizeof(struct fdl_rec);
    s->recs = map_zero(s->map_bytes);
    if (!s->recs) {
        s->recs = small_recs;
        s->map_bytes = 0;
        cap = sizeof(small_recs) / sizeof(small_recs[0]);
    }
    s->cap = cap;
    s->n = 0;
    s->truncated = 0;
    /* Sparse: list /proc/self/fd, cost proportional to the descriptors open. */
    if ((long)fdl_table_limit() * 4 <= limit) {
        if (fdl_list_fds(add_listed, s) == 0)
            return;
        s->n = 0;
        s->truncated = 0;
    }
    long batch = soft < 1024 ? soft : 1024;
    if (batch < 1)
        batch = 1;
    for (long base = 0; base < limit; base += batch) {
        long k = limit - base < batch ? limit - base : batch;
        for (long i = 0; i < k; i++) {
            pfds[i].fd = (int)(base + i);
            pfds[i].events = 0;
            pfds[i].revents = 0;
        }
        long r;
        do
            r = syscall(SYS_poll, pfds, (unsigned long)k, 0);
        while (r < 0 && errno == EINTR);
        if (r < 0)
            break;
        for (long i = 0; i < k; i++)
            if (!(pfds[i].revents & POLLNVAL))
                add_fd(s, (int)(base + i));
    }
}

static void release_scratch(struct fdl_scratch *s)
{
    if (s->map_bytes)
        munmap(s->recs, s->map_bytes);
    if (s->ids_map_bytes)
        munmap(s->ids, s->ids_map_bytes);
}

/* In-place heapsort: no allocation, O(n log n) worst case, fine for a million records. */
static void sift(char *base, size_t size, size_t root, size_t n,
                 int (*cmp)(const void *, const void *), char *tmp)
{
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n)
            return;
        if (child + 1 < n && cmp(base + child * size, base + (child + 1) * size) < 0)
            child++;
        if (cmp(base + root * size, base + child * size) >= 0)
            return;
        memcpy(tmp, base + root * size, size);
        memcpy(base + root * size, base + child * size, size);
        memcpy(base + child * size, tmp, size);
        root = child;
    }
}

void fdl_heapsort(void *v, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    char tmp[64];
    char *base = v;
    if (n < 2 || size > sizeof(tmp))
        return;
    for (size_t i = n / 2; i-- > 0;)
        sift(base, size, i, n, cmp, tmp);
    for (size_t end = n - 1; end > 0; end--) {
        memcpy(tmp, base, size);
        memcpy(base, base + end * size, size);
        memcpy(base + end * size, tmp, size);
        sift(base, size, 0, end, cmp, tmp);
    }
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Sorted, unique ids of the stacks (or Python stacks) that the records refer to. */
size_t fdl_referenced(const struct fdl_scratch *s, uint32_t *out, int python, uint32_t extra)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++) {
        uint32_t id = python ? s->recs[i].e.pystack : s->recs[i].e.stack;
        if (id)
            out[n++] = id;
    }
    if (extra)
        out[n++] = extra;
    fdl_heapsort(out, n, sizeof(uint32_t), cmp_u32);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (u == 0 || out[u - 1] != out[i])
            out[u++] = out[i];
    return u;
}

/* ---------- per-descriptor details read at dump time ---------- */

static size_t fmt_addr(char *dst, size_t cap, const struct sockaddr_storage *ss, socklen_t len)
{
    char *p = dst;
    if (len == 0 || cap < 80)
        return 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)ss;
        const unsigned char *a = (const unsigned char *)&in->sin_addr;
        for (int i = 0; i < 4; i++) {
            p += fdl_fmt_u64(p, a[i]);
            *p++ = i < 3 ? '.' : ':';
        }
        p += fdl_fmt_u64(p, ntohs(in->sin_port));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)ss;
        const unsigned char *a = in6->sin6_addr.s6_addr;
        int best = -1, bestlen = 1; /* longest run of zero groups, compressed to :: */
        for (int i = 0; i < 8;) {
            int j = i;
            while (j < 8 && !a[2 * j] && !a[2 * j + 1])
                j++;
            if (j - i > bestlen)
                best = i, bestlen = j - i;
            i = j > i ? j : i + 1;
        }
        *p++ = '[';
        for (int i = 0; i < 8; i++) {
            if (i == best) {
                *p++ = ':';
                if (i == 0)
                    *p++ = ':';
                i += bestlen - 1;
                continue;
            }
            unsigned g = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
            char h[4];
            int k = 0;
            do
                h[k++] = "0123456789abcdef"[g & 15];
            while (g >>= 4);
            while (k)
                *p++ = h[--k];
            if (i < 7)
                *p++ = ':';
        }
        *p++ = ']';
        *p++ = ':';
        p += fdl_fmt_u64(p, ntohs(in6->sin6_port));
    } else if (ss->ss_family == AF_UNIX) {
        const struct sockaddr_un *un = (const void *)ss;
        size_t n = len > offsetof(struct sockaddr_un, sun_path)
                       ? len - offsetof(struct sockaddr_un, sun_path)
                       : 0;
        memcpy(p, "unix:", 5);
        p += 5;
        const char *sp = un->sun_path;
        if (n && sp[0] == 0) {
            *p++ = '@';
            sp++;
            n--;
        }
        while (n && (size_t)(p - dst) < cap - 1 && *sp) {
            *p++ = *sp++;
            n--;
        }
    } else {
        return 0;
    }
    *p = 0;
    return (size_t)(p - dst);
}

void fdl_details(const struct fdl_rec *r, struct fdl_details *d)
{
    d->target[0] = d->local[0] = d->peer[0] = 0;
    d->kind = r->e.kind;
    int want_link = r->origin != FDC_ORIGIN_TRACKED || r->e.kind == FDC_KIND_unknown ||
                    (!r->e.path && (r->e.kind == FDC_KIND_file || r->e.kind == FDC_KIND_directory ||
                                    r->e.kind == FDC_KIND_pty));
    if (want_link) {
        char p[32] = "/proc/self/fd/";
        p[14 + fdl_fmt_u64(p + 14, (uint64_t)r->fd)] = 0;
        long n = syscall(SYS_readlinkat, AT_FDCWD, p, d->target, sizeof(d->target) - 1);
        d->target[n > 0 ? n : 0] = 0;
        if (d->kind == FDC_KIND_unknown) {
            const char *t = d->target;
            d->kind = !strncmp(t, "socket:", 7)                                ? FDC_KIND_socket
                      : !strncmp(t, "pipe:", 5)                                ? FDC_KIND_pipe
                      : !strcmp(t, "anon_inode:[eventfd]")                     ? FDC_KIND_eventfd
                      : !strcmp(t, "anon_inode:[eventpoll]")                   ? FDC_KIND_epoll
                      : !strcmp(t, "anon_inode:[timerfd]")                     ? FDC_KIND_timerfd
                      : !strcmp(t, "anon_inode:[signalfd]")                    ? FDC_KIND_signalfd
                      : !strcmp(t, "anon_inode:inotify")                       ? FDC_KIND_inotify
                      : !strcmp(t, "anon_inode:[fanotify]")                    ? FDC_KIND_fanotify
                      : !strcmp(t, "anon_inode:[pidfd]")                       ? FDC_KIND_pidfd
                      : !strncmp(t, "/memfd:", 7)                              ? FDC_KIND_memfd
                      : !strncmp(t, "/dev/pts/", 9) || !strcmp(t, "/dev/ptmx") ? FDC_KIND_pty
                      : !strncmp(t, "/dev/shm/", 9)                            ? FDC_KIND_shm
                      : t[0] == '/'                                            ? FDC_KIND_file
                                                                               : FDC_KIND_unknown;
        }
    }
    if (d->kind == FDC_KIND_socket) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        if (syscall(SYS_getsockname, r->fd, &ss, &len) == 0)
            fmt_addr(d->local, sizeof(d->local), &ss, len);
        len = sizeof(ss);
        if (syscall(SYS_getpeername, r->fd, &ss, &len) == 0)
            fmt_addr(d->peer, sizeof(d->peer), &ss, len);
    }
}

const char *fdl_path_text(uint32_t id)
{
    uint32_t len;
    const char *p = fdl_intern_get(&fdl_paths, id, &len);
    return p ? p : "";
}

/* ---------- the process header ---------- */

static struct fdl_out out;
static char exe[1024];
static char cmdline[4096];
static size_t cmdline_len;

static void read_process_info(void)
{
    long n = syscall(SYS_readlinkat, AT_FDCWD, "/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = 0;
    cmdline_len = fdl_dump_read_proc("/proc/self/cmdline", cmdline, sizeof(cmdline), NULL);
}

/* ---------- where the dump goes ---------- */

static char out_path[1200], tmp_path[1300];
static int snap_dirfd = -1;

static size_t expand(char *dst, size_t cap, const char *tmpl, const char *trigger, int *has_n)
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
            n += fdl_fmt_u64(dst + n, dump_seq), *has_n = 1;
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
    int fd = fdl_dump_open(dirfd, path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
    for (unsigned k = 1; fd < 0 && errno == EEXIST && k < 100 && len + 8 < cap; k++) {
        path[len] = '-';
        path[len + 1 + fdl_fmt_u64(path + len + 1, k)] = 0;
        fd = fdl_dump_open(dirfd, path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
    }
    return fd;
}

static int open_snapshot(int token)
{
    int dfd = fdl_dump_open(AT_FDCWD, fdl_cfg.snapdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
    if (dfd < 0) {
        fdl_msg("cannot open snapshot directory ", fdl_cfg.snapdir, ": ", errno_text(errno));
        return -1;
    }
    struct stat st;
    if (syscall(SYS_fstat, dfd, &st) != 0 || st.st_uid != geteuid() || (st.st_mode & 022)) {
        fdl_msg("snapshot directory ", fdl_cfg.snapdir,
                " is not owned by this user or is writable by others; not writing there");
        sys_close(dfd);
        return -1;
    }
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
        fdl_msg("cannot create a snapshot in ", fdl_cfg.snapdir, ": ", errno_text(errno));
        sys_close(dfd);
        return -1;
    }
    snap_dirfd = dfd;
    return fd;
}

/* ---------- the dump ---------- */

static int dump_lock(const struct fdl_dump_req *req)
{
    uint32_t me = fdl_tid(), expect = 0;
    /* An exit or a fatal signal waits (bounded) for a dump in progress on another thread;
     * on demand and threshold dumps simply skip. The same thread never waits on itself. */
    int wait = req->trigger == FDC_TRIG_EXIT || req->trigger == FDC_TRIG_FATAL;
    for (int i = 0; i < 400; i++) {
        expect = 0;
        if (__atomic_compare_exchange_n(&dump_owner, &expect, me, 0, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED))
            return 1;
        if (!wait || expect == me)
            return 0;
        struct timespec ts = {0, 5000000};
        syscall(SYS_nanosleep, &ts, NULL);
    }
    return 0;
}

void fdl_dump_after_fork(void)
{
    dump_owner = 0;
    dump_seq = 0;
    snap_dirfd = -1;
}

void fdl_dump(const struct fdl_dump_req *req)
{
    if (fdl_borrowed_memory())
        return;
    int saved_errno = errno;
    int busy = fdl_busy_begin();
    if (!dump_lock(req))
        goto out_busy;
    dump_seq++;

    struct fdl_dump_ctx h = {.req = req, .exe = exe, .cmdline = cmdline};
    syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &h.rl);
    h.now_coarse = clock_ns(CLOCK_MONOTONIC_COARSE);
    fdl_maps_read();
    read_process_info();
    h.seq = dump_seq;
    h.cmdline_len = cmdline_len;

    long limit = (long)h.rl.rlim_cur;
    if (limit > FDL_TABLE_MAX_FD)
        limit = FDL_TABLE_MAX_FD;
    if (fdl_table_limit() > limit)
        limit = fdl_table_limit();
    struct fdl_scratch s = {0};
    collect(&s, limit, (long)(h.rl.rlim_cur < 1024 ? h.rl.rlim_cur : 1024));
    h.open_fds = s.n;
    s.ids_map_bytes = (s.n + 2) * 2 * sizeof(uint32_t);
    s.ids = map_zero(s.ids_map_bytes);
    if (!s.ids) {
        s.ids = small_ids;
        s.ids_map_bytes = 0;
        if (s.n > 256)
            s.n = 256, s.truncated = 1;
    }

    int fd = -1, text = 1;
    if (req->snapshot_token >= 0) {
        fd = open_snapshot(req->snapshot_token);
        text = fd < 0;
    } else if (fdl_cfg.output[0]) {
        int has_n;
        size_t len = expand(out_path, sizeof(out_path) - 16, fdl_cfg.output,
                            fdc_trigger_name(req->trigger), &has_n);
        if (!has_n && dump_seq > 1) {
            out_path[len++] = '.';
            len += fdl_fmt_u64(out_path + len, dump_seq);
            out_path[len] = 0;
        }
        fd = create_excl(AT_FDCWD, out_path, len, sizeof(out_path));
        if (fd < 0)
            fdl_msg("cannot create ", out_path, ": ", errno_text(errno),
                    "; writing the report to stderr");
        text = fd < 0;
    }
    struct fdl_entry std_err;
    if (text && fdl_table_get(2, &std_err) == FDL_TRACKED && std_err.kind == FDC_KIND_socket)
        goto done; /* fd 2 is the program's own socket now: a report there would corrupt it */
    fdl_out_start(&out, text ? 2 : fd);
    if (text)
        fdl_write_text(&out, &s, &h);
    else
        fdl_write_json(&out, &s, &h);
    fdl_out_flush(&out);
    if (!text) {
        if (out.failed)
            fdl_msg("the report in ", out_path, " is incomplete: ", errno_text(out.err));
        sys_close(fd);
        if (snap_dirfd >= 0) {
            syscall(SYS_renameat, snap_dirfd, tmp_path, snap_dirfd, out_path);
            sys_close(snap_dirfd);
            snap_dirfd = -1;
        }
    }
done:
    release_scratch(&s);
    reserve_refill();
    __atomic_store_n(&dump_owner, 0, __ATOMIC_RELEASE);
out_busy:
    fdl_busy_end(busy);
    errno = saved_errno;
}

void fdl_dump_init(void)
{
    reserve_refill();
}
