/* One acquisition site reached through different callers: every descriptor's stack must name
 * its own callers (no stack reused from another path). Prints `leak open <fd> <outer>
 * <middle>` for each leak. */
#include "fixture.h"

NOINLINE static int helper(void)
{
    int fd = open("/dev/null", O_RDONLY);
    KEEP(fd);
    return fd;
}

NOINLINE static int caller_a(void)
{
    int fd = helper();
    KEEP(fd);
    return fd;
}

NOINLINE static int caller_b(void)
{
    int fd = helper();
    KEEP(fd);
    return fd;
}

NOINLINE static int outer_x(int (*mid)(void))
{
    int fd = mid();
    KEEP(fd);
    return fd;
}

NOINLINE static int outer_y(int (*mid)(void))
{
    int fd = mid();
    KEEP(fd);
    return fd;
}

int main(void)
{
    fixture_init();
    for (int i = 0; i < 24; i++) {
        int (*mid)(void) = (i & 1) ? caller_b : caller_a;
        int fd = (i & 2) ? outer_y(mid) : outer_x(mid);
        CHECK(fd >= 0);
        fact("leak open %d %s %s", fd, (i & 2) ? "outer_y" : "outer_x",
             (i & 1) ? "caller_b" : "caller_a");
        /* an open and close between leaks, from yet another path */
        int t = helper();
        CHECK(t >= 0 && close(t) == 0);
    }
    return 0;
}
