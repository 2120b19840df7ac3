/* Built with -rdynamic so dladdr names its functions. leaky_function_for_report() leaks a
 * descriptor numbered 7 or more; the text report on stderr must name the function and the fd. */
#include "fixture.h"

#include <fcntl.h>

NOINLINE int leaky_function_for_report(void);
NOINLINE int leaky_function_for_report(void)
{
    int fd = open("/dev/null", O_RDONLY);
    KEEP(fd);
    return fd;
}

int main(void)
{
    fixture_init();
    int spare[16], n = 0, fd;
    while ((fd = leaky_function_for_report()) >= 0 && fd < 7 && n < 16)
        spare[n++] = fd;
    CHECK(fd >= 7);
    for (int i = 0; i < n; i++)
        close(spare[i]);
    fact("leak open %d", fd);
    return 0;
}
