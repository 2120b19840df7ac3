/* Wrappers that release or duplicate descriptors: close and its range forms, dup/dup2/dup3
 * and fcntl's F_DUPFD, F_SETFD. The hottest wrappers (close, fcntl) add one TLS test and one
 * table write to the real call. */
#include "wrap.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <stdarg.h>
#include <unistd.h>

FDL_EXPORT int close(int fd)
{
    if (fdl_enter())
        fdl_release(fd);
    else if (unlikely(fdl_vfd_close(fd)))
        return 0;
    return REAL(close)(fd);
}

FDL_EXPORT int close_range(unsigned int lo, unsigned int hi, int flags)
{
    if (!fdl_enter() || lo > hi || (flags & ~(CLOSE_RANGE_CLOEXEC | CLOSE_RANGE_UNSHARE)))
        return REAL(close_range)(lo, hi, flags);
    if (flags & CLOSE_RANGE_CLOEXEC) {
        int r = REAL(close_range)(lo, hi, flags);
        int err = errno;
        if (r == 0)
            fdl_release_range(lo, hi, 1); /* only marks */
        errno = err;
        return r;
    }
    fdl_release_range(lo, hi, 0);
    return REAL(close_range)(lo, hi, flags);
}

FDL_EXPORT void closefrom(int lo)
{
    if (fdl_enter() && lo >= 0)
        fdl_release_range((unsigned)lo, ~0u, 0);
    REAL(closefrom)(lo);
}

static int dup_done(int r, int oldfd, enum fdc_call call, int cloexec)
{
    int err = errno;
    if (r >= 0)
        fdl_track_dup(r, oldfd, call, cloexec);
    else
        fdl_failed(call, err);
    errno = err;
    return r;
}

FDL_EXPORT int dup(int fd)
{
    if (!fdl_enter())
        return REAL(dup)(fd);
    return dup_done(REAL(dup)(fd), fd, FDC_CALL_dup, 0);
}

/* dup2 onto an open fd closes it: the old record goes and the number is charged to dup2.
 * dup2(fd, fd) changes nothing. */
FDL_EXPORT int dup2(int oldfd, int newfd)
{
    if (!fdl_enter() || oldfd == newfd)
        return REAL(dup2)(oldfd, newfd);
    return dup_done(REAL(dup2)(oldfd, newfd), oldfd, FDC_CALL_dup2, 0);
}

FDL_EXPORT int dup3(int oldfd, int newfd, int flags)
{
    if (!fdl_enter())
        return REAL(dup3)(oldfd, newfd, flags);
    return dup_done(REAL(dup3)(oldfd, newfd, flags), oldfd, FDC_CALL_dup3, flags & O_CLOEXEC);
}

/* The third argument, when there is one, is an int or a pointer; both travel in the same
 * register on x86_64, so passing it on as a pointer is what glibc itself does. */
static int fcntl_done(int r, int fd, int cmd, void *arg, enum fdc_call call)
{
    int err = errno;
    if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) {
        if (r >= 0)
            fdl_track_dup(r, fd, call, cmd == F_DUPFD_CLOEXEC);
        else
            fdl_failed(call, err);
    } else if (cmd == F_SETFD && r == 0) {
        fdl_set_cloexec(fd, (int)(long)arg & FD_CLOEXEC);
    }
    errno = err;
    return r;
}

#define FCNTL_WRAPPER(fn, call)                                                                    \
    FDL_EXPORT int fn(int fd, int cmd, ...)                                                        \
    {                                                                                              \
        va_list ap;                                                                                \
        va_start(ap, cmd);                                                                         \
        void *arg = va_arg(ap, void *);                                                            \
        va_end(ap);                                                                                \
        if (!fdl_enter())                                                                          \
            return REAL(fn)(fd, cmd, arg);                                                         \
        return fcntl_done(REAL(fn)(fd, cmd, arg), fd, cmd, arg, call);                             \
    }
int fcntl64(int, int, ...);
FCNTL_WRAPPER(fcntl, FDC_CALL_fcntl)
FCNTL_WRAPPER(fcntl64, FDC_CALL_fcntl64)
