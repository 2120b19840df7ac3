/* clone: glibc's raw process-creation call, used by runtimes and hand-written spawners. A
 * child made with CLONE_VM shares our memory and, unless it sets its own TLS, this thread's
 * thread-local storage: its close/dup2 calls would edit our records. With CLONE_VFORK this
 * thread is suspended until the child execs or exits, exactly like vfork, so the vfork marker
 * covers the child. Without CLONE_VFORK (and without CLONE_THREAD: a real thread has its own
 * TLS and descriptors shared with us) the child runs alongside us, so every wrapper compares
 * the raw pid from then on. pthread_create, posix_spawn and popen use glibc's internal clone
 * and never come here. */
#include "wrap.h"

#include <sched.h>
#include <stdarg.h>
#include <sys/types.h>

typedef int (*clone_fn)(void *);

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
    int r = REAL(clone)(fn, stack, flags, arg, ptid, tls, ctid);
    if (vfork_like) { /* only the parent returns here; the child has exec'd or exited */
        int err = errno;
        fdl_vfork_child = saved;
        errno = err;
    }
    return r;
}
