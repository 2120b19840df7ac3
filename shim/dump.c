/* Dumps: the descriptors open now, with their records, written as a raw JSON dump
 * (docs/dump-format.md) or as a text report on stderr. This runs at exit, in signal handlers,
 * and inside a wrapper whose call just failed with EMFILE, so it uses only raw syscalls,
 * static buffers and mmap: no malloc, no stdio, no lock another thread may hold. It needs at
 * most one descriptor at a time (two for a snapshot), and borrows the reserve descriptor when
 * the process has none left. Open descriptors are found with poll(2) and POLLNVAL, which
 * needs no descriptor, rather than by listing /proc/self/fd. */
#include "fdleak.h"
#include "fdtable.h"
#include "intern.h"
#include "out.h"

#include <arpa/inet.h>
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

/* open, borrowing the reserve descriptor if the process has run out. */
static int open_fd(int dirfd, const char *path, int flags, int mode)
{
    int fd = sys_openat(dirfd, path, flags, mode);
    if (fd < 0 && (errno == EMFILE || errno == ENFILE) && fdl_reserve_fd >= 0) {
        int r = fdl_reserve_fd;
        fdl_reserve_fd = -1;
        fdl_table_clear(r);
        sys_close(r);
        fd = sys_openat(dirfd, path, flags, mode);
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
    case EACCES: return "Permission denied";
    case EPERM: return "Operation not permitted";
    case ENOENT: return "No such file or directory";
    case ENOTDIR: return "Not a directory";
    case EROFS: return "Read-only file system";
    case ENOSPC: return "No space left on device";
    case EDQUOT: return "Disk quota exceeded";
    case EEXIST: return "File exists";
    case ELOOP: return "Symbolic link in the way";
    case EMFILE: return "Too many open files";
    case ENFILE: return "Too many open files in system";
    case EIO: return "Input/output error";
    case EPIPE: return "Broken pipe";
    default: return "error";
    }
}

/* ---------- module map from /proc/self/maps, ELF headers read in memory ---------- */

struct module {
    uintptr_t start, end, first_end, base;
    uint32_t path;   /* offset in modpaths */
    int has_x;
    char build_id[41];
};

#define MAX_MODULES 4096
static struct module mods[MAX_MODULES];
static int nmods;
static struct module cur;
static int have_cur;
static char modpaths[1 << 18];
static size_t modpaths_used;
static char iobuf[1 << 16];

static uintptr_t parse_hex(const char **p)
{
    uintptr_t v = 0;
    for (;; (*p)++) {
        char c = **p;
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return v;
        v = v * 16 + (uintptr_t)d;
    }
}

static void read_build_id(struct module *m, const ElfW(Phdr) *ph)
{
    uintptr_t a = m->base + ph->p_vaddr, e = a + ph->p_memsz;
    if (a < m->start || e > m->first_end || e < a)
        return;
    while (a + 12 <= e) {
        const uint32_t *nh = (const uint32_t *)a;
        uint32_t namesz = nh[0], descsz = nh[1], type = nh[2];
        uintptr_t name = a + 12, desc = name + ((namesz + 3u) & ~3u);
        uintptr_t next = desc + ((descsz + 3u) & ~3u);
        if (next > e || next <= a)
            return;
        if (type == NT_GNU_BUILD_ID && namesz == 4 && !memcmp((const void *)name, "GNU", 4)) {
            const unsigned char *d = (const unsigned char *)desc;
            unsigned n = descsz > 20 ? 20 : descsz;
            for (unsigned i = 0; i < n; i++) {
                m->build_id[2 * i] = "0123456789abcdef"[d[i] >> 4];
                m->build_id[2 * i + 1] = "0123456789abcdef"[d[i] & 15];
            }
            m->build_id[2 * n] = 0;
            return;
        }
        a = next;
    }
}

static void finish_module(void)
{
    if (!have_cur)
        return;
    have_cur = 0;
    /* Only objects with code: data files mapped at offset 0 are not read (reading a mapping
     * of a file truncated since would fault). */
    if (!cur.has_x || nmods >= MAX_MODULES)
        return;
    const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)cur.start;
    if (cur.first_end - cur.start < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
        eh->e_ident[EI_CLASS] != ELFCLASS64 ||
        eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(ElfW(Phdr)) > cur.first_end - cur.start)
        return;
    const ElfW(Phdr) *ph = (const ElfW(Phdr) *)(cur.start + eh->e_phoff);
    cur.base = cur.start;
    for (int i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type == PT_LOAD && ph[i].p_offset == 0) {
            cur.base = cur.start - (ph[i].p_vaddr & ~(uintptr_t)0xfff);
            break;
        }
    }
    cur.build_id[0] = 0;
    for (int i = 0; i < eh->e_phnum && !cur.build_id[0]; i++)
        if (ph[i].p_type == PT_NOTE)
            read_build_id(&cur, &ph[i]);
    mods[nmods++] = cur;
}

static void maps_line(const char *l)
{
    const char *p = l;
    uintptr_t start = parse_hex(&p);
    if (*p++ != '-')
        return;
    uintptr_t end = parse_hex(&p);
    if (*p++ != ' ' || strlen(p) < 5)
        return;
    char r = p[0], x = p[2];
    p += 5;
    uintptr_t off = parse_hex(&p);
    /* dev and inode, then the path after spaces */
    for (int field = 0; field < 2; field++) {
        while (*p == ' ')
            p++;
        while (*p && *p != ' ')
            p++;
    }
    while (*p == ' ')
        p++;
    if (*p != '/' && strcmp(p, "[vdso]") != 0)
        return;
    if (have_cur && !strcmp(modpaths + cur.path, p) && start >= cur.start) {
        cur.end = end;
        cur.has_x |= x == 'x';
        return;
    }
    finish_module();
    size_t len = strlen(p) + 1;
    if (off != 0 || r != 'r' || modpaths_used + len > sizeof(modpaths))
        return;
    memcpy(modpaths + modpaths_used, p, len);
    cur.path = (uint32_t)modpaths_used;
    modpaths_used += len;
    cur.start = start;
    cur.end = end;
    cur.first_end = end;
    cur.has_x = x == 'x';
    have_cur = 1;
}

/* Reads a whole small /proc file into `buf`; returns its length (0 on failure). */
static size_t read_proc(const char *path, char *buf, size_t cap, void (*line)(const char *))
{
    int fd = open_fd(AT_FDCWD, path, O_RDONLY, 0);
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

static void read_modules(void)
{
    nmods = 0;
    modpaths_used = 0;
    have_cur = 0;
    read_proc("/proc/self/maps", iobuf, sizeof(iobuf), maps_line);
    finish_module();
}

static const struct module *module_of(uintptr_t ip)
{
    int lo = 0, hi = nmods - 1;
    /* maps is sorted by address, so mods is too */
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (ip < mods[mid].start)
            hi = mid - 1;
        else if (ip >= mods[mid].end)
            lo = mid + 1;
        else
            return &mods[mid];
    }
    return NULL;
}

/* ---------- collecting the open descriptors ---------- */

enum { ORIGIN_TRACKED, ORIGIN_INHERITED, ORIGIN_UNKNOWN };
static const char *const origin_names[] = {"tracked", "inherited", "unknown"};

struct rec {
    int fd;
    int origin;
    struct fdl_entry e;
};

static struct rec small_recs[256];
static uint32_t small_ids[256 * 2 + 2];
static struct pollfd pfds[1024];

struct scratch {
    struct rec *recs;
    size_t n, cap, map_bytes;
    uint32_t *ids; /* stack ids referenced, then python stack ids */
    size_t ids_map_bytes;
    int truncated;
};

static void *map_zero(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* Every fd below `limit` is probed, `batch` at a time: poll() refuses more descriptors than
 * the soft RLIMIT_NOFILE in one call, and the table may reach beyond a lowered limit. */
static void collect(struct scratch *s, long limit, long soft)
{
    size_t cap = (size_t)limit;
    s->map_bytes = cap * sizeof(struct rec);
    s->recs = map_zero(s->map_bytes);
    if (!s->recs) {
        s->recs = small_recs;
        s->map_bytes = 0;
        cap = sizeof(small_recs) / sizeof(small_recs[0]);
    }
    s->cap = cap;
    s->n = 0;
    s->truncated = 0;
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
        for (long i = 0; i < k; i++) {
            if (pfds[i].revents & POLLNVAL)
                continue;
            int fd = (int)(base + i);
            struct rec rr = {.fd = fd};
            int st = fdl_table_get(fd, &rr.e);
            if (st == FDL_PRIVATE)
                continue;
            rr.origin = st == FDL_TRACKED     ? ORIGIN_TRACKED
                        : st == FDL_INHERITED ? ORIGIN_INHERITED
                                              : ORIGIN_UNKNOWN;
            if (rr.origin == ORIGIN_UNKNOWN)
                memset(&rr.e, 0, sizeof(rr.e));
            if (s->n == s->cap) {
                s->truncated = 1;
                continue;
            }
            s->recs[s->n++] = rr;
        }
    }
}

static void release_scratch(struct scratch *s)
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

static void heapsort_(void *v, size_t n, size_t size, int (*cmp)(const void *, const void *))
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
static size_t referenced(struct scratch *s, uint32_t *out, int python, uint32_t extra)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++) {
        uint32_t id = python ? s->recs[i].e.pystack : s->recs[i].e.stack;
        if (id)
            out[n++] = id;
    }
    if (extra)
        out[n++] = extra;
    heapsort_(out, n, sizeof(uint32_t), cmp_u32);
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

struct details {
    char target[512];
    char local[200], peer[200];
    int kind;
};

static void details_of(const struct rec *r, struct details *d)
{
    d->target[0] = d->local[0] = d->peer[0] = 0;
    d->kind = r->e.kind;
    int want_link = r->origin != ORIGIN_TRACKED || r->e.kind == FDL_KIND_unknown ||
                    (!r->e.path && (r->e.kind == FDL_KIND_file || r->e.kind == FDL_KIND_directory ||
                                    r->e.kind == FDL_KIND_pty));
    if (want_link) {
        char p[32] = "/proc/self/fd/";
        p[14 + fdl_fmt_u64(p + 14, (uint64_t)r->fd)] = 0;
        long n = syscall(SYS_readlinkat, AT_FDCWD, p, d->target, sizeof(d->target) - 1);
        d->target[n > 0 ? n : 0] = 0;
        if (d->kind == FDL_KIND_unknown) {
            const char *t = d->target;
            d->kind = !strncmp(t, "socket:", 7)                 ? FDL_KIND_socket
                      : !strncmp(t, "pipe:", 5)                 ? FDL_KIND_pipe
                      : !strcmp(t, "anon_inode:[eventfd]")      ? FDL_KIND_eventfd
                      : !strcmp(t, "anon_inode:[eventpoll]")    ? FDL_KIND_epoll
                      : !strcmp(t, "anon_inode:[timerfd]")      ? FDL_KIND_timerfd
                      : !strcmp(t, "anon_inode:[signalfd]")     ? FDL_KIND_signalfd
                      : !strcmp(t, "anon_inode:inotify")        ? FDL_KIND_inotify
                      : !strcmp(t, "anon_inode:[fanotify]")     ? FDL_KIND_fanotify
                      : !strcmp(t, "anon_inode:[pidfd]")        ? FDL_KIND_pidfd
                      : !strncmp(t, "/memfd:", 7)               ? FDL_KIND_memfd
                      : !strncmp(t, "/dev/pts/", 9) || !strcmp(t, "/dev/ptmx") ? FDL_KIND_pty
                      : !strncmp(t, "/dev/shm/", 9)             ? FDL_KIND_shm
                      : t[0] == '/'                             ? FDL_KIND_file
                                                                : FDL_KIND_unknown;
        }
    }
    if (d->kind == FDL_KIND_socket) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        if (syscall(SYS_getsockname, r->fd, &ss, &len) == 0)
            fmt_addr(d->local, sizeof(d->local), &ss, len);
        len = sizeof(ss);
        if (syscall(SYS_getpeername, r->fd, &ss, &len) == 0)
            fmt_addr(d->peer, sizeof(d->peer), &ss, len);
    }
}

static const char *path_of(uint32_t id)
{
    uint32_t len;
    const char *p = fdl_intern_get(&fdl_paths, id, &len);
    return p ? p : "";
}

/* ---------- the process header ---------- */

static char exe[1024];
static char cmdline[4096];
static size_t cmdline_len;
static const char *const trigger_names[] = {"exit", "fatal-signal", "signal", "emfile",
                                            "threshold"};

static void read_process_info(void)
{
    long n = syscall(SYS_readlinkat, AT_FDCWD, "/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = 0;
    cmdline_len = read_proc("/proc/self/cmdline", cmdline, sizeof(cmdline), NULL);
}

/* ---------- JSON ---------- */

static struct fdl_out out;

static void json_stack_ips(uint32_t id)
{
    uint32_t len;
    const uintptr_t *ips = fdl_intern_get(&fdl_stacks, id, &len);
    fdl_out_str(&out, "{\"id\":");
    fdl_out_u64(&out, id);
    fdl_out_str(&out, ",\"ips\":[");
    for (uint32_t i = 0; ips && i < len / sizeof(uintptr_t); i++) {
        fdl_out_str(&out, i ? ",\"" : "\"");
        fdl_out_hex(&out, ips[i]);
        fdl_out_str(&out, "\"");
    }
    fdl_out_str(&out, "]}");
}

/* Python frames are stored as (u32 line, "file\0function\0"); a Python stack as u32 frame ids,
 * innermost first (see python.c). */
static void json_pystack(uint32_t id)
{
    uint32_t len;
    const uint32_t *frames = fdl_intern_get(&fdl_pyframes, id, &len);
    fdl_out_str(&out, "{\"id\":");
    fdl_out_u64(&out, id);
    fdl_out_str(&out, ",\"frames\":[");
    for (uint32_t i = 0; frames && i < len / 4; i++) {
        uint32_t flen;
        const char *f = fdl_intern_get(&fdl_pyframes, frames[i], &flen);
        if (!f || flen < 6)
            continue;
        uint32_t line;
        memcpy(&line, f, 4);
        const char *file = f + 4, *func = file + strlen(file) + 1;
        fdl_out_str(&out, i ? ",{\"file\":" : "{\"file\":");
        fdl_out_jstr(&out, file);
        fdl_out_str(&out, ",\"function\":");
        fdl_out_jstr(&out, func);
        fdl_out_str(&out, ",\"line\":");
        fdl_out_u64(&out, line);
        fdl_out_str(&out, "}");
    }
    fdl_out_str(&out, "]}");
}

static void json_kv_u(const char *k, uint64_t v)
{
    fdl_out_str(&out, ",\"");
    fdl_out_str(&out, k);
    fdl_out_str(&out, "\":");
    fdl_out_u64(&out, v);
}

static void json_kv_s(const char *k, const char *v)
{
    fdl_out_str(&out, ",\"");
    fdl_out_str(&out, k);
    fdl_out_str(&out, "\":");
    fdl_out_jstr(&out, v);
}

struct header {
    const struct fdl_dump_req *req;
    struct rlimit rl;
    uint64_t now_coarse;
    size_t open_fds;
};

static void write_json(struct scratch *s, const struct header *h)
{
    const struct fdl_dump_req *req = h->req;
    fdl_out_str(&out, "{\"format\":\"fdleak-dump\",\"version\":1");
    json_kv_u("pid", (uint64_t)syscall(SYS_getpid));
    json_kv_u("ppid", (uint64_t)syscall(SYS_getppid));
    json_kv_s("exe", exe);
    fdl_out_str(&out, ",\"cmdline\":[");
    for (size_t i = 0, first = 1; i < cmdline_len; first = 0) {
        size_t l = strnlen(cmdline + i, cmdline_len - i);
        if (!first)
            fdl_out_str(&out, ",");
        fdl_out_json(&out, cmdline + i, l);
        i += l + 1;
    }
    fdl_out_str(&out, "]");
    json_kv_u("seq", dump_seq);
    json_kv_s("trigger", trigger_names[req->trigger]);
    json_kv_u("signal", (uint64_t)req->signal);
    json_kv_s("trigger_call", fdl_call_names[req->call]);
    json_kv_u("trigger_errno", (uint64_t)req->err);
    json_kv_u("trigger_stack", req->stack);
    json_kv_u("threshold", (uint64_t)req->threshold);
    json_kv_u("time_realtime_ns", clock_ns(CLOCK_REALTIME));
    json_kv_u("open_fds", h->open_fds);
    json_kv_u("limit_nofile", h->rl.rlim_cur);
    json_kv_u("limit_nofile_max", h->rl.rlim_max);
    if (s->truncated)
        fdl_out_str(&out, ",\"truncated\":true");

    fdl_out_str(&out, ",\n\"fds\":[");
    for (size_t i = 0; i < s->n; i++) {
        const struct rec *r = &s->recs[i];
        struct details d;
        details_of(r, &d);
        fdl_out_str(&out, i ? ",\n{\"fd\":" : "\n{\"fd\":");
        fdl_out_u64(&out, (uint64_t)r->fd);
        json_kv_s("origin", origin_names[r->origin]);
        json_kv_s("call", fdl_call_names[r->e.call < FDL_CALL_COUNT ? r->e.call : 0]);
        json_kv_s("kind", fdl_kind_names[d.kind < FDL_KIND_COUNT ? d.kind : 0]);
        json_kv_s("path", path_of(r->e.path));
        json_kv_s("target", d.target);
        fdl_out_str(&out, (r->e.flags & FDL_F_CLOEXEC) ? ",\"cloexec\":true" : ",\"cloexec\":false");
        uint64_t age = r->origin == ORIGIN_TRACKED && h->now_coarse > r->e.time_ns
                           ? (h->now_coarse - r->e.time_ns) / 1000000
                           : 0;
        json_kv_u("age_ms", age);
        json_kv_u("tid", r->e.tid);
        json_kv_u("stack", r->e.stack);
        json_kv_u("pystack", r->e.pystack);
        json_kv_s("local", d.local);
        json_kv_s("peer", d.peer);
        fdl_out_str(&out, "}");
    }
    fdl_out_str(&out, "],\n\"stacks\":[");
    size_t n = referenced(s, s->ids, 0, req->stack);
    for (size_t i = 0; i < n; i++) {
        fdl_out_str(&out, i ? ",\n" : "\n");
        json_stack_ips(s->ids[i]);
    }
    fdl_out_str(&out, "],\n\"pystacks\":[");
    n = referenced(s, s->ids, 1, 0);
    for (size_t i = 0; i < n; i++) {
        fdl_out_str(&out, i ? ",\n" : "\n");
        json_pystack(s->ids[i]);
    }
    fdl_out_str(&out, "],\n\"modules\":[");
    for (int i = 0; i < nmods; i++) {
        fdl_out_str(&out, i ? ",\n{\"path\":" : "\n{\"path\":");
        fdl_out_jstr(&out, modpaths + mods[i].path);
        fdl_out_str(&out, ",\"base\":\"");
        fdl_out_hex(&out, mods[i].base);
        fdl_out_str(&out, "\",\"start\":\"");
        fdl_out_hex(&out, mods[i].start);
        fdl_out_str(&out, "\",\"end\":\"");
        fdl_out_hex(&out, mods[i].end);
        fdl_out_str(&out, "\"");
        json_kv_s("build_id", mods[i].build_id);
        fdl_out_str(&out, "}");
    }
    fdl_out_str(&out, "],\n\"stats\":{\"acquired\":");
    fdl_out_u64(&out, fdl_stat_sum(&fdl_stat_acquired));
    json_kv_u("released", fdl_stat_sum(&fdl_stat_released));
    json_kv_u("stacks", fdl_stacks.count);
    json_kv_u("stack_store_full", fdl_stacks.full);
    json_kv_u("path_store_full", fdl_paths.full);
    json_kv_u("unwind_failed", fdl_stat_sum(&fdl_stat_unwind_failed));
    fdl_out_str(&out, "}}\n");
}

/* ---------- text ---------- */

static char prefix[32];

static void line_start(void)
{
    fdl_out_str(&out, prefix);
}

static void text_frame(uintptr_t ip, int first, int safe)
{
    line_start();
    fdl_out_str(&out, first ? "   at " : "   by ");
    Dl_info info;
    /* dladdr takes the loader lock: only outside signal handlers. ip - 1: return addresses
     * point after the call, possibly into the next function. */
    if (safe && dladdr((void *)(ip - 1), &info) && info.dli_sname) {
        fdl_out_str(&out, info.dli_sname);
        fdl_out_str(&out, " (");
        const char *slash = info.dli_fname ? strrchr(info.dli_fname, '/') : NULL;
        fdl_out_str(&out, slash ? slash + 1 : info.dli_fname ? info.dli_fname : "?");
        fdl_out_str(&out, "+");
        fdl_out_hex(&out, ip - (uintptr_t)info.dli_fbase);
        fdl_out_str(&out, ")\n");
        return;
    }
    const struct module *m = module_of(ip);
    if (m) {
        const char *path = modpaths + m->path, *slash = strrchr(path, '/');
        fdl_out_str(&out, slash ? slash + 1 : path);
        fdl_out_str(&out, "+");
        fdl_out_hex(&out, ip - m->base);
    } else {
        fdl_out_hex(&out, ip);
    }
    fdl_out_str(&out, "\n");
}

static void text_stack(uint32_t stack, uint32_t pystack, int safe)
{
    uint32_t len;
    const uint32_t *frames = fdl_intern_get(&fdl_pyframes, pystack, &len);
    for (uint32_t i = 0; frames && i < len / 4; i++) {
        uint32_t flen, lineno;
        const char *f = fdl_intern_get(&fdl_pyframes, frames[i], &flen);
        if (!f)
            continue;
        memcpy(&lineno, f, 4);
        const char *file = f + 4, *func = file + strlen(file) + 1;
        line_start();
        fdl_out_str(&out, i ? "   by " : "   at ");
        fdl_out_str(&out, func);
        fdl_out_str(&out, " (");
        fdl_out_str(&out, file);
        fdl_out_str(&out, ":");
        fdl_out_u64(&out, lineno);
        fdl_out_str(&out, ") [python]\n");
    }
    const uintptr_t *ips = fdl_intern_get(&fdl_stacks, stack, &len);
    if (!ips && !frames) {
        line_start();
        fdl_out_str(&out, "   (no stack)\n");
    }
    for (uint32_t i = 0; ips && i < len / sizeof(uintptr_t); i++)
        text_frame(ips[i], i == 0 && !frames, safe);
}

static int cmp_group(const void *a, const void *b)
{
    const struct rec *x = a, *y = b;
#define KEY(f)                                                                                 \
    if (x->f != y->f)                                                                          \
        return x->f < y->f ? -1 : 1;
    KEY(origin)
    KEY(e.stack)
    KEY(e.pystack)
    KEY(e.call)
    KEY(e.kind)
    KEY(fd)
#undef KEY
    return 0;
}

static int same_group(const struct rec *x, const struct rec *y)
{
    return x->origin == y->origin && x->e.stack == y->e.stack && x->e.pystack == y->e.pystack &&
           x->e.call == y->e.call && x->e.kind == y->e.kind;
}

struct group {
    uint32_t first, count;
};

static int cmp_group_size(const void *a, const void *b)
{
    /* For the heap: "larger" sorts last; we print from the end, largest first. */
    const struct group *x = a, *y = b;
    if (x->count != y->count)
        return x->count < y->count ? -1 : 1;
    return x->first > y->first ? -1 : x->first < y->first;
}

static void text_fd_line(const struct rec *r, const struct header *h)
{
    struct details d;
    details_of(r, &d);
    line_start();
    fdl_out_str(&out, "   fd ");
    fdl_out_u64(&out, (uint64_t)r->fd);
    const char *p = r->e.path ? path_of(r->e.path) : d.target;
    if (*p) {
        fdl_out_str(&out, " ");
        fdl_out_str(&out, p);
    }
    if (d.local[0] || d.peer[0]) {
        fdl_out_str(&out, " ");
        fdl_out_str(&out, d.local[0] ? d.local : "?");
        fdl_out_str(&out, " -> ");
        fdl_out_str(&out, d.peer[0] ? d.peer : "(unconnected)");
    }
    if (r->e.flags & FDL_F_CLOEXEC)
        fdl_out_str(&out, " cloexec");
    fdl_out_str(&out, "  age ");
    fdl_out_u64(&out, h->now_coarse > r->e.time_ns ? (h->now_coarse - r->e.time_ns) / 1000000 : 0);
    fdl_out_str(&out, " ms  tid ");
    fdl_out_u64(&out, r->e.tid);
    fdl_out_str(&out, "\n");
}

static void write_text(struct scratch *s, const struct header *h)
{
    const struct fdl_dump_req *req = h->req;
    char *p = prefix;
    *p++ = '=';
    *p++ = '=';
    p += fdl_fmt_u64(p, (uint64_t)syscall(SYS_getpid));
    memcpy(p, "== ", 4);

    line_start();
    fdl_out_str(&out, "fdleak report for pid ");
    fdl_out_u64(&out, (uint64_t)syscall(SYS_getpid));
    fdl_out_str(&out, " (");
    fdl_out_str(&out, exe);
    fdl_out_str(&out, "), trigger: ");
    fdl_out_str(&out, trigger_names[req->trigger]);
    if (req->trigger == FDL_TRIG_EMFILE) {
        fdl_out_str(&out, " (");
        fdl_out_str(&out, fdl_call_names[req->call]);
        fdl_out_str(&out, req->err == ENFILE ? "() failed with ENFILE)" : "() failed with EMFILE)");
    } else if (req->trigger == FDL_TRIG_THRESHOLD) {
        fdl_out_str(&out, " (");
        fdl_out_u64(&out, (uint64_t)req->threshold);
        fdl_out_str(&out, " live descriptors)");
    } else if (req->signal) {
        fdl_out_str(&out, " (signal ");
        fdl_out_u64(&out, (uint64_t)req->signal);
        fdl_out_str(&out, ")");
    }
    fdl_out_str(&out, "\n");
    if (req->stack) {
        line_start();
        fdl_out_str(&out, fdl_call_names[req->call]);
        fdl_out_str(&out, req->trigger == FDL_TRIG_EMFILE ? "() that failed:\n" : "() that crossed it:\n");
        text_stack(req->stack, 0, req->safe);
    }

    heapsort_(s->recs, s->n, sizeof(struct rec), cmp_group);
    /* Group list in the id scratch (two u32 per group). */
    struct group *g = (struct group *)s->ids;
    size_t ng = 0, leaked = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (s->recs[i].origin != ORIGIN_TRACKED)
            continue;
        leaked++;
        if (ng && same_group(&s->recs[g[ng - 1].first], &s->recs[i])) {
            g[ng - 1].count++;
        } else {
            g[ng].first = (uint32_t)i;
            g[ng].count = 1;
            ng++;
        }
    }
    heapsort_(g, ng, sizeof(struct group), cmp_group_size);
    for (size_t k = ng; k-- > 0;) {
        const struct rec *r0 = &s->recs[g[k].first];
        line_start();
        fdl_out_str(&out, "\n");
        line_start();
        fdl_out_u64(&out, g[k].count);
        fdl_out_str(&out, g[k].count == 1 ? " fd leaked from " : " fds leaked from ");
        fdl_out_str(&out, fdl_call_names[r0->e.call]);
        fdl_out_str(&out, "() [");
        fdl_out_str(&out, fdl_kind_names[r0->e.kind]);
        fdl_out_str(&out, "]\n");
        text_stack(r0->e.stack, r0->e.pystack, req->safe);
        for (uint32_t j = 0; j < g[k].count && j < 10; j++)
            text_fd_line(&s->recs[g[k].first + j], h);
        if (g[k].count > 10) {
            line_start();
            fdl_out_str(&out, "   ... and ");
            fdl_out_u64(&out, g[k].count - 10);
            fdl_out_str(&out, " more\n");
        }
    }
    for (int origin = ORIGIN_INHERITED; origin <= ORIGIN_UNKNOWN; origin++) {
        int any = 0;
        for (size_t i = 0; i < s->n; i++) {
            const struct rec *r = &s->recs[i];
            if (r->origin != origin)
                continue;
            struct details d;
            details_of(r, &d);
            if (!any) {
                line_start();
                fdl_out_str(&out, "\n");
                line_start();
                fdl_out_str(&out, origin == ORIGIN_INHERITED ? "inherited:" : "unknown origin:");
                any = 1;
            }
            fdl_out_str(&out, " fd ");
            fdl_out_u64(&out, (uint64_t)r->fd);
            fdl_out_str(&out, " ");
            fdl_out_str(&out, d.target[0] ? d.target : "?");
            fdl_out_str(&out, ";");
        }
        if (any)
            fdl_out_str(&out, "\n");
    }
    line_start();
    fdl_out_str(&out, "\n");
    line_start();
    fdl_out_str(&out, "summary: ");
    fdl_out_u64(&out, h->open_fds);
    fdl_out_str(&out, " open fds of limit ");
    fdl_out_u64(&out, h->rl.rlim_cur);
    fdl_out_str(&out, "; ");
    fdl_out_u64(&out, leaked);
    fdl_out_str(&out, " leaked in ");
    fdl_out_u64(&out, ng);
    fdl_out_str(&out, ng == 1 ? " group; trigger " : " groups; trigger ");
    fdl_out_str(&out, trigger_names[req->trigger]);
    fdl_out_str(&out, s->truncated ? " (list truncated)\n" : "\n");
    if (leaked) {
        line_start();
        fdl_out_str(&out, "for source file:line, run the program under `fdleak run`\n");
    }
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
    int fd = open_fd(dirfd, path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
    for (unsigned k = 1; fd < 0 && errno == EEXIST && k < 100 && len + 8 < cap; k++) {
        path[len] = '-';
        path[len + 1 + fdl_fmt_u64(path + len + 1, k)] = 0;
        fd = open_fd(dirfd, path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
    }
    return fd;
}

static int open_snapshot(int token)
{
    int dfd = open_fd(AT_FDCWD, fdl_cfg.snapdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
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
    memcpy(p, "snapshot.", 9);
    p += 9;
    p += fdl_fmt_u64(p, (uint64_t)syscall(SYS_getpid));
    *p++ = '.';
    p += fdl_fmt_u64(p, (uint64_t)token);
    memcpy(p, ".json", 6);
    memcpy(out_path, tmp_path, (size_t)(p - tmp_path) + 6);
    memcpy(p + 5, ".tmp", 5);
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
    int wait = req->trigger == FDL_TRIG_EXIT || req->trigger == FDL_TRIG_FATAL;
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
    if (fdl_vfork_child)
        return;
    int saved_errno = errno;
    fdl_tls.busy++;
    if (!dump_lock(req))
        goto out_busy;
    dump_seq++;

    struct header h = {.req = req};
    syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &h.rl);
    h.now_coarse = clock_ns(CLOCK_MONOTONIC_COARSE);
    read_modules();
    read_process_info();

    long limit = (long)h.rl.rlim_cur;
    if (limit > FDL_TABLE_MAX_FD)
        limit = FDL_TABLE_MAX_FD;
    if (fdl_table_limit() > limit)
        limit = fdl_table_limit();
    struct scratch s = {0};
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
                            trigger_names[req->trigger], &has_n);
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
    fdl_out_start(&out, text ? 2 : fd);
    if (text)
        write_text(&s, &h);
    else
        write_json(&s, &h);
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
    release_scratch(&s);
    reserve_refill();
    __atomic_store_n(&dump_owner, 0, __ATOMIC_RELEASE);
out_busy:
    fdl_tls.busy--;
    errno = saved_errno;
}

void fdl_dump_init(void)
{
    reserve_refill();
}
