/* libunwind's memory-validation pipe, answered without descriptors. libunwind 1.6.2 tests
 * whether an address is readable by write(pipe, addr, 1), drains with read, re-creates the pair
 * with close+pipe2 when a read fails, and keeps it forever. Real descriptors there could be
 * closed under it by the program (closefrom, close_range), or be the program's own files after
 * a dup2: then it hangs in read, writes the program's files or closes them. So inside our
 * capture its pipe2 gets two numbers no descriptor can have (FDL_VFD_*, wrap.h), read on them
 * says "empty" and write validates the address with a fault-free read. libunwind reads with
 * read() and writes with syscall(SYS_write) (to keep ASan quiet), closes with close(). The
 * read, write and syscall wrappers exist for this alone: for the program they add one compare
 * (syscall: two) before the real call. */
#include "safemem.h"
#include "wrap.h"

#include <stdarg.h>
#include <sys/syscall.h>
#include <unistd.h>

/* libunwind writes one byte at a time; longer writes are validated in pieces. */
#define VALIDATE_CHUNK 64

static int unwinding(void)
{
    return fdl_tls.in_unwind && !fdl_vfork_child;
}

int fdl_vfd_pipe(int fds[2], const void *caller)
{
    if (!unwinding() || !fdl_capture_is_ours(caller))
        return 0;
    fds[0] = FDL_VFD_READ;
    fds[1] = FDL_VFD_WRITE;
    return 1;
}

int fdl_vfd_close(int fd)
{
    return fdl_vfd(fd) && unwinding();
}

__attribute__((noinline)) static ssize_t vfd_read(int fd, void *buf, size_t n)
{
    if (!unwinding() || !fdl_vfd(fd))
        return REAL(read)(fd, buf, n);
    errno = EAGAIN; /* an empty non-blocking pipe: what libunwind expects after a write */
    return -1;
}

__attribute__((noinline)) static ssize_t vfd_write(int fd, const void *buf, size_t n)
{
    if (!unwinding() || fd != FDL_VFD_WRITE)
        return REAL(write)(fd, buf, n);
    char tmp[VALIDATE_CHUNK];
    for (size_t done = 0; done < n;) {
        size_t k = n - done < sizeof(tmp) ? n - done : sizeof(tmp);
        if (fdl_safemem_read(tmp, (const char *)buf + done, k) != (ssize_t)k) {
            errno = EFAULT;
            return -1;
        }
        done += k;
    }
    return (ssize_t)n;
}

__attribute__((noinline)) static long vfd_syscall(long n, long fd, long a, long b, long c, long d,
                                                  long e)
{
    if (!unwinding() || !fdl_vfd((int)fd))
        return REAL(syscall)(n, fd, a, b, c, d, e);
    if (n == SYS_read)
        return vfd_read((int)fd, (void *)a, (size_t)b);
    if (n == SYS_write)
        return vfd_write((int)fd, (const void *)a, (size_t)b);
    if (n == SYS_close)
        return 0;
    errno = EBADF;
    return -1;
}

/* Six arguments are always forwarded, as glibc's syscall reads six: the caller's unused ones
 * are its registers and its frame, both there to be read. */
FDL_EXPORT long syscall(long n, ...)
{
    va_list ap;
    va_start(ap, n);
    long a = va_arg(ap, long), b = va_arg(ap, long), c = va_arg(ap, long);
    long d = va_arg(ap, long), e = va_arg(ap, long), f = va_arg(ap, long);
    va_end(ap);
    if (unlikely((unsigned long)n <= SYS_close && (int)a >= FDL_VFD_READ))
        return vfd_syscall(n, a, b, c, d, e, f);
    return REAL(syscall)(n, a, b, c, d, e, f);
}

/* Neither number is below FDL_VFD_READ: the program's calls take the first branch only. */
FDL_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
    if (unlikely(fd >= FDL_VFD_READ))
        return vfd_read(fd, buf, n);
    return REAL(read)(fd, buf, n);
}

FDL_EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
    if (unlikely(fd >= FDL_VFD_READ))
        return vfd_write(fd, buf, n);
    return REAL(write)(fd, buf, n);
}
