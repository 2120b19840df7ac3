/* libctoropen.so: its constructor opens a file before libfdleak.so's constructor has run
 * (ctor_before_shim links against it). The descriptor must still be tracked. */
#include <fcntl.h>
#include <unistd.h>

int ctoropen_fd = -1;
int ctoropen_closed = -1;

__attribute__((noinline)) static int ctoropen_acquire(void)
{
    int fd = open("/etc/hostname", O_RDONLY);
    __asm__ volatile("" : : "r"(fd) : "memory");
    return fd;
}

__attribute__((constructor)) static void ctoropen_init(void)
{
    ctoropen_fd = ctoropen_acquire();
    int tmp = open("/etc/hostname", O_RDONLY);
    if (tmp >= 0 && close(tmp) == 0)
        ctoropen_closed = tmp;
}
