/* A daemon that drops privileges after start-up: `setuid_leak UID` leaks one descriptor from
 * setuid_leak_open(), then calls setuid(UID) and exits normally, so its exit dump is written as
 * UID. Prints `leak open FD` and `uid UID`. */
#include "fixture.h"

#include <fcntl.h>

NOINLINE static int setuid_leak_open(void)
{
    int fd = open("/dev/null", O_RDONLY);
    KEEP(fd);
    return fd;
}

int main(int argc, char **argv)
{
    fixture_init();
    int fd = setuid_leak_open();
    fact("leak open %d", fd);
    uid_t uid = (uid_t)(argc > 1 ? atoi(argv[1]) : 65534);
    if (setgid(uid) != 0 || setuid(uid) != 0) {
        perror("setuid");
        return 1;
    }
    fact("uid %u", (unsigned)getuid());
    return 0;
}
