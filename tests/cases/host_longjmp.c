/* siglongjmp out of a signal handler while the program is inside a wrapped call: the library's
 * per-thread state must not stay "busy" (tracking would stop) and fork must stay fast.
 * Prints `jumps N`, the leaks made after the jumps, and `forks_ms T` for 20 forks.
 * Usage: host_longjmp FILE */
#include "fixture.h"

#include <setjmp.h>
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

#define JUMPS 300
#define LEAKS 20
#define FORKS 20
#define BUDGET_MS 3000

static sigjmp_buf env;
static volatile sig_atomic_t armed;

/* Disarmed before the jump: siglongjmp unblocks SIGALRM before it jumps, and a timer that
 * fired meanwhile would otherwise jump again from inside it, recursing down the stack. */
static void on_alarm(int sig)
{
    (void)sig;
    if (armed) {
        armed = 0;
        siglongjmp(env, 1);
    }
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

NOINLINE static int leak_after(const char *p)
{
    int fd = open(p, O_RDONLY);
    KEEP(fd);
    return fd;
}

int main(int argc, char **argv)
{
    fixture_init();
    CHECK(argc == 2);
    struct sigaction sa = {.sa_handler = on_alarm};
    CHECK(sigaction(SIGALRM, &sa, NULL) == 0);
    struct itimerval it = {{0, 50}, {0, 50}};
    CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
    volatile int jumps = 0;
    long start = now_ms();
    if (sigsetjmp(env, 1))
        jumps++;
    armed = 1;
    while (jumps < JUMPS && now_ms() - start < BUDGET_MS) {
        int fd = open(argv[1], O_RDONLY);
        if (fd >= 0)
            close(fd);
    }
    armed = 0;
    struct itimerval off = {{0, 0}, {0, 0}};
    CHECK(setitimer(ITIMER_REAL, &off, NULL) == 0);
    fact("jumps %d", jumps);
    fact("pid %d", (int)getpid());
    /* Descriptors a jump left open are the program's own leaks (bare too): not counted. */
    for (int i = 0; i < LEAKS; i++) {
        int fd = leak_after(argv[1]);
        CHECK(fd >= 0);
        fact("leak open %d", fd);
    }
    long t0 = now_ms();
    for (int i = 0; i < FORKS; i++) {
        pid_t p = fork();
        CHECK(p >= 0);
        if (p == 0)
            _exit(0);
        int st;
        CHECK(waitpid(p, &st, 0) == p);
    }
    fact("forks_ms %ld", now_ms() - t0);
    return 0;
}
