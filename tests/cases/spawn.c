/* posix_spawn and system(): the child's file actions run as raw syscalls in a CLONE_VM child;
 * the parent's records must not change. `spawn`: opens A, spawns /bin/true with file actions
 * close(A), dup2(A -> 40), open(41), then runs system("exit 0"). */
#include "fixture.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

extern char **environ;

NOINLINE static int parent_open(void)
{
    int fd = open("/etc/hostname", O_RDONLY);
    KEEP(fd);
    return fd;
}

int main(void)
{
    fixture_init();
    int a = parent_open();
    CHECK(a >= 0);
    posix_spawn_file_actions_t fa;
    CHECK(posix_spawn_file_actions_init(&fa) == 0);
    CHECK(posix_spawn_file_actions_adddup2(&fa, a, 40) == 0);
    CHECK(posix_spawn_file_actions_addclose(&fa, a) == 0);
    CHECK(posix_spawn_file_actions_addopen(&fa, 41, "/etc/hostname", O_RDONLY, 0) == 0);
    char *args[] = {"/bin/true", NULL};
    pid_t pid;
    CHECK(posix_spawn(&pid, "/bin/true", &fa, NULL, args, environ) == 0);
    int st;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    fact("child pid %d", (int)pid);
    CHECK(system("exit 0") == 0);
    fact("pid %d", (int)getpid());
    fact("leak open %d", a);
    return 0;
}
