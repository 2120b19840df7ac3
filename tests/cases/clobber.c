/* A program that dup2()s onto descriptor numbers it did not open (those it finds in
 * /proc/self/fd at start: the shim's own, when preloaded), as daemons and shells do with high
 * numbers. The shim must give those numbers up, keep working, and report the program's
 * descriptors. Prints `leak dup2 <n>` for each number taken and `leak open <fd>`. */
#include "fixture.h"

#include <dirent.h>
#include <fcntl.h>

NOINLINE static int take_over(int fd, int n)
{
    int r = dup2(fd, n);
    KEEP(r);
    return r;
}

NOINLINE static int after(void)
{
    int fd = open("/etc/hostname", O_RDONLY);
    KEEP(fd);
    return fd;
}

int main(void)
{
    fixture_init();
    int found[64], n = 0;
    DIR *d = opendir("/proc/self/fd");
    CHECK(d);
    struct dirent *e;
    for (int i = 0; i < 10000 && (e = readdir(d)); i++) {
        int fd = atoi(e->d_name);
        if (e->d_name[0] != '.' && fd > 2 && fd != dirfd(d) && n < 64)
            found[n++] = fd;
    }
    closedir(d);
    int src = open("/etc/hostname", O_RDONLY);
    CHECK(src >= 0);
    fact("leak open %d", src);
    for (int i = 0; i < n; i++) {
        CHECK(take_over(src, found[i]) == found[i]);
        fact("leak dup2 %d", found[i]);
    }
    for (int i = 0; i < 3; i++) {
        int fd = after();
        CHECK(fd >= 0);
        fact("leak open %d", fd);
    }
    int p[2];
    CHECK(pipe(p) == 0);
    fact("leak pipe %d", p[0]);
    fact("leak pipe %d", p[1]);
    return 0;
}
