/* Threads: 8 threads x 2000 iterations of open/close, socket/close and pipe/close, then each
 * thread leaks 3 descriptors. Prints `leak open <fd> <tid>` for each leak. */
#include "fixture.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#define THREADS 8
#define ITERS 2000
#define LEAKS 3

static int leaked[THREADS][LEAKS];
static int tids[THREADS];

NOINLINE static int thread_leak(void)
{
    int fd = open("/dev/null", O_RDONLY);
    KEEP(fd);
    return fd;
}

static void *worker(void *arg)
{
    int id = (int)(long)arg;
    tids[id] = (int)syscall(SYS_gettid);
    for (int i = 0; i < ITERS; i++) {
        int fd = open("/dev/null", O_RDONLY);
        CHECK(fd >= 0 && close(fd) == 0);
        if (i % 4 == 0) {
            int s = socket(AF_UNIX, SOCK_DGRAM, 0);
            CHECK(s >= 0 && close(s) == 0);
        }
        if (i % 8 == 0) {
            int p[2];
            CHECK(pipe(p) == 0 && close(p[0]) == 0 && close(p[1]) == 0);
        }
    }
    for (int i = 0; i < LEAKS; i++)
        CHECK((leaked[id][i] = thread_leak()) >= 0);
    return NULL;
}

int main(void)
{
    fixture_init();
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++)
        CHECK(pthread_create(&t[i], NULL, worker, (void *)i) == 0);
    for (int i = 0; i < THREADS; i++)
        CHECK(pthread_join(t[i], NULL) == 0);
    for (int i = 0; i < THREADS; i++)
        for (int j = 0; j < LEAKS; j++)
            fact("leak open %d %d", leaked[i][j], tids[i]);
    return 0;
}
