/* Helpers shared by the wrapper files: every wrapper is "call the real function, then hand
 * the result to track.c", with errno saved across our part so the program sees exactly what
 * libc gave it. */
#ifndef FDL_WRAP_H
#define FDL_WRAP_H

#include "fdleak.h"
#include "real.h"

#include <errno.h>

#define FDL_EXPORT __attribute__((visibility("default")))

/* Result of a call that returns one new descriptor (or -1). */
static inline int fdl_done1(int fd, enum fdc_call call, enum fdc_kind kind, const char *path,
                            int cloexec)
{
    int err = errno;
    if (fd >= 0)
        fdl_track(&fd, 1, call, kind, path, cloexec);
    else
        fdl_failed(call, err);
    errno = err;
    return fd;
}

/* Result of a call that fills two descriptors (pipe, socketpair, openpty). */
static inline int fdl_done2(int r, const int *fds, enum fdc_call call, enum fdc_kind kind,
                            int cloexec)
{
    int err = errno;
    if (r == 0)
        fdl_track(fds, 2, call, kind, NULL, cloexec);
    else
        fdl_failed(call, err);
    errno = err;
    return r;
}

/* Inside our own code (libunwind's first unwind opens a pipe pair it keeps forever): move the
 * descriptor out of the program's way and mark it ours, so it is never reported. */
static inline int fdl_is_ours(void)
{
    return fdl_tls.busy && !fdl_vfork_child && fdl_ready;
}

#endif
