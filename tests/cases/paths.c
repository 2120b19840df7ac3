/* Paths with bytes JSON must escape: each argument is opened and leaked, in order.
 * Prints `leak open <fd> <index>`. */
#include "fixture.h"

NOINLINE static int open_path(const char *p)
{
    int fd = open(p, O_RDONLY);
    KEEP(fd);
    return fd;
}

int main(int argc, char **argv)
{
    fixture_init();
    for (int i = 1; i < argc; i++) {
        int fd = open_path(argv[i]);
        CHECK(fd >= 0);
        fact("leak open %d %d", fd, i);
    }
    return 0;
}
