/* clone: glibc's raw process-creation call, used by runtimes and hand-written spawners. A
 * child made with CLONE_VM shares our memory and, unless it sets its own TLS, this thread's
 * thread-local storage: its close/dup2 calls would edit our records. With CLONE_VFORK this
 * thread is suspended until the child execs or exits, exactly like vfork, so the vfork marker
 * covers the child. Without CLONE_VFORK (and without CLONE_THREAD: a real thread has its own
 * TLS and descriptors shared with us) the child runs alongside us, so every wrapper compares
 * the raw pid from then on. Without CLONE_VM the child has a copy of our memory, as a fork
 * child has, and is reset as one before its function runs (the pthread_atfork handlers that
 * do it for fork do not run for clone): what the parent held is its inheritance, not its
 * leaks. pthread_create, posix_spawn and popen use glibc's internal clone and never come
 * here. */
#include "wrap.h"

#include <sched.h>
#include <stdarg.h>
#include <sys/types.h>

typedef int (*clone_fn)(void *);

/* The child's real function and argument. It lives in the parent's frame, which the child
 * reads in its own copy of our memory at the same address. */
struct copied_child {
    clone_fn fn;
    void *arg;
};

static int copied_child_start(void *p)
{
    struct copied_child c = *(struct copied_child *)p;
    fdl_after_fork_child();
    return c.fn(c.arg);
}

FDL_EXPORT int clone(clone_fn fn, void *stack, int flags, void *arg, ...)
{
    /* The optional arguments are always forwarded: reading them when the caller passed fewer
     * reads its register save area and its frame, both mapped, and glibc ignores them then. */
    va_list ap;
    va_start(ap, arg);
    pid_t *ptid = va_arg(ap, pid_t *);
    void *tls = va_arg(ap, void *);
    pid_t *ctid = va_arg(ap, pid_t *);
    va_end(ap);
    int shared_vm = (flags & CLONE_VM) && !(flags & CLONE_THREAD);
    int vfork_like = shared_vm && (flags & CLONE_VFORK);
    if (shared_vm && !vfork_like)
        fdl_clone_shared_vm();
    int saved = fdl_vfork_child;
    if (vfork_like)
        fdl_vfork_child = 1;
    /* With CLONE_SETTLS the child's thread-local storage is not our copy: left alone. */
    int copied = !(flags & (CLONE_VM | CLONE_SETTLS)) && fdl_ready && !fdl_vfork_child;
    struct copied_child c = {fn, arg};
    if (copied)
        fdl_capture_fork_prepare();
    int r = copied ? REAL(clone)(copied_child_start, stack, flags, &c, ptid, tls, ctid)
                   : REAL(clone)(fn, stack, flags, arg, ptid, tls, ctid);
    if (copied) {
        int err = errno;
        fdl_capture_fork_parent();
        errno = err;
    }
    if (vfork_like) { /* only the parent returns here; the child has exec'd or exited */
        int err = errno;
        fdl_vfork_child = saved;
        errno = err;
    }
    return r;
}
