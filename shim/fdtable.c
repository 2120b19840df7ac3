/* The fd table (see fdtable.h). Chunks are installed with a CAS; a thread that loses the
 * race unmaps its own chunk. The top-level array is static and zero: 1M pointers of BSS
 * that the kernel backs only where touched. */
#include "fdtable.h"

#include <string.h>
#include <sys/mman.h>

#define NCHUNKS (FDL_TABLE_MAX_FD / FDL_TABLE_CHUNK)

static struct fdl_entry *chunks[NCHUNKS];
static int chunk_limit; /* one past the highest chunk index installed */

static struct fdl_entry *chunk_of(int fd, int create)
{
    if (fd < 0 || fd >= FDL_TABLE_MAX_FD)
        return NULL;
    unsigned ci = (unsigned)fd / FDL_TABLE_CHUNK;
    struct fdl_entry *c = __atomic_load_n(&chunks[ci], __ATOMIC_ACQUIRE);
    if (c || !create)
        return c;
    void *m = mmap(NULL, sizeof(struct fdl_entry) * FDL_TABLE_CHUNK, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    struct fdl_entry *expected = NULL;
    if (!__atomic_compare_exchange_n(&chunks[ci], &expected, (struct fdl_entry *)m, 0,
                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        munmap(m, sizeof(struct fdl_entry) * FDL_TABLE_CHUNK);
        return expected;
    }
    int lim = __atomic_load_n(&chunk_limit, __ATOMIC_RELAXED);
    while ((int)ci + 1 > lim && !__atomic_compare_exchange_n(&chunk_limit, &lim, (int)ci + 1, 0,
                                                             __ATOMIC_RELEASE, __ATOMIC_RELAXED))
        ;
    return m;
}

static struct fdl_entry *slot(int fd, int create)
{
    struct fdl_entry *c = chunk_of(fd, create);
    return c ? &c[(unsigned)fd % FDL_TABLE_CHUNK] : NULL;
}

/* Writer side of the per-record sequence lock. A writer owns the record while seq is odd: it
 * takes it with one CAS (uncontended, on the line it is about to write anyway). Two writers on
 * one fd only happen when the program itself races on that number; the loser waits for the
 * winner's few stores. The wait is bounded because a signal handler on the writer's own thread
 * may close that same fd: after the bound it writes anyway and a reader may see a mixed record,
 * never a hang. */
static uint32_t write_begin(struct fdl_entry *e)
{
    uint32_t s = __atomic_load_n(&e->seq, __ATOMIC_RELAXED);
    for (int spins = 0; spins < 1000; spins++) {
        if (!(s & 1) &&
            __atomic_compare_exchange_n(&e->seq, &s, s + 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            return s + 1;
        __builtin_ia32_pause();
        s = __atomic_load_n(&e->seq, __ATOMIC_RELAXED);
    }
    __atomic_store_n(&e->seq, s | 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    return s | 1;
}

static void write_end(struct fdl_entry *e, uint32_t odd)
{
    __atomic_store_n(&e->seq, odd + 1, __ATOMIC_RELEASE);
}

int fdl_table_set(int fd, const struct fdl_entry *src)
{
    struct fdl_entry *e = slot(fd, 1);
    if (!e)
        return -1;
    uint32_t w = write_begin(e);
    int old = __atomic_load_n(&e->state, __ATOMIC_RELAXED);
    e->stack = src->stack;
    e->pystack = src->pystack;
    e->path = src->path;
    e->tid = src->tid;
    e->call = src->call;
    e->kind = src->kind;
    e->flags = src->flags;
    e->time_ns = src->time_ns;
    __atomic_store_n(&e->state, src->state, __ATOMIC_RELAXED);
    write_end(e, w);
    return old;
}

int fdl_table_clear(int fd)
{
    struct fdl_entry *e = slot(fd, 0);
    if (!e)
        return FDL_FREE;
    if (__atomic_load_n(&e->state, __ATOMIC_RELAXED) == FDL_FREE)
        return FDL_FREE; /* the common close of an fd we never saw: no write at all */
    uint32_t w = write_begin(e);
    int old = __atomic_load_n(&e->state, __ATOMIC_RELAXED);
    __atomic_store_n(&e->state, FDL_FREE, __ATOMIC_RELAXED);
    write_end(e, w);
    return old;
}

int fdl_table_release(int fd, uint32_t rstack, uint8_t rcall, uint8_t *old_flags)
{
    struct fdl_entry *e = slot(fd, 0);
    if (!e || __atomic_load_n(&e->state, __ATOMIC_RELAXED) == FDL_FREE)
        return FDL_FREE;
    uint32_t w = write_begin(e);
    int st = __atomic_load_n(&e->state, __ATOMIC_RELAXED);
    uint8_t fl = e->flags;
    *old_flags = fl;
    if (st != FDL_FREE) {
        e->rstack = rstack;
        e->rcall = rcall;
        e->flags = (uint8_t)((fl & (FDL_F_FILE | FDL_F_DIR)) | FDL_F_RELEASED);
        __atomic_store_n(&e->state, FDL_FREE, __ATOMIC_RELAXED);
    }
    write_end(e, w);
    return st;
}

void fdl_table_set_flags(int fd, uint8_t set, uint8_t clear)
{
    struct fdl_entry *e = slot(fd, 0);
    if (!e || __atomic_load_n(&e->state, __ATOMIC_RELAXED) == FDL_FREE)
        return;
    uint32_t w = write_begin(e);
    e->flags = (uint8_t)((e->flags & ~clear) | set);
    write_end(e, w);
}

void fdl_table_set_pystack(int fd, uint32_t pystack)
{
    struct fdl_entry *e = slot(fd, 0);
    if (!e || __atomic_load_n(&e->state, __ATOMIC_RELAXED) != FDL_TRACKED)
        return;
    uint32_t w = write_begin(e);
    if (!e->pystack)
        e->pystack = pystack;
    write_end(e, w);
}

unsigned long fdl_table_reads_given_up;

static int read_entry(const struct fdl_entry *e, struct fdl_entry *out)
{
    /* Bounded: a signal handler that interrupted this thread's own writer would otherwise
     * spin forever. After the retries the record is taken as it is. */
    for (int tries = 0; tries < 64; tries++) {
        uint32_t s1 = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);
        memcpy(out, e, sizeof(*out));
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        uint32_t s2 = __atomic_load_n(&e->seq, __ATOMIC_RELAXED);
        if (s1 == s2 && !(s1 & 1))
            return out->state;
    }
    __atomic_fetch_add(&fdl_table_reads_given_up, 1, __ATOMIC_RELAXED);
    return out->state;
}

int fdl_table_get(int fd, struct fdl_entry *out)
{
    const struct fdl_entry *e = slot(fd, 0);
    if (!e) {
        memset(out, 0, sizeof(*out));
        return FDL_FREE;
    }
    return read_entry(e, out);
}

void fdl_table_inherit_all(void)
{
    int nchunks = __atomic_load_n(&chunk_limit, __ATOMIC_ACQUIRE);
    for (int ci = 0; ci < nchunks; ci++) {
        struct fdl_entry *c = __atomic_load_n(&chunks[ci], __ATOMIC_ACQUIRE);
        for (int i = 0; c && i < FDL_TABLE_CHUNK; i++) {
            struct fdl_entry *e = &c[i];
            if (__atomic_load_n(&e->state, __ATOMIC_RELAXED) != FDL_TRACKED)
                continue;
            uint32_t w = write_begin(e);
            if (e->state == FDL_TRACKED)
                __atomic_store_n(&e->state, FDL_INHERITED, __ATOMIC_RELAXED);
            write_end(e, w);
        }
    }
}

int fdl_table_limit(void)
{
    return __atomic_load_n(&chunk_limit, __ATOMIC_ACQUIRE) * FDL_TABLE_CHUNK;
}

int fdl_table_each(int lo, int hi, int (*fn)(int fd, const struct fdl_entry *e, void *arg),
                   void *arg)
{
    int lim = fdl_table_limit();
    if (lo < 0)
        lo = 0;
    if (hi >= lim)
        hi = lim - 1;
    for (int fd = lo; fd <= hi;) {
        const struct fdl_entry *c = chunk_of(fd, 0);
        if (!c) {
            fd = (fd / FDL_TABLE_CHUNK + 1) * FDL_TABLE_CHUNK;
            continue;
        }
        int end = (fd / FDL_TABLE_CHUNK + 1) * FDL_TABLE_CHUNK;
        for (; fd < end && fd <= hi; fd++) {
            const struct fdl_entry *e = &c[fd % FDL_TABLE_CHUNK];
            if (__atomic_load_n(&e->state, __ATOMIC_RELAXED) == FDL_FREE)
                continue;
            struct fdl_entry copy;
            if (read_entry(e, &copy) != FDL_FREE) {
                int r = fn(fd, &copy, arg);
                if (r)
                    return r;
            }
        }
    }
    return 0;
}
