/* Known stacks for the flame graph and suppression tests: main -> leak_logs -> open_log opens
 * /dev/null twice and /dev/zero once (one group, two paths), main -> leak_pipe makes a pipe,
 * main -> leak_socket a socket. Prints `leak <call> <fd>` for each leak. */
#include "fixture.h"

#include <sys/socket.h>

NOINLINE static int open_log(const char *path)
{
    int fd = open(path, O_RDONLY);
    KEEP(fd);
    return fd;
}

NOINLINE static void leak_logs(void)
{
    static const char *const paths[] = {"/dev/null", "/dev/null", "/dev/zero"};
    for (int i = 0; i < 3; i++) {
        int fd = open_log(paths[i]);
        CHECK(fd >= 0);
        fact("leak open %d %s", fd, paths[i]);
    }
}

NOINLINE static void leak_pipe(void)
{
    int p[2];
    CHECK(pipe(p) == 0);
    KEEP(p[0]);
    fact("leak pipe %d", p[0]);
    fact("leak pipe %d", p[1]);
}

NOINLINE static void leak_socket(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    KEEP(fd);
    fact("leak socket %d", fd);
}

int main(void)
{
    fixture_init();
    leak_logs();
    leak_pipe();
    leak_socket();
    return 0;
}
