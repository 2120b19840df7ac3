/* The peak: the process's highest live count of descriptors (tracked + inherited) and when it
 * was reached, written into every dump, and FDLEAK_PEAK's dumps at geometric steps of it
 * (FDC_PEAK_FIRST, then FDC_PEAK_FACTOR times the last: O(log N) dumps for N descriptors).
 * The live count is sharded by thread like the statistics (track.c), so acquisitions on
 * different threads never write one cache line; the maximum is read with a relaxed load and
 * written (CAS) only when a new maximum is reached, which a process at a steady state never
 * does. Kept apart from track.c, which another change is reworking: two calls join them. */
#include "fdleak.h"

#include <time.h>

static struct fdl_stat live;
/* Bit i: shard i of `live` has counted something. A single-threaded process (and most
 * processes acquire from few threads) then sums one or a few shards, not all of them. */
static uint32_t used;
static struct {
    long n;
    long time_ns;
    char pad[64 - 2 * sizeof(long)];
} peak __attribute__((aligned(64)));
static long next_dump = FDC_PEAK_FIRST;

/* Adds n to this thread's shard; with sum, returns the live count of the process (else 0).
 * Shards are read while others write theirs: the sum is exact whenever no other thread is
 * between its acquisition and its own check, which is when a new peak can matter. */
static inline long live_add(long n, int sum)
{
    unsigned i = fdl_tid() % FDL_STAT_SHARDS;
    uint32_t bit = 1u << i, m = __atomic_load_n(&used, __ATOMIC_RELAXED);
    if (unlikely(!(m & bit)))
        m = __atomic_or_fetch(&used, bit, __ATOMIC_RELAXED);
    long now = __atomic_add_fetch(&live.shard[i].v, n, __ATOMIC_RELAXED);
    if (!sum)
        return 0;
    if (likely(m == bit))
        return now;
    now = 0;
    for (uint32_t rest = m; rest; rest &= rest - 1)
        now += __atomic_load_n(&live.shard[__builtin_ctz(rest)].v, __ATOMIC_RELAXED);
    return now;
}

static void peak_dump(long now)
{
    long next = __atomic_load_n(&next_dump, __ATOMIC_RELAXED);
    if (now < next || !fdl_ready)
        return;
    /* one thread per step; the next step from the count reached, not from the step */
    if (!__atomic_compare_exchange_n(&next_dump, &next, now * FDC_PEAK_FACTOR, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_RELAXED))
        return;
    struct fdl_dump_req r = {
        .trigger = FDC_TRIG_PEAK, .safe = 1, .snapshot_token = -1, .threshold = now};
    fdl_dump(&r);
}

static __attribute__((noinline)) void peak_raise(long now)
{
    long p = __atomic_load_n(&peak.n, __ATOMIC_RELAXED);
    while (now > p) {
        if (__atomic_compare_exchange_n(&peak.n, &p, now, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME_COARSE, &ts);
            __atomic_store_n(&peak.time_ns, ts.tv_sec * 1000000000L + ts.tv_nsec, __ATOMIC_RELAXED);
            if (fdl_cfg.peak)
                peak_dump(now);
            return;
        }
    }
}

void fdl_peak_acquired(long n)
{
    long now = live_add(n, 1);
    if (unlikely(now > __atomic_load_n(&peak.n, __ATOMIC_RELAXED)))
        peak_raise(now);
}

void fdl_peak_released(long n)
{
    live_add(-n, 0);
}

long fdl_peak_get(uint64_t *time_ns)
{
    *time_ns = (uint64_t)__atomic_load_n(&peak.time_ns, __ATOMIC_RELAXED);
    return __atomic_load_n(&peak.n, __ATOMIC_RELAXED);
}
