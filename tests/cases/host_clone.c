/* A raw clone(CLONE_VM) child shares the parent's memory: its dup2 and close loop must not
 * edit the parent's records. vfork: CLONE_VM|CLONE_VFORK (posix_spawn's way); shared:
 * CLONE_VM alone, the parent waiting for it. copy: no CLONE_VM (a fork by clone): the child
 * opens FILE from child_open() and exits with exit(), which writes its own exit dump.
 * Usage: host_clone vfork|shared|copy FILE */
#include "fixture.h"

#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define CHILD_STACK (256 * 1024)
#define DUP_TARGET 50
#define CLOSE_TO 100

NOINLINE static int parent_open(const char *p)
{
    int fd = open(p, O_RDONLY);
    KEEP(fd);
    return fd;
}

static int leaks[3];
static const char *path;

NOINLINE static int child_open(const char *p)
{
    int fd = open(p, O_RDONLY);
    KEEP(fd);
    return fd;
}

static int copy_child(void *arg)
{
    (void)arg;
    fact("child open %d", child_open(path));
    exit(0);
}

static int child(void *arg)
{
    (void)arg;
    dup2(leaks[0], DUP_TARGET);
    for (int fd = 3; fd < CLOSE_TO; fd++)
        close(fd);
    _exit(0);
}

int main(int argc, char **argv)
{
    fixture_init();
    CHECK(argc == 3);
    for (int i = 0; i < 3; i++) {
        leaks[i] = parent_open(argv[2]);
        CHECK(leaks[i] >= 0);
        fact("leak open %d", leaks[i]);
    }
    char *stack =
        mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(stack != MAP_FAILED);
    path = argv[2];
    int copy = !strcmp(argv[1], "copy");
    int flags = (copy ? 0 : CLONE_VM) | SIGCHLD | (strcmp(argv[1], "vfork") ? 0 : CLONE_VFORK);
    pid_t pid = clone(copy ? copy_child : child, stack + CHILD_STACK, flags, NULL);
    CHECK(pid > 0);
    int st;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    fact("child pid %d", (int)pid);
    fact("absent none %d", DUP_TARGET);
    return 0;
}
