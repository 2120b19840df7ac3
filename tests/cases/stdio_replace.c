/* stdin/stdout/stderr are not leaks unless the program replaced them; then they are charged to
 * the call that replaced them. Usage: stdio_replace dup2|freopen|reopen FILE */
#include "fixture.h"

#include <fcntl.h>

NOINLINE static int open_source(const char *p)
{
    int fd = open(p, O_RDONLY);
    KEEP(fd);
    return fd;
}
NOINLINE static int replace_stdin(int fd)
{
    int r = dup2(fd, 0);
    KEEP(r);
    return r;
}
NOINLINE static FILE *replace_stdin_freopen(const char *p)
{
    FILE *f = freopen(p, "r", stdin);
    KEEP(f);
    return f;
}
NOINLINE static int reopen_stdin(const char *p)
{
    int fd = open(p, O_RDONLY);
    KEEP(fd);
    return fd;
}

int main(int argc, char **argv)
{
    fixture_init();
    CHECK(argc == 3);
    if (strcmp(argv[1], "dup2") == 0) {
        int fd = open_source(argv[2]);
        CHECK(fd > 2 && replace_stdin(fd) == 0 && close(fd) == 0);
        fact("leak dup2 0");
        fact("closed close %d", fd);
    } else if (strcmp(argv[1], "freopen") == 0) {
        CHECK(replace_stdin_freopen(argv[2]) == stdin && fileno(stdin) == 0);
        fact("leak freopen 0 %s", argv[2]);
    } else {
        CHECK(close(0) == 0);
        CHECK(reopen_stdin(argv[2]) == 0);
        fact("leak open 0 %s", argv[2]);
    }
    report_fdflags();
    return 0;
}
