/* Fault-free reads of our own memory: the one primitive for looking at bytes the program may
 * unmap or truncate under us (module headers and notes at dump time, libunwind's memory
 * validation). A direct load from a file mapping whose file was truncated raises SIGBUS in
 * the host; process_vm_readv returns EFAULT instead. */
#include "safemem.h"

#include <errno.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

static int refused; /* process_vm_readv answered ENOSYS or EPERM once: it always will */

ssize_t fdl_safemem_read(void *dst, const void *src, size_t n)
{
    if (__atomic_load_n(&refused, __ATOMIC_RELAXED)) {
        errno = ENOSYS;
        return -1;
    }
    if (n == 0)
        return 0;
    struct iovec local = {.iov_base = dst, .iov_len = n};
    struct iovec remote = {.iov_base = (void *)src, .iov_len = n};
    int saved = errno;
    /* The calling thread by its tid: the process's pid names the main thread, whose memory
     * is gone once it has called pthread_exit while the others live on. */
    long r = syscall(SYS_process_vm_readv, syscall(SYS_gettid), &local, 1ul, &remote, 1ul, 0ul);
    if (r >= 0) {
        errno = saved;
        return (ssize_t)r;
    }
    if (errno == ENOSYS || errno == EPERM)
        __atomic_store_n(&refused, 1, __ATOMIC_RELAXED);
    return -1;
}

int fdl_safemem_usable(void)
{
    return !__atomic_load_n(&refused, __ATOMIC_RELAXED);
}
