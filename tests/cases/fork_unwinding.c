/* fork while other threads are inside libunwind: 4 threads acquire descriptors from call paths
 * of ever-changing depth (so libunwind keeps missing its cache and taking its own lock) while
 * the main thread forks 200 times; every child acquires one descriptor from a new path and
 * exits. A child that inherited libunwind's lock held hangs in its first capture; the test's
 * timeout catches that. Usage: fork_unwinding */
#include "fixture.h"

#include <pthread.h>
#include <sys/wait.h>

static volatile int stop;

NOINLINE static void path(int depth)
{
    if (depth == 0) {
        int fd = open("/dev/null", O_RDONLY);
        KEEP(fd);
        close(fd);
        return;
    }
    path(depth - 1);
    KEEP(depth);
}

static void *churn(void *arg)
{
    long i = (long)arg;
    for (long n = 0; !stop && n < 5000000; n++)
        path((int)(i++ % 40));
    return NULL;
}

NOINLINE static int child_open(void)
{
    int fd = open("/dev/null", O_RDONLY);
    KEEP(fd);
    return fd;
}

int main(void)
{
    fixture_init();
    pthread_t t[4];
    for (long i = 0; i < 4; i++)
        CHECK(pthread_create(&t[i], NULL, churn, (void *)(i * 7)) == 0);
    int hung = 0;
    for (int k = 0; k < 200; k++) {
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            child_open();
            _exit(0);
        }
        int st;
        CHECK(waitpid(pid, &st, 0) == pid);
        hung += !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    stop = 1;
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    fact("children 200 failed %d", hung);
    return 0;
}
