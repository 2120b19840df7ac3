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
 * Output: `mode=... n=... frames=... ns_per_capture=... hits=...`. */
#define UNW_LOCAL_ONLY
#include <libunwind.h>
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
    return slow_capture(ips, max);
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
    uintptr_t a[MAXF], b[MAXF];
    int na = capture_reuse(a, frames);
    int nb = capture_unw(b, frames);
    /* capture_unw's caller frame is this function at another return address: compare from
     * the second frame on, which is the common path. */
    if (na != nb || memcmp(a + 1, b + 1, (size_t)(na - 1) * sizeof(uintptr_t)) != 0)
        mismatches++;
}

__attribute__((noinline)) static void loop(void)
{
    uintptr_t ips[MAXF];
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
    if (mode == 2) {
        /* Two call paths of equal depth, two captures from each in turn: the memo's key (return
         * address, stack pointer) is the same for both, only the slots further up differ, so
         * every other capture must be refused and unwound again. */
        for (long i = 0; i < iters; i++)
            ((i >> 1) & 1) ? rec_a(24) : rec_b(24);
        printf("mode=check n=%ld frames=%d hits=%ld mismatches=%ld\n", iters, frames, hits,
               mismatches);
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
        printf("mode=miss n=%ld frames=%d ns_per_capture=%.1f hits=%ld\n", iters, frames,
               (t1 - t0) * 1e9 / (double)iters, hits);
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
