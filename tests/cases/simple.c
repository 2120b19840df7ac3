/* A plain leak for settings and output tests. `simple [leak|clearenv|wait]`:
 * leak: leaks one descriptor from simple_leak(); chdir: changes to / first; clearenv: clears the
 * environment first (settings were read at start-up); closeall: closes 3 up to the limit first;
 * closestd: closes 0, 1, 2 and leaks fd 0; high N: also dup2()s it to N; wait: prints `ready <pid>`
 * and waits for a line on stdin. */
#include "fixture.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>

NOINLINE static int simple_leak(void)
{
    int fd = open("/dev/null", O_RDONLY);
    KEEP(fd);
    return fd;
}

static volatile sig_atomic_t got61;
static void on_sig61(int sig)
{
    (void)sig;
    got61 = 1;
}

static void *exit_from_thread(void *arg)
{
    (void)arg;
    fact("done");
    exit(0);
}

/* `simple deep`: the leak happens 60 calls deep */
NOINLINE static int deep(int n)
{
    int fd = n > 0 ? deep(n - 1) : simple_leak();
    KEEP(fd);
    return fd;
}

int main(int argc, char **argv)
{
    fixture_init();
    const char *mode = argc > 1 ? argv[1] : "leak";
    if (strcmp(mode, "closestd") == 0) {
        /* stdin, stdout and stderr closed: the leak below takes fd 0 */
        close(0);
        close(1);
        close(2);
        int fd = simple_leak();
        return fd == 0 ? 0 : 5;
    }
    if (strcmp(mode, "closeall") == 0) {
        /* closes every number from 3 up to the limit, as daemons do */
        long max = sysconf(_SC_OPEN_MAX);
        for (long i = 3; i < max && i < 1 << 20; i++)
            close((int)i);
    }
    if (strcmp(mode, "chdir") == 0)
        CHECK(chdir("/") == 0); /* a relative FDLEAK_OUTPUT stays anchored to the start dir */
    if (strcmp(mode, "clearenv") == 0)
        CHECK(clearenv() == 0);
    int fd = strcmp(mode, "deep") == 0 ? deep(60) : simple_leak();
    CHECK(fd >= 0);
    fact("leak open %d", fd);
    if (strcmp(mode, "high") == 0) {
        /* `simple high N`: N below RLIMIT_NOFILE */
        int hi = argc > 2 ? atoi(argv[2]) : 60000;
        CHECK(dup2(fd, hi) == hi);
        fact("leak dup2 %d", hi);
    }
    fact("pid %d", (int)getpid());
    if (strcmp(mode, "own61") == 0) {
        /* the program takes the default dump signal for itself */
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_sig61;
        sa.sa_flags = SA_RESTART;
        CHECK(sigaction(SIGRTMAX - 3, &sa, NULL) == 0);
    }
    if (strcmp(mode, "readonce") == 0 || strcmp(mode, "own61") == 0) {
        /* one read(), no EINTR loop: an interrupted read shows as -1 errno 4 */
        fact("ready %d", (int)getpid());
        char buf[64];
        ssize_t n = read(0, buf, sizeof buf);
        fact("read %d errno %d", (int)n, n < 0 ? errno : 0);
        fact("sig61 %d", (int)got61);
    }
    if (strcmp(mode, "thread_exit") == 0) {
        /* exit() from a second thread while main waits in pthread_join */
        pthread_t t;
        CHECK(pthread_create(&t, NULL, exit_from_thread, NULL) == 0);
        pthread_join(t, NULL);
        return 4;
    }
    if (strcmp(mode, "wait") == 0) {
        fact("ready %d", (int)getpid());
        char buf[64];
        for (int i = 0; i < 1000; i++) {
            ssize_t n = read(0, buf, sizeof buf);
            if (n >= 0 || errno != EINTR)
                break;
        }
    }
    fact("done");
    return 0;
}
