/* Stack capture: libunwind's unw_backtrace (its cached fast path, ~5 ns a frame warm), with
 * the shim's own frames removed. libunwind is dlopen()ed RTLD_LOCAL on the first capture
 * instead of linked: libunwind.so.8 exports unversioned _Unwind_* and backtrace, and a linked
 * copy was seen taking over libstdc++'s exception unwinding in the host. RTLD_LOCAL keeps its
 * symbols out of the global scope. Symbolization never happens here (see tools/).
 *
 * Also owned here: the host's stack. libunwind needs a context and a cursor (~2 KiB) plus its
 * own frames, more on a cache miss, and the first capture dlopen()s; a wrapped call on a
 * 16 KiB thread stack or an 8 KiB signal stack must not overflow where the bare call would
 * not. So unwinding (and loading) runs on a private per-thread stack, mapped on the thread's
 * first capture and unmapped at its exit, and the frames it fills live in per-thread buffers,
 * one per nesting level. And the fork guard: see "Fork safety" below.
 *
 * Known gap: a signal handler that siglongjmp()s out of a warm capture is undone at the next
 * entry (init.c's heal), but if it lands while libunwind is inside dl_iterate_phdr (a cache
 * miss) the loader lock stays taken by this thread; blocking signals around every capture
 * would cost two system calls each. */
#include "fdleak.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

typedef int (*backtrace_fn)(void **, int);

enum load_state { LOAD_UNTRIED, LOAD_RUNNING, LOAD_READY, LOAD_FAILED };

struct text {
    uintptr_t lo, hi;
};

static backtrace_fn unw_bt;
static int state;                  /* enum load_state */
static struct text self, unwinder; /* frames in ours are dropped; calls from either are ours */
/* How many of our own frames sit on top of a capture (capture, track, wrapper; inlining
 * decides; the private stack's trampoline is one more). Learned from the captures themselves, so
 * each unwinds only what it keeps: unwinding costs ~6 ns a frame. At most OWN_MAX. */
#define OWN_MAX 8
static int own_frames = 5;

/* Per thread, mapped on the thread's first capture: a guard page, the private stack, and above
 * it the capture buffers, one per nesting level (a signal handler's acquisition interrupting
 * ours fills its own). Not TLS: glibc carves static TLS out of every thread's stack, even one
 * the program sized itself. The stack is 256 KiB of address space, committed only as touched:
 * a signal arriving while libunwind runs is handled on it, so it is far roomier than
 * libunwind alone needs. */
#define PRIV_STACK_BYTES (256u * 1024)
#define GUARD_BYTES 4096u
#define PAGE_BYTES 4096u
/* The last level-0 stacks stored (see track.c), a few: a loop acquiring from several places
 * in turn (a Python loop opening a file and a socket: the same few C stacks under every
 * Python line) finds its stack here for a compare, where hashing and probing the store cost
 * ~450 instructions. Replaced round robin. */
#define LAST_STACKS 4
struct priv_bufs {
    void *ips[FDL_NEST_MAX][FDC_DEPTH_MAX + OWN_MAX];
    struct {
        uint32_t id, n;
        uintptr_t ips[FDC_DEPTH_MAX];
    } last[LAST_STACKS];
    uint32_t last_next; /* the entry replaced next */
    uint32_t last_hit;  /* the entry found last: tried first */
};
#define PRIV_MAP_BYTES                                                                             \
    ((GUARD_BYTES + PRIV_STACK_BYTES + sizeof(struct priv_bufs) + PAGE_BYTES - 1) &                \
     ~(PAGE_BYTES - 1))
_Static_assert(PRIV_STACK_BYTES % 16 == 0, "the stack top is 16-aligned");
enum priv_state { PRIV_NONE, PRIV_MAPPED, PRIV_UNAVAILABLE };
static __thread struct {
    char *base;        /* of the mapping */
    int state;         /* enum priv_state; UNAVAILABLE: mmap refused, or the thread is exiting */
    int overflow_held; /* this thread counts in overflow_busy (see below) */
} priv;

static int find_text(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct text *t = arg;
    uintptr_t probe = t->lo;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (probe >= lo && probe < hi) {
            t->lo = lo;
            t->hi = hi;
            return 1;
        }
    }
    return 0;
}

/* The executable segment holding `probe`, or an empty range. */
static struct text text_of(const void *probe)
{
    struct text t = {(uintptr_t)probe, 0};
    if (dl_iterate_phdr(find_text, &t) != 1)
        t.lo = t.hi = 0;
    return t;
}

static int in_text(const struct text *t, uintptr_t a)
{
    return a >= t->lo && a < t->hi;
}

int fdl_capture_is_ours(const void *caller)
{
    uintptr_t a = (uintptr_t)caller;
    return in_text(&self, a) || in_text(&unwinder, a);
}

static int load(void)
{
    int expect = LOAD_UNTRIED;
    if (!__atomic_compare_exchange_n(&state, &expect, LOAD_RUNNING, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        /* Another thread is loading (a dlopen: milliseconds). Wait for it rather than record
         * an empty stack, but bounded: that thread's dlopen could need the loader lock this
         * thread holds (a library constructor opening a file). */
        for (int i = 0; i < 2000 && expect == LOAD_RUNNING; i++) {
            struct timespec ts = {0, 50000};
            nanosleep(&ts, NULL);
            expect = __atomic_load_n(&state, __ATOMIC_ACQUIRE);
        }
        return expect == LOAD_READY;
    }
    void *h = dlopen(FDL_UNWIND_SONAME, RTLD_LAZY | RTLD_LOCAL);
    backtrace_fn fn = h ? (backtrace_fn)dlsym(h, "unw_backtrace") : NULL;
    if (!fn) {
        static int said;
        fdl_msg_once(&said, "cannot load " FDL_UNWIND_SONAME " (", dlerror(),
                     "); descriptors are tracked without stacks");
        __atomic_store_n(&state, LOAD_FAILED, __ATOMIC_RELEASE);
        return 0;
    }
    unwinder = text_of((const void *)(uintptr_t)fn);
    unw_bt = fn;
    __atomic_store_n(&state, LOAD_READY, __ATOMIC_RELEASE);
    return 1;
}

static long load_thunk(void *a, long b)
{
    (void)a;
    (void)b;
    return load();
}

/* Fork safety. On a cache miss libunwind takes its own mutex (and the loader lock in
 * dl_iterate_phdr); a fork while another thread holds one leaves it held forever in the child,
 * whose next capture of a new code path would hang. So fork waits until no thread is
 * unwinding. Each thread announces its captures in a slot of its own (its own cache line: no
 * shared read-modify-write on the hot path), and a capture that sees a fork pending backs off
 * with an empty stack. */
#define SLOTS 1024
#define CACHE_LINE 64
/* Waits of FORK_WAIT_NS, at most FORK_WAIT_ROUNDS of them: captures take microseconds, and
 * fork is never held up for more than ~100 ms. */
#define FORK_WAIT_NS 100000
#define FORK_WAIT_ROUNDS 1000
static struct {
    uint32_t owner;     /* tid, 0 = free */
    uint32_t seq;       /* odd while the owner captures */
    uint32_t stale_seq; /* an odd seq a fork already waited out: left by an abandoned capture */
    char pad[CACHE_LINE - 3 * sizeof(uint32_t)];
} slots[SLOTS];
_Static_assert(sizeof(slots[0]) == CACHE_LINE, "one slot per cache line");
static int fork_pending;
static pthread_key_t thread_key; /* its destructor frees the slot and the private stack */
static int thread_key_ok;
static __thread int my_slot; /* slot index + 1, 0 = none yet; -1 = none available */
static int overflow_busy;    /* threads beyond SLOTS share this counter */

static void thread_exit(void *arg)
{
    (void)arg;
    int i = my_slot - 1;
    if (i >= 0 && i < SLOTS)
        __atomic_store_n(&slots[i].owner, 0, __ATOMIC_RELEASE);
    my_slot = -1;
    char here;
    /* Not the stack we are running on: a handler on it could have called pthread_exit. */
    if (priv.state == PRIV_MAPPED && !fdl_capture_on_private_stack((uintptr_t)&here))
        munmap(priv.base, PRIV_MAP_BYTES);
    priv.state = PRIV_UNAVAILABLE; /* later acquisitions in this thread get no stack */
}

/* Makes the key's destructor run for this thread; no allocation (keys below 32 are inline). */
static void thread_key_arm(void)
{
    if (thread_key_ok)
        pthread_setspecific(thread_key, (void *)1);
}

static uint32_t *slot_claim(void)
{
    if (likely(my_slot > 0))
        return &slots[my_slot - 1].seq;
    if (my_slot == 0) {
        uint32_t tid = fdl_tid();
        for (int i = 0; i < SLOTS; i++) {
            uint32_t free_ = 0;
            if (__atomic_load_n(&slots[i].owner, __ATOMIC_RELAXED) == 0 &&
                __atomic_compare_exchange_n(&slots[i].owner, &free_, tid, 0, __ATOMIC_ACQ_REL,
                                            __ATOMIC_RELAXED)) {
                my_slot = i + 1;
                thread_key_arm();
                return &slots[i].seq;
            }
        }
        my_slot = -1;
    }
    return NULL;
}

static void capture_end(uint32_t *seq)
{
    if (seq) {
        FDL_ASSERT(__atomic_load_n(seq, __ATOMIC_RELAXED) & 1);
        __atomic_fetch_add(seq, 1, __ATOMIC_RELEASE);
    } else {
        priv.overflow_held = 0;
        __atomic_fetch_sub(&overflow_busy, 1, __ATOMIC_RELEASE);
    }
}

__attribute__((always_inline)) static inline int capture_begin(uint32_t **seq)
{
    *seq = slot_claim();
    if (*seq) {
        FDL_ASSERT(!(__atomic_load_n(*seq, __ATOMIC_RELAXED) & 1));
        __atomic_fetch_add(*seq, 1, __ATOMIC_SEQ_CST); /* a full barrier before the check */
    } else {
        __atomic_fetch_add(&overflow_busy, 1, __ATOMIC_SEQ_CST);
        priv.overflow_held = 1;
    }
    if (!__atomic_load_n(&fork_pending, __ATOMIC_SEQ_CST))
        return 1;
    capture_end(*seq);
    return 0;
}

void fdl_capture_heal(void)
{
    if (my_slot > 0) {
        uint32_t *seq = &slots[my_slot - 1].seq;
        if (__atomic_load_n(seq, __ATOMIC_RELAXED) & 1)
            __atomic_fetch_add(seq, 1, __ATOMIC_RELEASE);
    }
    if (priv.overflow_held) {
        priv.overflow_held = 0;
        __atomic_fetch_sub(&overflow_busy, 1, __ATOMIC_RELEASE);
    }
}

void fdl_capture_init(void)
{
    /* Known before any capture: wrappers ask fdl_capture_is_ours from then on. */
    self = text_of((const void *)(uintptr_t)&load);
    thread_key_ok = pthread_key_create(&thread_key, thread_exit) == 0;
}

/* A capture still running in another thread: its slot is odd, and not one a previous fork
 * already waited out (a thread that siglongjmp'd out of a capture and has not called a
 * wrapper since heals only at its next entry; each such slot costs one fork one wait). */
static int capturing(int i)
{
    uint32_t seq = __atomic_load_n(&slots[i].seq, __ATOMIC_ACQUIRE);
    return (seq & 1) && seq != __atomic_load_n(&slots[i].stale_seq, __ATOMIC_RELAXED);
}

void fdl_capture_fork_prepare(void)
{
    __atomic_store_n(&fork_pending, 1, __ATOMIC_SEQ_CST);
    for (int round = 0; round < FORK_WAIT_ROUNDS; round++) {
        int any = __atomic_load_n(&overflow_busy, __ATOMIC_ACQUIRE) != 0;
        for (int i = 0; i < SLOTS && !any; i++)
            any = i != my_slot - 1 && capturing(i); /* fork from inside our capture cannot be */
        if (!any)
            return;
        struct timespec ts = {0, FORK_WAIT_NS};
        nanosleep(&ts, NULL);
    }
    for (int i = 0; i < SLOTS; i++)
        if (capturing(i))
            __atomic_store_n(&slots[i].stale_seq, __atomic_load_n(&slots[i].seq, __ATOMIC_RELAXED),
                             __ATOMIC_RELAXED);
}

void fdl_capture_fork_parent(void)
{
    __atomic_store_n(&fork_pending, 0, __ATOMIC_RELEASE);
}

void fdl_capture_fork_child(void)
{
    /* Only this thread survives: every other slot is free again. */
    for (int i = 0; i < SLOTS; i++)
        if (i != my_slot - 1) {
            slots[i].owner = 0;
            slots[i].seq = 0;
            slots[i].stale_seq = 0;
        }
    if (my_slot > 0)
        slots[my_slot - 1].owner = fdl_tid();
    overflow_busy = 0;
    priv.overflow_held = 0;
    __atomic_store_n(&fork_pending, 0, __ATOMIC_RELEASE);
}

int fdl_capture_on_private_stack(uintptr_t a)
{
    return priv.state == PRIV_MAPPED && a >= (uintptr_t)priv.base &&
           a - (uintptr_t)priv.base < PRIV_MAP_BYTES;
}

/* Top of this thread's private stack (16-aligned; the capture buffers sit just above it),
 * mapping it on first use; NULL if there is none. Inherited by fork children with the rest of
 * the address space. */
static char *private_stack(void)
{
    if (likely(priv.state == PRIV_MAPPED))
        return priv.base + GUARD_BYTES + PRIV_STACK_BYTES;
    if (priv.state == PRIV_UNAVAILABLE)
        return NULL;
    void *m = mmap(NULL, PRIV_MAP_BYTES, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (m == MAP_FAILED || mprotect(m, GUARD_BYTES, PROT_NONE) != 0) {
        if (m != MAP_FAILED)
            munmap(m, PRIV_MAP_BYTES);
        priv.state = PRIV_UNAVAILABLE;
        return NULL;
    }
    priv.base = m;
    priv.state = PRIV_MAPPED;
    thread_key_arm();
    return priv.base + GUARD_BYTES + PRIV_STACK_BYTES;
}

static struct priv_bufs *bufs(void)
{
    return priv.state == PRIV_MAPPED
               ? (struct priv_bufs *)(priv.base + GUARD_BYTES + PRIV_STACK_BYTES)
               : NULL;
}

static inline int last_is(const struct priv_bufs *b, uint32_t i, const uintptr_t *ips, int n)
{
    return b->last[i].id && b->last[i].n == (uint32_t)n && b->last[i].ips[0] == ips[0] &&
           !memcmp(b->last[i].ips, ips, (size_t)n * sizeof(uintptr_t));
}

/* The other entries, out of line: a loop repeating one stack pays for the first only. */
static __attribute__((noinline)) uint32_t last_id_others(struct priv_bufs *b, uint32_t h,
                                                         const uintptr_t *ips, int n)
{
    for (uint32_t i = 0; i < LAST_STACKS; i++)
        if (i != h && last_is(b, i, ips, n)) {
            b->last_hit = i;
            return b->last[i].id;
        }
    return 0;
}

uint32_t fdl_capture_last_id(const uintptr_t *ips, int n)
{
    struct priv_bufs *b = bufs();
    if (!b || n <= 0)
        return 0;
    uint32_t h = b->last_hit;
    if (likely(last_is(b, h, ips, n)))
        return b->last[h].id;
    return last_id_others(b, h, ips, n);
}

void fdl_capture_set_last(const uintptr_t *ips, int n, uint32_t id)
{
    struct priv_bufs *b = bufs();
    FDL_ASSERT(n >= 0 && n <= FDC_DEPTH_MAX);
    if (!b || n <= 0)
        return;
    uint32_t i = b->last_next++ % LAST_STACKS;
    memcpy(b->last[i].ips, ips, (size_t)n * sizeof(uintptr_t));
    b->last[i].n = (uint32_t)n;
    b->last[i].id = id;
    b->last_hit = i;
}

/* ASan cannot follow a signal handler's siglongjmp from the private stack back to the
 * thread's (it leaves the old frames poisoned and reports false overflows later), so a
 * sanitizer build unwinds on the thread's own stack: the buffers still live up there. */
#ifdef __SANITIZE_ADDRESS__
#define SWITCH_STACKS 0
#else
#define SWITCH_STACKS 1
#endif

/* fn(a, b) on the private stack, or right here if we are on it already. */
__attribute__((always_inline)) static inline long call_on(char *top, void *fn, void *a, long b)
{
    char here;
    if (!SWITCH_STACKS || fdl_capture_on_private_stack((uintptr_t)&here))
        return ((long (*)(void *, long))fn)(a, b);
    return fdl_stack_call(a, b, fn, top);
}

__attribute__((always_inline)) static inline int unwind(char *top, int level, int max,
                                                        const uintptr_t **ips)
{
    void **buf = ((struct priv_bufs *)top)->ips[level];
    if (max > FDC_DEPTH_MAX)
        max = FDC_DEPTH_MAX;
    int own = __atomic_load_n(&own_frames, __ATOMIC_RELAXED), n, skip;
    for (;;) {
        n = (int)call_on(top, (void *)unw_bt, buf, max + own);
        skip = 0;
        while (skip < n && in_text(&self, (uintptr_t)buf[skip]))
            skip++;
        if (likely(skip <= own) || skip > OWN_MAX)
            break;
        __atomic_store_n(&own_frames, skip, __ATOMIC_RELAXED);
        if (n < max + own || own == OWN_MAX)
            break;
        own = OWN_MAX; /* the buffer was full: our extra frames cut the caller's short */
    }
    n -= skip;
    if (n > max)
        n = max;
    if (n < 0)
        n = 0;
    *ips = (const uintptr_t *)(buf + skip);
    return n;
}

__attribute__((always_inline)) static inline int capture(int level, int max, const uintptr_t **ips)
{
    int n = 0;
    uint32_t *seq;
    char *top = private_stack();
    /* The first load counts as unwinding too: a fork in the middle of its dlopen would leave
     * the child with a half-loaded libunwind. */
    if (likely(top) && likely(capture_begin(&seq))) {
        if (likely(__atomic_load_n(&state, __ATOMIC_ACQUIRE) == LOAD_READY) ||
            call_on(top, (void *)load_thunk, NULL, 0))
            n = unwind(top, level, max, ips);
        capture_end(seq);
    }
    return n;
}

/* A thread's first capture maps its private stack, and libunwind sets up its per-thread cache
 * under pthread_once; the process's first also dlopen()s libunwind. A signal handler that
 * siglongjmp()s out of any of that would leave a once-control or the loader lock taken for
 * good, where the program never took one: so these run with signals blocked, once per thread.
 * Warm captures cost too little to block around (two system calls would double them). */
__attribute__((noinline)) static int capture_first(int level, int max, const uintptr_t **ips)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int n = capture(level, max, ips);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return n;
}

int fdl_capture(int level, int max, const uintptr_t **ips)
{
    FDL_ASSERT(level >= 0 && level < FDL_NEST_MAX);
    *ips = NULL;
    /* libunwind is not re-entrant: a signal handler's acquisition that interrupted it is
     * recorded without a stack. Its pipe2/read/write/close are answered without descriptors
     * while this is set (unwind_io.c). */
    if (fdl_tls.in_unwind)
        return 0;
    fdl_tls.in_unwind = 1;
    int n = likely(priv.state == PRIV_MAPPED) ? capture(level, max, ips)
                                              : capture_first(level, max, ips);
    fdl_tls.in_unwind = 0;
    return n;
}
