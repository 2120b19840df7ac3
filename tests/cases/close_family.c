/* close, close_range (closing, and CLOSE_RANGE_CLOEXEC which only marks), closefrom; after
 * closefrom the process keeps working and new descriptors are tracked.
 * Usage: close_family FILE */
#include "fixture.h"

#include <fcntl.h>
#include <linux/close_range.h>

static const char *path;

NOINLINE static int via_open(void)
{
    int fd = open(path, O_RDONLY);
    KEEP(fd);
    return fd;
}
NOINLINE static int after_closefrom(void)
{
    int fd = open(path, O_RDONLY);
    KEEP(fd);
    return fd;
}

int main(int argc, char **argv)
{
    fixture_init();
    CHECK(argc == 2);
    path = argv[1];
    int fd[10];
    for (int i = 0; i < 10; i++) {
        fd[i] = via_open();
        CHECK(fd[i] >= 0);
    }
    CHECK(close(fd[0]) == 0);
    fact("closed close %d", fd[0]);
    CHECK(close_range(fd[1], fd[2], 0) == 0);
    fact("closed close_range %d", fd[1]);
    fact("closed close_range %d", fd[2]);
    CHECK(close_range(fd[3], fd[4], CLOSE_RANGE_CLOEXEC) == 0);
    fact("leak open %d cloexec", fd[3]);
    fact("leak open %d cloexec", fd[4]);
    fact("leak open %d", fd[5]);
    fact("leak open %d", fd[6]);
    closefrom(fd[7]);
    fact("closed closefrom %d", fd[7]);
    fact("closed closefrom %d", fd[8]);
    fact("closed closefrom %d", fd[9]);
    int n = after_closefrom();
    CHECK(n == fd[0]);
    fact("leak open %d after", n);
    int n2 = after_closefrom();
    fact("leak open %d after", n2);
    report_fdflags();
    return 0;
}
