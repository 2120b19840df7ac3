/* vfork: the child shares the parent's memory; its close/dup2 reach the wrappers and must not
 * corrupt the parent's table. Usage: vforkcase plain|exec FILE */
#include "fixture.h"

#include <fcntl.h>
#include <sys/wait.h>

NOINLINE static int parent_open(const char *p)
{
    int fd = open(p, O_RDONLY);
    KEEP(fd);
    return fd;
}

int main(int argc, char **argv)
{
    fixture_init();
    CHECK(argc == 3);
    int a = parent_open(argv[2]), b = parent_open(argv[2]);
    CHECK(a >= 0 && b >= 0);
    fact("leak open %d", a);
    fact("leak open %d", b);
    int exec_mode = strcmp(argv[1], "exec") == 0;
    pid_t pid = vfork();
    if (pid == 0) {
        /* child: edits its own descriptor table only */
        close(a);
        dup2(b, 30);
        close(b);
        if (exec_mode) {
            char *args[] = {"/bin/true", NULL};
            execv("/bin/true", args);
        }
        _exit(0);
    }
    CHECK(pid > 0);
    int st;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    fact("child pid %d", (int)pid);
    int c = parent_open(argv[2]);
    CHECK(c >= 0);
    fact("leak open %d", c);
    fact("absent none 30");
    return 0;
}
