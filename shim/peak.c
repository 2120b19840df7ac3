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
static struct {
    long n;
    long time_ns;
    char pad[64 - 2 * sizeof(long)];
} peak __attribute__((aligned(64)));
static long next_dump = FDC_PEAK_FIRST;

/* Shards are read while others write theirs: the sum is exact whenever no other thread is
 * between its acquisition and its own check, which is when a new peak can matter. */
static long live_sum(void)
{
    long t = 0;
    for (int i = 0; i < FDL_STAT_SHARDS; i++)
        t += __atomic_load_n(&live.shard[i].v, __ATOMIC_RELAXED);
    return t;
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
    fdl_stat_add(&live, n);
    long now = live_sum();
    if (unlikely(now > __atomic_load_n(&peak.n, __ATOMIC_RELAXED)))
        peak_raise(now);
}

void fdl_peak_released(long n)
{
    fdl_stat_add(&live, -n);
}

long fdl_peak_get(uint64_t *time_ns)
{
    *time_ns = (uint64_t)__atomic_load_n(&peak.time_ns, __ATOMIC_RELAXED);
    return __atomic_load_n(&peak.n, __ATOMIC_RELAXED);
}
