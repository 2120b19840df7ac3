/* Collecting the open descriptors: which numbers are open now (listed from /proc/self/fd when
 * the table is sparse, swept with poll(2) and POLLNVAL when it is dense or no descriptor is
 * left to list with), each with a copy of its record; and the sorting the writers do on them.
 * fdl_list_fds also serves start-up (init.c: everything open then was inherited). Raw
 * syscalls, static buffers and mmap only: this runs in signal handlers and at EMFILE. */
#include "dump.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Fallbacks when mmap is refused: a dump of the first SMALL_RECS descriptors. */
#define SMALL_RECS 256
/* poll(2) batch: one call covers this many numbers (~8 us per batch). */
#define POLL_BATCH 1024
/* A table reaching fewer than a quarter of the numbers to scan is listed, not swept. */
#define SPARSE_RATIO 4

static struct fdl_rec small_recs[SMALL_RECS];
static uint32_t small_ids[SMALL_RECS * 2 + 2];
static struct pollfd pfds[POLL_BATCH];

/* fdl_heapsort swaps records through a buffer of this size. */
#define SORT_TMP 64
_Static_assert(sizeof(struct fdl_rec) <= SORT_TMP, "fdl_heapsort cannot move a record");
_Static_assert(sizeof(uint32_t) * 2 <= SORT_TMP, "fdl_heapsort cannot move a group");

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
    rr.origin = st == FDL_TRACKED     ? FDC_ORIGIN_TRACKED
                : st == FDL_INHERITED ? FDC_ORIGIN_INHERITED
                                      : FDC_ORIGIN_UNKNOWN;
    /* 0-2 are the process's stdio, never a leak whatever put them there (dup2 redirecting
     * stdout, a daemon reopening /dev/null): listed with what it was given to start with. */
    if (fd < 3 && rr.origin == FDC_ORIGIN_TRACKED)
        rr.origin = FDC_ORIGIN_INHERITED;
    if (rr.origin == FDC_ORIGIN_UNKNOWN)
        memset(&rr.e, 0, sizeof(rr.e));
    if (s->n == s->cap) {
        s->truncated = 1;
        return;
    }
    s->recs[s->n++] = rr;
}

/* Calls fn for every descriptor in /proc/self/fd, ascending, except the one used to list it.
 * -1 if the directory cannot be read (no descriptor free). */
int fdl_list_fds(void (*fn)(int fd, void *arg), void *arg)
{
    static char dents[16384]; /* under the dump lock, or at start-up */
    int dfd = (int)syscall(SYS_openat, AT_FDCWD, FDL_PROC_SELF "/fd",
                           O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (dfd < 0)
        return -1;
    for (;;) {
        long n = syscall(SYS_getdents64, dfd, dents, sizeof(dents));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            syscall(SYS_close, dfd);
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
    syscall(SYS_close, dfd);
    return 0;
}

static void add_listed(int fd, void *arg)
{
    add_fd(arg, fd);
}

/* A table as large as the limit (a process holding many descriptors) is swept with poll(2),
 * POLLNVAL marking the free numbers: that needs no descriptor (the EMFILE case). A sparse one
 * is listed from /proc/self/fd, at a cost proportional to the descriptors open, falling back
 * to the sweep when no descriptor is left to list with. poll() refuses more descriptors than
 * the soft RLIMIT_NOFILE in one call, and the table may reach beyond a lowered limit. */
static void sweep(struct fdl_scratch *s, long limit, long soft)
{
    long batch = soft < POLL_BATCH ? soft : POLL_BATCH;
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

void fdl_fdlist_collect(struct fdl_scratch *s, long limit, long soft)
{
    size_t cap = (size_t)limit;
    s->map_bytes = cap * sizeof(struct fdl_rec);
    s->recs = map_zero(s->map_bytes);
    if (!s->recs) {
        s->recs = small_recs;
        s->map_bytes = 0;
        cap = SMALL_RECS;
    }
    s->cap = cap;
    s->n = 0;
    s->truncated = 0;
    int listed = 0;
    if ((long)fdl_table_limit() * SPARSE_RATIO <= limit) {
        listed = fdl_list_fds(add_listed, s) == 0;
        if (!listed)
            s->n = 0, s->truncated = 0;
    }
    if (!listed)
        sweep(s, limit, soft);
    s->ids_map_bytes = (s->n + 2) * 2 * sizeof(uint32_t);
    s->ids = map_zero(s->ids_map_bytes);
    if (!s->ids) {
        s->ids = small_ids;
        s->ids_map_bytes = 0;
        if (s->n > SMALL_RECS)
            s->n = SMALL_RECS, s->truncated = 1;
    }
}

void fdl_fdlist_release(struct fdl_scratch *s)
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
    char tmp[SORT_TMP];
    char *base = v;
    FDL_ASSERT(size <= sizeof(tmp));
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
