/* The real libc functions behind our wrappers, resolved with dlsym(RTLD_NEXT) on first use.
 * Resolution is lazy because wrappers can run before our constructor (another library's
 * constructor opening a file); dlsym does not allocate on glibc 2.36. */
#ifndef FDL_REAL_H
#define FDL_REAL_H

#include "fdleak.h"

void *fdl_real_lookup(const char *name, void **slot) FDL_HIDDEN;

/* REAL(open) is the next definition of open after ours, typed like ours. A missing symbol
 * (an entry point this libc lacks) is reported by the wrapper as ENOSYS. */
#define REAL(fn)                                                                                   \
    (*({                                                                                           \
        static __typeof__(&fn) fdl_real_##fn;                                                      \
        __typeof__(&fn) p_ = __atomic_load_n(&fdl_real_##fn, __ATOMIC_RELAXED);                    \
        if (unlikely(!p_))                                                                         \
            p_ = (__typeof__(&fn))fdl_real_lookup(#fn, (void **)&fdl_real_##fn);                   \
        p_;                                                                                        \
    }))

#endif
