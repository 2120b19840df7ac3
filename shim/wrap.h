/* Helpers shared by the wrapper files: every wrapper is "call the real function, then hand
 * the result to track.c", with errno saved across our part so the program sees exactly what
 * libc gave it. */
#ifndef FDL_WRAP_H
#define FDL_WRAP_H

#include "fdleak.h"
#include "real.h"

#include <errno.h>
#include <limits.h>

#define FDL_EXPORT __attribute__((visibility("default")))

/* Result of a call that returns one new descriptor (or -1). Inlined into the wrapper, so that
 * the return address it hands to fdl_track is the wrapper's: the program's call site. */
static inline __attribute__((always_inline)) int
fdl_done1(int fd, enum fdc_call call, enum fdc_kind kind, const char *path, int cloexec)
{
    int err = errno;
    if (fd >= 0) {
        fdl_tls.caller = __builtin_return_address(0);
        fdl_track(&fd, 1, call, kind, path, cloexec);
    } else
        fdl_failed(call, err);
    errno = err;
    return fd;
}

/* Result of a call that fills two descriptors (pipe, socketpair, openpty). */
static inline __attribute__((always_inline)) int
fdl_done2(int r, const int *fds, enum fdc_call call, enum fdc_kind kind, int cloexec)
{
    int err = errno;
    if (r == 0) {
        fdl_tls.caller = __builtin_return_address(0);
        fdl_track(fds, 2, call, kind, NULL, cloexec);
    } else
        fdl_failed(call, err);
    errno = err;
    return r;
}

/* libunwind's memory-validation pipe (unwind_io.c). While this thread unwinds, libunwind's
 * pipe2 gets these two numbers instead of a real pair: no descriptor can have them (the kernel
 * caps RLIMIT_NOFILE at fs.nr_open <= 2^30), so the shim never holds a descriptor of its own
 * and libunwind's read/write/close on them never reach the kernel. */
#define FDL_VFD_READ (INT_MAX - 2)
#define FDL_VFD_WRITE (INT_MAX - 1)
static inline int fdl_vfd(int fd)
{
    return fd == FDL_VFD_READ || fd == FDL_VFD_WRITE;
}
/* Answers libunwind's pipe()/pipe2() when it is the caller inside our capture: returns 1 and
 * fills fds, else 0 (a real pipe is made). */
int fdl_vfd_pipe(int fds[2], const void *caller) FDL_HIDDEN;
/* Answers close() of a virtual descriptor inside our capture: 1 (the call returns 0), else 0. */
int fdl_vfd_close(int fd) FDL_HIDDEN;

#endif
