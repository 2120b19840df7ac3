/* Real-symbol lookup (see real.h). */
#include "real.h"

#include <dlfcn.h>
#include <errno.h>
#include <signal.h>

/* Stands in for a libc function this libc lacks, so a wrapper never calls NULL. */
static long missing(void)
{
    errno = ENOSYS;
    return -1;
}

/* Once per call site, with signals blocked: a handler that siglongjmp()s out of dlsym would
 * leave the loader lock taken and dlerror's state half freed, where the bare program never
 * called dlsym at all. */
void *fdl_real_lookup(const char *name, void **slot)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    void *p = dlsym(RTLD_NEXT, name);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!p) {
        static int said;
        fdl_msg_once(&said, "a libc function is missing (", name, "); it fails with ENOSYS");
        p = (void *)missing;
    }
    __atomic_store_n(slot, p, __ATOMIC_RELAXED);
    return p;
}
