/* Calls that use a descriptor (issue 9: use after close): read/write and their positioned and
 * vector forms, the socket send/recv family, fstat, lseek, mmap, epoll_ctl. None acquires or
 * releases anything, and the read/write loop is the hottest path a program has, so each
 * wrapper is the real call and one compare of its result: only a failure goes out of line
 * (fdl_misuse_failed, misuse.c), which looks for misuse when errno is EBADF. Measured with
 * callgrind (README, "Descriptor misuse"): see the numbers there. */
#include "wrap.h"

#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define CALLER __builtin_return_address(0)

/* ret fn(params): the real call; on r < 0 the failure path, with fd the descriptor. */
#define USE_WRAPPER(ret_t, fn, call, params, args)                                                 \
    FDL_EXPORT ret_t fn params                                                                     \
    {                                                                                              \
        ret_t r = REAL(fn) args;                                                                   \
        if (unlikely(r < 0))                                                                       \
            return (ret_t)fdl_misuse_failed(r, fd, call, CALLER);                                  \
        return r;                                                                                  \
    }

/* clang-format off */
USE_WRAPPER(ssize_t, read, FDC_CALL_read, (int fd, void *buf, size_t n), (fd, buf, n))
USE_WRAPPER(ssize_t, write, FDC_CALL_write, (int fd, const void *buf, size_t n), (fd, buf, n))
USE_WRAPPER(ssize_t, pread, FDC_CALL_pread, (int fd, void *buf, size_t n, off_t off),
            (fd, buf, n, off))
USE_WRAPPER(ssize_t, pread64, FDC_CALL_pread64, (int fd, void *buf, size_t n, off64_t off),
            (fd, buf, n, off))
USE_WRAPPER(ssize_t, pwrite, FDC_CALL_pwrite, (int fd, const void *buf, size_t n, off_t off),
            (fd, buf, n, off))
USE_WRAPPER(ssize_t, pwrite64, FDC_CALL_pwrite64,
            (int fd, const void *buf, size_t n, off64_t off), (fd, buf, n, off))
USE_WRAPPER(ssize_t, readv, FDC_CALL_readv, (int fd, const struct iovec *v, int n), (fd, v, n))
USE_WRAPPER(ssize_t, writev, FDC_CALL_writev, (int fd, const struct iovec *v, int n), (fd, v, n))
USE_WRAPPER(ssize_t, send, FDC_CALL_send, (int fd, const void *buf, size_t n, int flags),
            (fd, buf, n, flags))
USE_WRAPPER(ssize_t, recv, FDC_CALL_recv, (int fd, void *buf, size_t n, int flags),
            (fd, buf, n, flags))
USE_WRAPPER(ssize_t, sendto, FDC_CALL_sendto,
            (int fd, const void *buf, size_t n, int flags, const struct sockaddr *a, socklen_t al),
            (fd, buf, n, flags, a, al))
USE_WRAPPER(ssize_t, recvfrom, FDC_CALL_recvfrom,
            (int fd, void *buf, size_t n, int flags, struct sockaddr *a, socklen_t *al),
            (fd, buf, n, flags, a, al))
USE_WRAPPER(ssize_t, sendmsg, FDC_CALL_sendmsg, (int fd, const struct msghdr *m, int flags),
            (fd, m, flags))
USE_WRAPPER(int, fstat, FDC_CALL_fstat, (int fd, struct stat *st), (fd, st))
USE_WRAPPER(int, fstat64, FDC_CALL_fstat64, (int fd, struct stat64 *st), (fd, st))
USE_WRAPPER(off_t, lseek, FDC_CALL_lseek, (int fd, off_t off, int whence), (fd, off, whence))
USE_WRAPPER(off64_t, lseek64, FDC_CALL_lseek64, (int fd, off64_t off, int whence),
            (fd, off, whence))
USE_WRAPPER(int, epoll_ctl, FDC_CALL_epoll_ctl,
            (int fd, int op, int target, struct epoll_event *ev), (fd, op, target, ev))
/* clang-format on */

/* Binaries built against glibc < 2.33 call fstat as __fxstat(_STAT_VER, fd, buf). */
int __fxstat(int ver, int fd, struct stat *st);
int __fxstat64(int ver, int fd, struct stat64 *st);
USE_WRAPPER(int, __fxstat, FDC_CALL_fstat, (int ver, int fd, struct stat *st), (ver, fd, st))
USE_WRAPPER(int, __fxstat64, FDC_CALL_fstat64, (int ver, int fd, struct stat64 *st),
            (ver, fd, st))

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
