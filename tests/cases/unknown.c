/* Descriptors the shim never saw acquired: raw syscall(SYS_openat) and io_uring_setup must be
 * reported as unknown origin; a tracked fd closed by a raw syscall must not be reported.
 * Usage: unknown FILE */
#include "fixture.h"

#include <fcntl.h>
#include <sys/syscall.h>

int main(int argc, char **argv)
{
    fixture_init();
    CHECK(argc == 2);
    int raw = (int)syscall(SYS_openat, AT_FDCWD, argv[1], O_RDONLY, 0);
    CHECK(raw >= 0);
    fact("unknown syscall %d %s", raw, argv[1]);
    unsigned char params[120];
    memset(params, 0, sizeof params);
    long ring = syscall(SYS_io_uring_setup, 4, params);
    if (ring >= 0)
        fact("unknown io_uring_setup %ld", ring);
    else
        fact("skip io_uring_setup %d", errno);
    int t = open(argv[1], O_RDONLY);
    CHECK(t >= 0);
    fact("leak open %d %s", t, argv[1]);
    int gone = open(argv[1], O_RDONLY);
    CHECK(gone >= 0 && syscall(SYS_close, gone) == 0);
    fact("rawclosed close %d", gone);
    report_fdflags();
    return 0;
}
