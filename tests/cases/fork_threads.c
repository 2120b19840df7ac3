/* fork while other threads churn open/close: every child must run (no lock held by a thread
 * that does not exist in the child), open a descriptor, and write its own complete dump.
 * Prints `child <pid> <fd>` for each child and `leak open <fd>` for the parent's leak. */
#include "fixture.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define CHILDREN 20

static atomic_int stop;

static void *churn(void *arg)
{
    (void)arg;
    for (long i = 0; i < 20000000 && !atomic_load(&stop); i++) {
        int fd = open("/dev/null", O_RDONLY);
        if (fd >= 0)
            close(fd);
        if (i % 8 == 0) {
            int s = socket(AF_UNIX, SOCK_DGRAM, 0);
            if (s >= 0)
                close(s);
        }
    }
    return NULL;
}

NOINLINE static int child_open(void)
{
    int fd = open("/etc/hostname", O_RDONLY);
    KEEP(fd);
    return fd;
}
NOINLINE static int parent_open(void)
{
    int fd = open("/etc/hostname", O_RDONLY);
    KEEP(fd);
    return fd;
}

int main(void)
{
    fixture_init();
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        CHECK(pthread_create(&t[i], NULL, churn, NULL) == 0);
    for (int c = 0; c < CHILDREN; c++) {
        int p[2];
        CHECK(pipe(p) == 0);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            int fd = child_open();
            char line[64];
            int n = snprintf(line, sizeof line, "child %d %d\n", (int)getpid(), fd);
            CHECK(write(p[1], line, n) == n);
            exit(fd >= 0 ? 0 : 1);
        }
        close(p[1]);
        char buf[64] = {0};
        ssize_t n = read(p[0], buf, sizeof buf - 1);
        close(p[0]);
        int st;
        CHECK(waitpid(pid, &st, 0) == pid);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        if (n > 0)
            fputs(buf, stdout);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 3; i++)
        CHECK(pthread_join(t[i], NULL) == 0);
    int fd = parent_open();
    CHECK(fd >= 0);
    fact("pid %d", (int)getpid());
    fact("leak open %d", fd);
    return 0;
}
