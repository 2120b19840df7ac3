/* Wrappers that release or duplicate descriptors: close and its range forms, dup/dup2/dup3
 * and fcntl's F_DUPFD, F_SETFD. The hottest wrappers (close, fcntl) add one TLS test and one
 * table write to the real call. Misuse (misuse.c) is looked for only where a call failed with
 * EBADF, or where close found no live record: the success path of a tracked close is as it
 * was, plus the release site (track.c). */
#include "fdtable.h"
#include "wrap.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <stdarg.h>
#include <asm/ioctls.h>
#include <unistd.h>

#define CALLER __builtin_return_address(0)

/* A wrapped call on fd failed: EBADF on a released or never-opened number is misuse. */
static inline void check_ebadf(int r, int err, int fd, enum fdc_call call)
{
    if (unlikely(r < 0) && err == EBADF)
        fdl_misuse_ebadf(fd, call);
}

/* close() of a number with no live record: never opened, closed already, or opened behind our
 * back (a raw syscall); the kernel's answer tells them apart. */
static __attribute__((noinline)) int close_untracked(int fd)
{
    int r = REAL(close)(fd);
    int err = errno;
    check_ebadf(r, err, fd, FDC_CALL_close);
    errno = err;
    return r;
}

FDL_EXPORT int close(int fd)
{
    if (fdl_enter()) {
        if (unlikely(fdl_release(fd, FDC_CALL_close, CALLER) == FDL_FREE))
            return close_untracked(fd);
    } else if (unlikely(fdl_vfd_close(fd))) {
        return 0;
    }
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
            fdl_release_range(lo, hi, 1, FDC_CALL_close_range, NULL); /* only marks */
        errno = err;
        return r;
    }
    fdl_misuse_range(lo, hi);
    fdl_release_range(lo, hi, 0, FDC_CALL_close_range, CALLER);
    return REAL(close_range)(lo, hi, flags);
}

FDL_EXPORT void closefrom(int lo)
{
    if (fdl_enter() && lo >= 0)
        fdl_release_range((unsigned)lo, ~0u, 0, FDC_CALL_closefrom, CALLER);
    REAL(closefrom)(lo);
}

static int dup_done(int r, int oldfd, int newfd, enum fdc_call call, int cloexec)
{
    int err = errno;
    if (r >= 0) {
        fdl_track_dup(r, oldfd, call, cloexec);
    } else {
        check_ebadf(r, err, newfd < -1 ? newfd : oldfd, call);
        fdl_failed(call, err);
    }
    errno = err;
    return r;
}

FDL_EXPORT int dup(int fd)
{
    if (!fdl_enter())
        return REAL(dup)(fd);
    return dup_done(REAL(dup)(fd), fd, -1, FDC_CALL_dup, 0);
}

/* dup2 onto an open fd closes it: the old record goes and the number is charged to dup2.
 * dup2(fd, fd) changes nothing. */
FDL_EXPORT int dup2(int oldfd, int newfd)
{
    if (!fdl_enter() || oldfd == newfd)
        return REAL(dup2)(oldfd, newfd);
    return dup_done(REAL(dup2)(oldfd, newfd), oldfd, newfd, FDC_CALL_dup2, 0);
}

FDL_EXPORT int dup3(int oldfd, int newfd, int flags)
{
    if (!fdl_enter())
        return REAL(dup3)(oldfd, newfd, flags);
    return dup_done(REAL(dup3)(oldfd, newfd, flags), oldfd, newfd, FDC_CALL_dup3,
                    flags & O_CLOEXEC);
}

/* F_GETFD is how programs ask whether a number is free (bash's move_to_high_fd probes 255
 * before moving a script there): on a number never released its EBADF is an answer, not
 * misuse. After a release it is a use after close, as for any other call. */
static int getfd_probe(int fd)
{
    struct fdl_entry e;
    return fd >= 0 && fdl_table_get(fd, &e) == FDL_FREE && !(e.flags & FDL_F_RELEASED);
}

/* The third argument, when there is one, is an int or a pointer; both travel in the same
 * register on x86_64, so passing it on as a pointer is what glibc itself does. */
static int fcntl_done(int r, int fd, int cmd, void *arg, enum fdc_call call)
{
    int err = errno;
    if (unlikely(r < 0) && err == EBADF && !(cmd == F_GETFD && getfd_probe(fd)))
        fdl_misuse_ebadf(fd, call);
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

/* ioctl(FIOCLEX/FIONCLEX) sets or clears FD_CLOEXEC (CPython's set_inheritable does, and
 * marks os.openpty's descriptors with it). Every other request passes straight through: the
 * common path is one compare (FIONCLEX and FIOCLEX differ in bit 0 only), the call, and one
 * compare of its result (a failure with EBADF may be a use after close: misuse.c).
 * Measured with callgrind: 32 instructions per bare ioctl(FIONREAD) loop turn, 40 with the
 * library as a tail call (58 with a variadic wrapper calling then comparing). */
_Static_assert((FIONCLEX | 1) == FIOCLEX, "FIOCLEX and FIONCLEX differ in bit 0");

static __attribute__((noinline)) void ioctl_cloexec(int fd, unsigned long req)
{
    int err = errno;
    if (fdl_enter())
        fdl_set_cloexec(fd, req == FIOCLEX);
    errno = err;
}

typedef int (*ioctl_fn)(int, unsigned long, void *);
static ioctl_fn real_ioctl;

/* First call, or FIOCLEX/FIONCLEX. */
static __attribute__((noinline)) int ioctl_slow(int fd, unsigned long req, void *arg,
                                                const void *caller)
{
    ioctl_fn f = __atomic_load_n(&real_ioctl, __ATOMIC_RELAXED);
    if (!f)
        f = (ioctl_fn)fdl_real_lookup("ioctl", (void **)&real_ioctl);
    int r = f(fd, req, arg);
    if ((req | 1) == FIOCLEX && r == 0)
        ioctl_cloexec(fd, req);
    if (r < 0)
        return (int)fdl_misuse_failed(r, fd, FDC_CALL_ioctl, caller);
    return r;
}

/* Defined with the third argument named rather than variadic (the ABI passes it in the same
 * register either way; glibc's own ioctl reads it so): no register save area on this path.
 * The assembler name keeps <sys/ioctl.h>'s variadic prototype out of the way. */
FDL_EXPORT int fdl_ioctl(int fd, unsigned long req, void *arg) __asm__("ioctl");
int fdl_ioctl(int fd, unsigned long req, void *arg)
{
    ioctl_fn f = __atomic_load_n(&real_ioctl, __ATOMIC_RELAXED);
    if (likely(f && (req | 1) != FIOCLEX)) {
        int r = f(fd, req, arg);
        if (unlikely(r < 0))
            return (int)fdl_misuse_failed(r, fd, FDC_CALL_ioctl, CALLER);
        return r;
    }
    return ioctl_slow(fd, req, arg, CALLER);
}
