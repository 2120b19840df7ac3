/* exec: an exec'd program starts fresh and labels what it inherited.
 * `execcase fork FILE`: opens A (inheritable) and B (O_CLOEXEC), forks, the child execs
 * `execcase child FILE`; the parent waits and exits. `execcase direct FILE`: opens A and B, then
 * execs itself (same pid) without forking. The exec'd image leaks one descriptor of its own. */
#include "fixture.h"

#include <fcntl.h>
#include <sys/wait.h>

NOINLINE static int open_before_exec(const char *p, int fl)
{
    int fd = open(p, O_RDONLY | fl);
    KEEP(fd);
    return fd;
}
NOINLINE static int open_after_exec(const char *p)
{
    int fd = open(p, O_RDONLY);
    KEEP(fd);
    return fd;
}

int main(int argc, char **argv)
{
    fixture_init();
    CHECK(argc == 3);
    if (strcmp(argv[1], "child") == 0) {
        int fd = open_after_exec(argv[2]);
        CHECK(fd >= 0);
        fact("exec pid %d", (int)getpid());
        fact("exec leak %d", fd);
        return 0;
    }
    int a = open_before_exec(argv[2], 0), b = open_before_exec(argv[2], O_CLOEXEC);
    CHECK(a >= 0 && b >= 0);
    fact("pre pid %d", (int)getpid());
    fact("pre inheritable %d", a);
    fact("pre cloexec %d", b);
    char *args[] = {argv[0], "child", argv[2], NULL};
    if (strcmp(argv[1], "direct") == 0) {
        execv("/proc/self/exe", args);
        CHECK(0);
    }
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        execv("/proc/self/exe", args);
        _exit(127);
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    return 0;
}
