/* fork: the child keeps consistent records and writes its own dump.
 * Usage: forkcase exit|_exit FILE. Parent opens A (kept by both) and C (closed by the child
 * only); the child opens D; both print facts prefixed with `parent`/`child`. */
#include "fixture.h"

#include <fcntl.h>
#include <sys/wait.h>

NOINLINE static int parent_open(const char *p)
{
    int fd = open(p, O_RDONLY);
    KEEP(fd);
    return fd;
}
NOINLINE static int child_open(const char *p)
{
    int fd = open(p, O_RDONLY);
    KEEP(fd);
    return fd;
}

int main(int argc, char **argv)
{
    fixture_init();
    CHECK(argc == 3);
    int a = parent_open(argv[2]), c = parent_open(argv[2]);
    CHECK(a >= 0 && c >= 0);
    fact("parent pid %d", (int)getpid());
    fact("both open %d", a);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        CHECK(close(c) == 0);
        int d = child_open(argv[2]);
        CHECK(d >= 0);
        fact("child pid %d", (int)getpid());
        fact("child closed %d", c);
        fact("child open %d", d);
        if (strcmp(argv[1], "_exit") == 0)
            _exit(0);
        exit(0);
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    fact("parent open %d", c);
    return 0;
}
