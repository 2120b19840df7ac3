/* Descriptors opened by a signal handler that interrupts the program's own open/close loop:
 * every one is the program's and must be recorded, even when the handler interrupted the
 * library's own recording. Usage: host_handler_open FILE */
#include "fixture.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>

#define HANDLER_OPENS 500
#define BUDGET_S 20

static const char *path;
static int fds[HANDLER_OPENS];
static volatile sig_atomic_t count;

NOINLINE static int handler_open(void)
{
    int fd = open(path, O_RDONLY);
    KEEP(fd);
    return fd;
}

static void on_alarm(int sig)
{
    (void)sig;
    int saved = errno;
    if (count < HANDLER_OPENS) {
        int fd = handler_open();
        if (fd >= 0)
            fds[count++] = fd;
    }
    errno = saved;
}

int main(int argc, char **argv)
{
    fixture_init();
    CHECK(argc == 2);
    path = argv[1];
    struct rlimit rl;
    CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    if (rl.rlim_cur < HANDLER_OPENS + 64 && rl.rlim_max >= HANDLER_OPENS + 64) {
        rl.rlim_cur = HANDLER_OPENS + 64;
        CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    }
    struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = SA_RESTART};
    CHECK(sigaction(SIGALRM, &sa, NULL) == 0);
    struct itimerval it = {{0, 100}, {0, 100}};
    CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
    time_t start = time(NULL);
    while (count < HANDLER_OPENS && time(NULL) - start < BUDGET_S) {
        int fd = open(path, O_RDONLY);
        if (fd >= 0)
            close(fd);
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    CHECK(setitimer(ITIMER_REAL, &off, NULL) == 0);
    for (int i = 0; i < count; i++)
        fact("leak open %d", fds[i]);
    fact("handler_opens %d", (int)count);
    return 0;
}
