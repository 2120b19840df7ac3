/* Signal storm: 4 threads churn open/close/pipe/socket while the test sends hundreds of dump
 * signals. Prints `ready <pid>`, runs until a line arrives on stdin (or EOF), then joins the
 * threads, leaks two descriptors and exits 0. `storm exit`: calls exit(0) while the threads
 * still churn. */
#include "fixture.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

static atomic_int stop;

static void *churn(void *arg)
{
    (void)arg;
    for (long i = 0; i < 50000000 && !atomic_load(&stop); i++) {
        int fd = open("/dev/null", O_RDONLY);
        if (fd >= 0)
            close(fd);
        if (i % 16 == 0) {
            int p[2];
            if (pipe2(p, O_CLOEXEC) == 0) {
                int d = dup(p[0]);
                if (d >= 0)
                    close(d);
                close(p[0]);
                close(p[1]);
            }
            int s = socket(AF_UNIX, SOCK_STREAM, 0);
            if (s >= 0)
                close(s);
        }
    }
    return NULL;
}

NOINLINE static int storm_leak(void)
{
    int fd = open("/dev/null", O_RDONLY);
    KEEP(fd);
    return fd;
}

int main(int argc, char **argv)
{
    fixture_init();
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        CHECK(pthread_create(&t[i], NULL, churn, NULL) == 0);
    fact("ready %d", (int)getpid());
    if (argc > 1 && strcmp(argv[1], "exit") == 0) {
        /* exit while the threads are still opening and closing */
        usleep(50000);
        exit(0);
    }
    char buf[64];
    for (int i = 0; i < 100000; i++) {
        ssize_t n = read(0, buf, sizeof buf);
        if (n >= 0 || errno != EINTR)
            break;
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 4; i++)
        CHECK(pthread_join(t[i], NULL) == 0);
    int a = storm_leak(), b = storm_leak();
    CHECK(a >= 0 && b >= 0);
    fact("leak open %d", a);
    fact("leak open %d", b);
    return 0;
}
