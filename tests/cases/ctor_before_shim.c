/* Wrappers before the shim's constructor: libctoropen.so's constructor opened a file (leaked)
 * and opened+closed another before main and, being a dependency, before libfdleak.so's
 * constructor. */
#include "fixture.h"

extern int ctoropen_fd, ctoropen_closed;

int main(void)
{
    fixture_init();
    CHECK(ctoropen_fd >= 0 && ctoropen_closed >= 0);
    fact("leak open %d /etc/hostname", ctoropen_fd);
    if (ctoropen_closed != ctoropen_fd)
        fact("closed close %d", ctoropen_closed);
    return 0;
}
