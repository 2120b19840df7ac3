/* Calls that use a descriptor (issue 9: use after close): read/write and their positioned and
 * vector forms, the socket send/recv family, fstat, lseek, mmap, epoll_ctl. None acquires or
 * releases anything, and the read/write loop is the hottest path a program has, so each
 * wrapper is the real call and one compare of its result (an assembly stub, use.S: five
 * instructions around the call); only a failure goes out of line (fdl_misuse_failed,
 * misuse.c), which looks for misuse when errno is EBADF. Measured with callgrind: README,
 * "Descriptor misuse". */
#include "wrap.h"

#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define CALLER __builtin_return_address(0)

/* The entry points and their real-function slots are in use.S; here are their failure paths,
 * fdl_use_failed_<name>(r, fd, caller): r < 0 came back, errno is the real call's and stays so.
 * __fxstat (what binaries built against glibc < 2.33 call for fstat) reports as fstat. */
/* clang-format off */
#define USE_CALLS(X)                                                                               \
    X(read, read) X(write, write) X(pread, pread) X(pread64, pread64) X(pwrite, pwrite)           \
    X(pwrite64, pwrite64) X(readv, readv) X(writev, writev) X(send, send) X(recv, recv)           \
    X(sendto, sendto) X(recvfrom, recvfrom) X(sendmsg, sendmsg) X(lseek, lseek)                   \
    X(lseek64, lseek64) X(fstat, fstat) X(fstat64, fstat64)                                      \
    X(__fxstat, fstat) X(__fxstat64, fstat64)
/* clang-format on */

#define USE_DEFINE(fn, call)                                                                       \
    long fdl_use_failed_##fn(long r, int fd, const void *caller) FDL_HIDDEN;                       \
    long fdl_use_failed_##fn(long r, int fd, const void *caller)                                   \
    {                                                                                              \
        return fdl_misuse_failed(r, fd, FDC_CALL_##call, caller);                                  \
    }
USE_CALLS(USE_DEFINE)

/* mmap: only a mapping of a descriptor (MAP_ANONYMOUS ignores fd) can be a use of one. */
#define MMAP_WRAPPER(fn, call, off_t_)                                                             \
    FDL_EXPORT void *fn(void *addr, size_t len, int prot, int flags, int fd, off_t_ off)           \
    {                                                                                              \
        void *r = REAL(fn)(addr, len, prot, flags, fd, off);                                       \
        if (unlikely(r == MAP_FAILED) && !(flags & MAP_ANONYMOUS))                                 \
            fdl_misuse_failed(-1, fd, call, CALLER);                                               \
        return r;                                                                                  \
    }
MMAP_WRAPPER(mmap, FDC_CALL_mmap, off_t)
MMAP_WRAPPER(mmap64, FDC_CALL_mmap64, off64_t)

/* epoll_ctl's EBADF is for either descriptor: the epoll instance or the target. Each is
 * looked up; one open now (or live) is silent (misuse.c). */
FDL_EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
    int r = REAL(epoll_ctl)(epfd, op, fd, ev);
    if (unlikely(r < 0)) {
        fdl_misuse_failed(r, epfd, FDC_CALL_epoll_ctl, CALLER);
        fdl_misuse_failed(r, fd, FDC_CALL_epoll_ctl, CALLER);
    }
    return r;
}
