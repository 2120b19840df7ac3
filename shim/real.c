/* Real-symbol lookup (see real.h). */
#include "real.h"

#include <dlfcn.h>
#include <errno.h>

/* Stands in for a libc function this libc lacks, so a wrapper never calls NULL. */
static long missing(void)
{
    errno = ENOSYS;
    return -1;
}

void *fdl_real_lookup(const char *name, void **slot)
{
    void *p = dlsym(RTLD_NEXT, name);
    if (!p) {
        static int said;
        fdl_msg_once(&said, "a libc function is missing (", name, "); it fails with ENOSYS");
        p = (void *)missing;
    }
    __atomic_store_n(slot, p, __ATOMIC_RELAXED);
    return p;
}
