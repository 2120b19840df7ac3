/* Inherited descriptors. `inherited parent FILE` runs WITHOUT the shim: it opens FILE and a
 * pipe (no CLOEXEC), sets LD_PRELOAD from $FIXTURE_PRELOAD and execs `inherited child FILE`,
 * which runs under the shim, prints what it inherited and leaks one descriptor of its own. */
#include "fixture.h"

#include <fcntl.h>

NOINLINE static int child_leak(const char *path)
{
    int fd = open(path, O_RDONLY);
    KEEP(fd);
    return fd;
}

int main(int argc, char **argv)
{
    fixture_init();
    CHECK(argc == 3);
    if (strcmp(argv[1], "parent") == 0) {
        int fd = open(argv[2], O_RDONLY);
        int p[2];
        CHECK(fd >= 0 && pipe(p) == 0);
        fact("inherited file %d %s", fd, argv[2]);
        fact("inherited pipe %d", p[0]);
        fact("inherited pipe %d", p[1]);
        const char *pre = getenv("FIXTURE_PRELOAD");
        CHECK(pre);
        setenv("LD_PRELOAD", pre, 1);
        char *args[] = {argv[0], "child", argv[2], NULL};
        execv("/proc/self/exe", args);
        CHECK(0);
    }
    int fd = child_leak(argv[2]);
    CHECK(fd >= 0);
    fact("leak open %d %s", fd, argv[2]);
    fact("pid %d", (int)getpid());
    return 0;
}
