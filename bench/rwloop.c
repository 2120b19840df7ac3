/* Row 1r of `make bench`: what the library adds to calls it does not track but must see: the
 * syscall() wrapper (there for libunwind's memory checks, shim/unwind_io.c) and the read/write
 * stubs (shim/use.S: use after close, checked only when a call fails). A loop of 1-byte read from
 * /dev/zero, write to /dev/null, and syscall(SYS_getppid).
 *
 *   rwloop N    prints `n=N cpu_ns_per_call=...` (CPU time per call, three calls an iteration) */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define WARMUP 10000
#define CALLS 3

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    int in = open("/dev/zero", O_RDONLY), out = open("/dev/null", O_WRONLY);
    char b;
    if (in < 0 || out < 0 || n <= 0)
        return 1;
    for (long i = 0; i < WARMUP; i++)
        if (read(in, &b, 1) != 1 || write(out, &b, 1) != 1 || syscall(SYS_getppid) <= 0)
            return 1;
    double t0 = cpu_s();
    for (long i = 0; i < n; i++)
        if (read(in, &b, 1) != 1 || write(out, &b, 1) != 1 || syscall(SYS_getppid) <= 0)
            return 1;
    printf("n=%ld cpu_ns_per_call=%.1f\n", n, (cpu_s() - t0) * 1e9 / (double)n / CALLS);
    return 0;
}
