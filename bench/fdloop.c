/* Rows 1 and 2 of `make bench`: acquire+release descriptors in a loop at a call depth of about
 * 30 frames, in one or several threads, and print the time per operation.
 *
 *   fdloop MODE N [THREADS [DEPTH]]
 *     MODE     open (open("/dev/null")+close), socket (socket(AF_INET, SOCK_STREAM)+close) or
 *              pipe (pipe+2 closes)
 *     N        iterations per thread
 *     THREADS  threads running the loop at once (default 1)
 *     DEPTH    recursion depth before the loop (default 24: the wrapper's caller then
 *              sits 31 frames deep: one, loop, 25 x rec, main, __libc_start_call_main,
 *              __libc_start_main, _start)
 *
 * Output: one line `mode=open threads=1 n=... secs=... ns_per_op=... ops_per_sec=...
 * cpu_ns_per_op=...`. cpu_ns_per_op is the process's CPU time (all threads, user + system)
 * per operation over the same interval: on a shared machine it does not count the time spent
 * waiting for a CPU, so it is the steadier measure of the work added. secs is the wall time from
 * the moment every thread is at its depth (a barrier) until the last one finished, so thread
 * start-up and libunwind's first capture are not counted: a warm-up of 64 iterations per thread
 * runs before the barrier. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int mode; /* 0 open, 1 socket, 2 pipe */
static long iters;
static int depth = 24;
static pthread_barrier_t start_bar;

static double clock_s(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double now(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

static double cpu_now(void)
{
    return clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

__attribute__((noinline)) static void one(void)
{
    switch (mode) {
    case 0: {
        int fd = open("/dev/null", O_RDONLY);
        if (fd < 0)
            die("open");
        close(fd);
        break;
    }
    case 1: {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0)
            die("socket");
        close(fd);
        break;
    }
    default: {
        int p[2];
        if (pipe(p) != 0)
            die("pipe");
        close(p[0]);
        close(p[1]);
        break;
    }
    }
}

__attribute__((noinline)) static long loop(int threads)
{
    for (int i = 0; i < 64; i++)
        one();
    if (threads > 1)
        pthread_barrier_wait(&start_bar);
    for (long i = 0; i < iters; i++)
        one();
    return iters;
}

/* Recursion that the compiler may neither inline nor turn into a loop or a tail call. */
__attribute__((noinline)) static long rec(int d, int threads)
{
    if (d <= 0)
        return loop(threads);
    long r = rec(d - 1, threads);
    __asm__ volatile("" : "+r"(r) : : "memory");
    return r;
}

static void *thread_main(void *arg)
{
    (void)arg;
    rec(depth, 2);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: fdloop open|socket|pipe N [THREADS [DEPTH]]\n");
        return 2;
    }
    if (!strcmp(argv[1], "open"))
        mode = 0;
    else if (!strcmp(argv[1], "socket"))
        mode = 1;
    else if (!strcmp(argv[1], "pipe"))
        mode = 2;
    else {
        fprintf(stderr, "fdloop: unknown mode %s\n", argv[1]);
        return 2;
    }
    iters = atol(argv[2]);
    int threads = argc > 3 ? atoi(argv[3]) : 1;
    if (argc > 4)
        depth = atoi(argv[4]);
    if (threads < 1 || iters < 1)
        return 2;
    double t0, t1, c0, c1;
    if (threads == 1) {
        /* Warm-up outside the timed part: the first capture loads libunwind. */
        for (int i = 0; i < 64; i++)
            one();
        t0 = now();
        c0 = cpu_now();
        rec(depth, 1);
        c1 = cpu_now();
        t1 = now();
    } else {
        pthread_t *tid = calloc((size_t)threads, sizeof(*tid));
        pthread_barrier_init(&start_bar, NULL, (unsigned)threads + 1);
        for (int i = 0; i < threads; i++)
            if (pthread_create(&tid[i], NULL, thread_main, NULL) != 0)
                die("pthread_create");
        pthread_barrier_wait(&start_bar);
        t0 = now();
        c0 = cpu_now();
        for (int i = 0; i < threads; i++)
            pthread_join(tid[i], NULL);
        c1 = cpu_now();
        t1 = now();
        free(tid);
    }
    double ops = (double)iters * threads;
    printf("mode=%s threads=%d n=%ld secs=%.6f ns_per_op=%.2f ops_per_sec=%.0f "
           "cpu_ns_per_op=%.2f\n",
           argv[1], threads, iters, t1 - t0, (t1 - t0) * 1e9 / ops, ops / (t1 - t0),
           (c1 - c0) * 1e9 / ops);
    return 0;
}
