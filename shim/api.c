/* The public C API (include/fdleak.h): checkpoints, and raw dumps of the descriptors acquired
 * since one and still open, written to a descriptor the caller gives. Called by the program
 * in normal context (a test runner between tests), never from the wrappers or a handler.
 *
 * A checkpoint is a time of the coarse clock that acquisitions already stamp their records
 * with (CLOCK_MONOTONIC_COARSE, read after the real call): no counter is added to the hot
 * path. The clock's tick (1-10 ms) is too coarse to order an acquisition and a checkpoint in
 * the same tick, so the checkpoint makes the tick its own: if a descriptor acquired in the
 * current tick is still open, it waits for the next tick and returns that. Then every
 * acquisition that completed before the call carries a time below the checkpoint, and every
 * one that starts after it returns reads a time at or above it: "acquired since" is
 * time_ns >= checkpoint, exact, whatever reused the number in between (a reused number has a
 * new record with a new time). An acquisition racing with the call on another thread may fall
 * on either side, as it would with any counter. */
#include "../include/fdleak.h"
#include "dump.h"

#include <errno.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define FDL_API __attribute__((visibility("default")))
/* How long a checkpoint waits for the coarse clock to tick (it ticks every 1-10 ms). */
#define TICK_POLL_NS 500000L
#define TICK_POLLS 200

static uint64_t coarse_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int open_since(int fd, const struct fdl_entry *e, void *arg)
{
    (void)fd;
    return e->state == FDL_TRACKED && e->time_ns >= *(const uint64_t *)arg;
}

FDL_API uint64_t fdleak_checkpoint(void)
{
    uint64_t t = coarse_now();
    if (!fdl_table_each(0, fdl_table_limit(), open_since, &t))
        return t ? t : 1;
    for (int i = 0; i < TICK_POLLS; i++) {
        struct timespec ts = {0, TICK_POLL_NS};
        syscall(SYS_nanosleep, &ts, NULL);
        uint64_t now = coarse_now();
        if (now > t)
            return now;
    }
    return t + 1; /* a clock that does not tick: records stamped t count as before */
}

FDL_API int fdleak_report_since(uint64_t checkpoint, int out_fd, unsigned flags)
{
    int count_only = (flags & FDLEAK_COUNT_ONLY) != 0;
    if (out_fd < 0 && !count_only) {
        errno = EBADF;
        return -1;
    }
    if (__atomic_load_n(&fdl_ready, __ATOMIC_ACQUIRE) == 0) {
        errno = EAGAIN;
        return -1;
    }
    struct fdl_api_req api = {
        .since = checkpoint, .fd = count_only ? -1 : out_fd, .count_only = count_only, .count = -1};
    struct fdl_dump_req r = {.trigger = FDC_TRIG_API, .safe = 1, .snapshot_token = -1, .api = &api};
    fdl_dump(&r);
    if (api.count < 0) {
        errno = EAGAIN;
        return -1;
    }
    if (api.err) {
        errno = api.err;
        return -1;
    }
    return api.count;
}

/* Keeps the records the request asks for (see fdleak_report_since), in place. */
void fdl_api_filter(struct fdl_scratch *s, const struct fdl_api_req *api)
{
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) {
        const struct fdl_rec *r = &s->recs[i];
        if (r->fd == api->fd)
            continue;
        if (api->since && (r->origin != FDC_ORIGIN_TRACKED || r->e.time_ns < api->since))
            continue;
        s->recs[k++] = *r;
    }
    s->n = k;
}
