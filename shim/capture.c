/* Stack capture: libunwind's unw_backtrace (its cached fast path, ~5 ns a frame warm), with
 * the shim's own frames removed. libunwind is dlopen()ed RTLD_LOCAL on the first capture
 * instead of linked: libunwind.so.8 exports unversioned _Unwind_* and backtrace, and a linked
 * copy was seen taking over libstdc++'s exception unwinding in the host. RTLD_LOCAL keeps its
 * symbols out of the global scope. Symbolization never happens here (see tools/). */
#include "fdleak.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <time.h>

typedef int (*backtrace_fn)(void **, int);

static backtrace_fn unw_bt;
static int state;                  /* 0 untried, 1 loading, 2 ready, 3 failed */
static uintptr_t self_lo, self_hi; /* our own text, frames there are dropped */
/* How many of our own frames sit on top of a capture (capture, track, wrapper; inlining
 * decides). Learned from the captures themselves, so each unwinds only what it keeps:
 * unwinding costs ~6 ns a frame. */
static int own_frames = 4;

static int find_self(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    uintptr_t probe = (uintptr_t)arg;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (probe >= lo && probe < hi) {
            self_lo = lo;
            self_hi = hi;
            return 1;
        }
    }
    return 0;
}

static int load(void)
{
    int expect = 0;
    if (!__atomic_compare_exchange_n(&state, &expect, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        /* Another thread is loading (a dlopen: milliseconds). Wait for it rather than record
         * an empty stack, but bounded: that thread's dlopen could need the loader lock this
         * thread holds (a library constructor opening a file). */
        for (int i = 0; i < 2000 && expect == 1; i++) {
            struct timespec ts = {0, 50000};
            nanosleep(&ts, NULL);
            expect = __atomic_load_n(&state, __ATOMIC_ACQUIRE);
        }
        return expect == 2;
    }
    dl_iterate_phdr(find_self, (void *)(uintptr_t)&load);
    void *h = dlopen(FDL_UNWIND_SONAME, RTLD_LAZY | RTLD_LOCAL);
    backtrace_fn fn = h ? (backtrace_fn)dlsym(h, "unw_backtrace") : NULL;
    if (!fn) {
        static int said;
        fdl_msg_once(&said, "cannot load " FDL_UNWIND_SONAME " (", dlerror(),
                     "); descriptors are tracked without stacks");
        __atomic_store_n(&state, 3, __ATOMIC_RELEASE);
        return 0;
    }
    unw_bt = fn;
    __atomic_store_n(&state, 2, __ATOMIC_RELEASE);
    return 1;
}

/* Fork safety. On a cache miss libunwind takes its own mutex (and the loader lock in
 * dl_iterate_phdr); a fork while another thread holds one leaves it held forever in the child,
 * whose next capture of a new code path would hang. So fork waits until no thread is
 * unwinding. Each thread announces its captures in a slot of its own (its own cache line: no
 * shared read-modify-write on the hot path), and a capture that sees a fork pending backs off
 * with an empty stack. */
#define SLOTS 1024
static struct {
    uint32_t owner; /* tid, 0 = free */
    uint32_t busy;
    char pad[56];
} slots[SLOTS];
static int fork_pending;
static pthread_key_t slot_key;
static int slot_key_ok;
static __thread int my_slot; /* slot index + 1, 0 = none yet; -1 = none available */
static int overflow_busy;    /* threads beyond SLOTS share this counter */

static void slot_release(void *arg)
{
    int i = (int)(intptr_t)arg - 1;
    if (i >= 0 && i < SLOTS)
        __atomic_store_n(&slots[i].owner, 0, __ATOMIC_RELEASE);
}

static uint32_t *slot_claim(void)
{
    if (likely(my_slot > 0))
        return &slots[my_slot - 1].busy;
    if (my_slot == 0) {
        uint32_t tid = fdl_tid();
        for (int i = 0; i < SLOTS; i++) {
            uint32_t free_ = 0;
            if (__atomic_load_n(&slots[i].owner, __ATOMIC_RELAXED) == 0 &&
                __atomic_compare_exchange_n(&slots[i].owner, &free_, tid, 0, __ATOMIC_ACQ_REL,
                                            __ATOMIC_RELAXED)) {
                my_slot = i + 1;
                if (slot_key_ok) /* frees the slot when the thread exits; no allocation */
                    pthread_setspecific(slot_key, (void *)(intptr_t)(i + 1));
                return &slots[i].busy;
            }
        }
        my_slot = -1;
    }
    return NULL;
}

static int capture_begin(uint32_t **busy)
{
    *busy = slot_claim();
    if (*busy)
        __atomic_exchange_n(*busy, 1, __ATOMIC_SEQ_CST); /* a full barrier before the check */
    else
        __atomic_fetch_add(&overflow_busy, 1, __ATOMIC_SEQ_CST);
    if (!__atomic_load_n(&fork_pending, __ATOMIC_SEQ_CST))
        return 1;
    if (*busy)
        __atomic_store_n(*busy, 0, __ATOMIC_RELEASE);
    else
        __atomic_fetch_sub(&overflow_busy, 1, __ATOMIC_RELEASE);
    return 0;
}

static void capture_end(uint32_t *busy)
{
    if (busy)
        __atomic_store_n(busy, 0, __ATOMIC_RELEASE);
    else
        __atomic_fetch_sub(&overflow_busy, 1, __ATOMIC_RELEASE);
}

void fdl_capture_init(void)
{
    slot_key_ok = pthread_key_create(&slot_key, slot_release) == 0;
}

void fdl_capture_fork_prepare(void)
{
    __atomic_store_n(&fork_pending, 1, __ATOMIC_SEQ_CST);
    /* Captures take microseconds; never hold fork up for more than ~100 ms. */
    for (int round = 0; round < 1000; round++) {
        int any = __atomic_load_n(&overflow_busy, __ATOMIC_ACQUIRE) != 0;
        for (int i = 0; i < SLOTS && !any; i++)
            any = __atomic_load_n(&slots[i].busy, __ATOMIC_ACQUIRE) &&
                  i != my_slot - 1; /* not ourselves: fork from inside a capture cannot be */
        if (!any)
            return;
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
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
            slots[i].busy = 0;
        }
    if (my_slot > 0)
        slots[my_slot - 1].owner = fdl_tid();
    overflow_busy = 0;
    __atomic_store_n(&fork_pending, 0, __ATOMIC_RELEASE);
}

int fdl_capture(uintptr_t *ips, int max)
{
    /* The first load counts as unwinding too: a fork in the middle of its dlopen would leave
     * the child with a half-loaded libunwind. */
    uint32_t *busy;
    if (unlikely(!capture_begin(&busy)))
        return 0;
    if (unlikely(__atomic_load_n(&state, __ATOMIC_ACQUIRE) != 2) && !load()) {
        capture_end(busy);
        return 0;
    }
    void *buf[FDC_DEPTH_MAX + 8];
    /* own_frames <= 8, so max + own fits */
    if (max > FDC_DEPTH_MAX)
        max = FDC_DEPTH_MAX;
    int own = __atomic_load_n(&own_frames, __ATOMIC_RELAXED);
    int n = unw_bt(buf, max + own);
    int skip = 0;
    while (skip < n && (uintptr_t)buf[skip] >= self_lo && (uintptr_t)buf[skip] < self_hi)
        skip++;
    if (unlikely(skip > own && skip <= 8))
        __atomic_store_n(&own_frames, skip, __ATOMIC_RELAXED);
    n -= skip;
    if (n > max)
        n = max;
    if (n < 0)
        n = 0;
    capture_end(busy);
    memcpy(ips, buf + skip, (size_t)n * sizeof(void *));
    return n;
}
