/* A design probe for row 1 (not the shim): what a stack capture costs 31 frames deep, with
 * libunwind's unw_backtrace as the shim uses it, and with a "verified reuse" of the previous
 * capture, which the shim does not do today:
 *
 *   The first capture from a call site unwinds with unw_step and records, for each frame,
 *   the stack address that holds its return address (the caller's CFA - 8 on x86_64) and the
 *   value there. The next capture from the same return address with the same stack pointer
 *   compares those slots with the recorded values; if all still match, the stack is the one
 *   recorded and its id is reused without unwinding. Otherwise it unwinds again.
 *
 *   proto_capture unw|reuse|check N [FRAMES]
 *     unw    N captures with unw_backtrace(FRAMES + 1 frames)
 *     reuse  N captures with verified reuse (FRAMES frames verified)
 *     miss   N captures with verified reuse alternating between two call paths, so that
 *            every capture is refused and unwound again: the cost of the slow path
 *     check  N captures alternating between two call paths of the same depth, comparing
 *            every reuse result with unw_backtrace (prints mismatches=0 when right)
 *
 * The slow path (a refused or first capture) finds the slots one of two ways, chosen by
 * PROTO_SLOW in the environment: `step` (default) walks with unw_step and reads each frame's
 * CFA, exact but slow; `scan` calls unw_backtrace and then scans the stack words upward from
 * the current stack pointer for each returned IP in order (bounded by the thread's stack).
 *
 * Output: `mode=... n=... frames=... ns_per_capture=... hits=...`. */
#define _GNU_SOURCE
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAXF 64

static int frames = 16;
static long iters;
static int mode; /* 0 unw, 1 reuse, 2 check, 3 miss */
static long hits, mismatches;

static struct {
    uintptr_t ra, sp;
    int n;
    uintptr_t slot[MAXF], val[MAXF];
    uintptr_t ips[MAXF];
} memo;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Full unwind with unw_step, recording the return-address slots. */
__attribute__((noinline)) static int slow_capture(uintptr_t *ips, int max)
{
    unw_context_t uc;
    unw_cursor_t c;
    unw_getcontext(&uc);
    if (unw_init_local(&c, &uc) < 0)
        return 0;
    int n = 0, first = 1;
    memo.n = 0;
    while (n < max && unw_step(&c) > 0) {
        unw_word_t ip, sp;
        unw_get_reg(&c, UNW_REG_IP, &ip);
        unw_get_reg(&c, UNW_REG_SP, &sp);
        /* The first step lands in capture_reuse, whose return address from slow_capture
         * lives in a frame the fast path never builds: not recorded. */
        if (first) {
            first = 0;
            continue;
        }
        /* ip is the return address into this frame; it was pushed just below the callee's
         * CFA, which is this frame's sp after the step. */
        memo.slot[memo.n] = (uintptr_t)sp - 8;
        memo.val[memo.n] = (uintptr_t)ip;
        memo.n++;
        ips[n++] = (uintptr_t)ip;
    }
    memcpy(memo.ips, ips, (size_t)n * sizeof(uintptr_t));
    return n;
}

static int slow_scan;
static uintptr_t stack_end;

/* unw_backtrace, then each returned IP's slot found by scanning the stack upward in order. */
__attribute__((noinline)) static int scan_capture(uintptr_t *ips, int max)
{
    /* Not on the stack: the scan below must not find the IPs in a copy of its own. For the
     * same reason the callers in this probe keep their IP arrays in static storage: a
     * caller's local copy of an earlier stack, above the frames, would be found before the
     * real slot. */
    static __thread void *buf[MAXF + 2];
    int n = unw_backtrace(buf, max + 2);
    /* buf[0] is in scan_capture, buf[1] the return address into capture_reuse: skip both,
     * as slow_capture skips its first frame. */
    n -= 2;
    if (n < 0)
        n = 0;
    volatile char here = 0;
    const uintptr_t *w = (const uintptr_t *)(((uintptr_t)&here) & ~(uintptr_t)7);
    const uintptr_t *end = (const uintptr_t *)stack_end;
    memo.n = 0;
    int k = 0;
    /* The slot of buf[1] (into capture_reuse) lies below the ones we record: find it first so
     * the scan starts above it. */
    while (w < end && *w != (uintptr_t)buf[1])
        w++;
    w++;
    for (; k < n; k++) {
        uintptr_t ip = (uintptr_t)buf[k + 2];
        while (w < end && *w != ip)
            w++;
        if (w >= end)
            break;
        memo.slot[memo.n] = (uintptr_t)w;
        memo.val[memo.n] = ip;
        memo.n++;
        ips[k] = ip;
        w++;
    }
    memcpy(memo.ips, ips, (size_t)k * sizeof(uintptr_t));
    return k;
}

__attribute__((noinline)) static int capture_reuse(uintptr_t *ips, int max)
{
    volatile char anchor = 0;
    uintptr_t ra = (uintptr_t)__builtin_return_address(0), sp = (uintptr_t)&anchor;
    if (memo.ra == ra && memo.sp == sp && memo.n > 0) {
        int ok = 1;
        for (int i = 0; i < memo.n; i++)
            if (*(const uintptr_t *)memo.slot[i] != memo.val[i]) {
                ok = 0;
                break;
            }
        if (ok) {
            hits++;
            int n = memo.n < max ? memo.n : max;
            memcpy(ips, memo.ips, (size_t)n * sizeof(uintptr_t));
            return n;
        }
    }
    memo.ra = ra;
    memo.sp = sp;
    return slow_scan ? scan_capture(ips, max) : slow_capture(ips, max);
}

__attribute__((noinline)) static int capture_unw(uintptr_t *ips, int max)
{
    void *buf[MAXF + 2];
    int n = unw_backtrace(buf, max + 1);
    n -= 1; /* capture_unw itself */
    if (n < 0)
        n = 0;
    memcpy(ips, buf + 1, (size_t)n * sizeof(void *));
    return n;
}

static void check_one(void)
{
    static uintptr_t a[MAXF], b[MAXF];
    int na = capture_reuse(a, frames);
    int nb = capture_unw(b, frames);
    /* capture_unw's caller frame is this function at another return address: compare from
     * the second frame on, which is the common path. */
    if (na != nb || memcmp(a + 1, b + 1, (size_t)(na - 1) * sizeof(uintptr_t)) != 0)
        mismatches++;
}

__attribute__((noinline)) static void loop(void)
{
    static uintptr_t ips[MAXF];
    if (mode == 0)
        for (long i = 0; i < iters; i++)
            capture_unw(ips, frames);
    else if (mode == 1)
        for (long i = 0; i < iters; i++)
            capture_reuse(ips, frames);
    else if (mode == 3)
        capture_reuse(ips, frames);
    else
        check_one();
}

__attribute__((noinline)) static long rec_a(int d);
__attribute__((noinline)) static long rec_b(int d);

__attribute__((noinline)) static long rec_a(int d)
{
    long r = 0;
    if (d <= 0)
        loop();
    else
        r = rec_a(d - 1);
    __asm__ volatile("" : "+r"(r) : : "memory");
    return r + 1;
}

__attribute__((noinline)) static long rec_b(int d)
{
    long r = 0;
    if (d <= 0)
        loop();
    else
        r = rec_b(d - 1);
    __asm__ volatile("" : "+r"(r) : : "memory");
    return r + 2; /* differs from rec_a, so the compiler cannot fold the two */
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: proto_capture unw|reuse|check N [FRAMES]\n");
        return 2;
    }
    mode = !strcmp(argv[1], "unw")     ? 0
           : !strcmp(argv[1], "reuse") ? 1
           : !strcmp(argv[1], "miss")  ? 3
                                       : 2;
    iters = atol(argv[2]);
    if (argc > 3)
        frames = atoi(argv[3]);
    if (frames < 1 || frames > MAXF - 4)
        return 2;
    const char *slow = getenv("PROTO_SLOW");
    slow_scan = slow && !strcmp(slow, "scan");
    pthread_attr_t at;
    void *lo;
    size_t sz;
    if (pthread_getattr_np(pthread_self(), &at) == 0 && pthread_attr_getstack(&at, &lo, &sz) == 0)
        stack_end = (uintptr_t)lo + sz;
    else
        return 1;
    if (mode == 2) {
        /* Two call paths of equal depth, two captures from each in turn: the memo's key (return
         * address, stack pointer) is the same for both, only the slots further up differ, so
         * every other capture must be refused and unwound again. */
        for (long i = 0; i < iters; i++)
            ((i >> 1) & 1) ? rec_a(24) : rec_b(24);
        printf("mode=check slow=%s n=%ld frames=%d hits=%ld mismatches=%ld\n",
               slow_scan ? "scan" : "step", iters, frames, hits, mismatches);
        return mismatches != 0;
    }
    if (mode == 3) {
        rec_a(24);
        rec_b(24);
        hits = 0;
        double t0 = now();
        for (long i = 0; i < iters; i++)
            (i & 1) ? rec_a(24) : rec_b(24);
        double t1 = now();
        printf("mode=miss slow=%s n=%ld frames=%d ns_per_capture=%.1f hits=%ld\n",
               slow_scan ? "scan" : "step", iters, frames, (t1 - t0) * 1e9 / (double)iters, hits);
        return 0;
    }
    long save = iters;
    iters = 64; /* warm-up: libunwind's first capture, page faults */
    rec_a(24);
    iters = save;
    hits = 0;
    double t0 = now();
    rec_a(24);
    double t1 = now();
    printf("mode=%s n=%ld frames=%d ns_per_capture=%.1f hits=%ld\n", argv[1], iters, frames,
           (t1 - t0) * 1e9 / (double)iters, hits);
    return 0;
}
