/* libunwind's memory-validation pipe, answered without descriptors. libunwind 1.6.2 tests
 * whether an address is readable by write(pipe, addr, 1), drains with read, re-creates the pair
 * with close+pipe2 when a read fails, and keeps it forever. Real descriptors there could be
 * closed under it by the program (closefrom, close_range), or be the program's own files after
 * a dup2: then it hangs in read, writes the program's files or closes them. So inside our
 * capture its pipe2 gets two numbers no descriptor can have (FDL_VFD_*, wrap.h), and its
 * write, which it makes with syscall(SYS_write) (to keep ASan quiet), validates the address
 * with a fault-free read instead. Its drain, read() on the virtual number, goes through the
 * read stub (use.S) to the kernel, which answers EBADF (misuse.c ignores the virtual numbers;
 * the read is libunwind's, inside our capture, so it is not the program's): libunwind takes
 * the pipe for closed and re-creates it with close and pipe2, which we answer without the
 * kernel. The syscall wrapper (syscall.S) costs the program a compare and a jump. */
#include "safemem.h"
#include "wrap.h"

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

/* Validates [buf, buf+n) as libunwind's write to its pipe would: n if readable, else EFAULT. */
static long vfd_write(const void *buf, size_t n)
{
    char tmp[VALIDATE_CHUNK];
    for (size_t done = 0; done < n;) {
        size_t k = n - done < sizeof(tmp) ? n - done : sizeof(tmp);
        if (fdl_safemem_read(tmp, (const char *)buf + done, k) != (ssize_t)k) {
            errno = EFAULT;
            return -1;
        }
        done += k;
    }
    return (long)n;
}

typedef long (*syscall_fn)(long, ...);
syscall_fn fdl_real_syscall FDL_HIDDEN; /* read by syscall.S */
long fdl_syscall_slow(long n, long a, long b, long c, long d, long e, long f) FDL_HIDDEN;

/* syscall() numbers 0-3 (and every call before the real one is resolved). */
long fdl_syscall_slow(long n, long a, long b, long c, long d, long e, long f)
{
    syscall_fn real = __atomic_load_n(&fdl_real_syscall, __ATOMIC_RELAXED);
    if (unlikely(!real)) {
        real = (syscall_fn)fdl_real_lookup("syscall", (void **)&fdl_real_syscall);
        __atomic_store_n(&fdl_real_syscall, real, __ATOMIC_RELAXED);
    }
    if (!fdl_vfd((int)a) || !unwinding())
        return real(n, a, b, c, d, e, f);
    switch (n) {
    case SYS_write:
        return vfd_write((const void *)b, (size_t)c);
    case SYS_read:
        errno = EAGAIN; /* an empty non-blocking pipe: what libunwind expects after a write */
        return -1;
    case SYS_close:
        return 0;
    default:
        errno = EBADF;
        return -1;
    }
}
