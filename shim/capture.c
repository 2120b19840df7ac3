/* Stack capture: libunwind's unw_backtrace (its cached fast path, ~5 ns a frame warm), with
 * the shim's own frames removed. libunwind is dlopen()ed RTLD_LOCAL on the first capture
 * instead of linked: libunwind.so.8 exports unversioned _Unwind_* and backtrace, and a linked
 * copy was seen taking over libstdc++'s exception unwinding in the host. RTLD_LOCAL keeps its
 * symbols out of the global scope. Symbolization never happens here (see tools/). */
#include "fdleak.h"

#include <dlfcn.h>
#include <link.h>
#include <string.h>

typedef int (*backtrace_fn)(void **, int);

static backtrace_fn unw_bt;
static int state;                  /* 0 untried, 1 loading, 2 ready, 3 failed */
static uintptr_t self_lo, self_hi; /* our own text, frames there are dropped */
/* How many of our own frames sit on top of a capture (capture, track, wrapper; inlining
 * decides). Learned from the captures themselves, so each unwinds only what it keeps:
 * unwinding costs ~6 ns a frame. */
static int own_frames = 4;

static int find_self(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    uintptr_t probe = (uintptr_t)arg;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (probe >= lo && probe < hi) {
            self_lo = lo;
            self_hi = hi;
            return 1;
        }
    }
    return 0;
}

static int load(void)
{
    int expect = 0;
    if (!__atomic_compare_exchange_n(&state, &expect, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return expect == 2;
    dl_iterate_phdr(find_self, (void *)(uintptr_t)&load);
    void *h = dlopen(FDL_UNWIND_SONAME, RTLD_LAZY | RTLD_LOCAL);
    backtrace_fn fn = h ? (backtrace_fn)dlsym(h, "unw_backtrace") : NULL;
    if (!fn) {
        static int said;
        fdl_msg_once(&said, "cannot load " FDL_UNWIND_SONAME " (", dlerror(),
                     "); descriptors are tracked without stacks");
        __atomic_store_n(&state, 3, __ATOMIC_RELEASE);
        return 0;
    }
    unw_bt = fn;
    __atomic_store_n(&state, 2, __ATOMIC_RELEASE);
    return 1;
}

int fdl_capture(uintptr_t *ips, int max)
{
    if (unlikely(__atomic_load_n(&state, __ATOMIC_ACQUIRE) != 2) && !load())
        return 0;
    void *buf[128 + 8];
    /* own_frames <= 8, so max + own fits */
    if (max > 128)
        max = 128;
    int own = __atomic_load_n(&own_frames, __ATOMIC_RELAXED);
    int n = unw_bt(buf, max + own);
    int skip = 0;
    while (skip < n && (uintptr_t)buf[skip] >= self_lo && (uintptr_t)buf[skip] < self_hi)
        skip++;
    if (unlikely(skip > own && skip <= 8))
        __atomic_store_n(&own_frames, skip, __ATOMIC_RELAXED);
    n -= skip;
    if (n > max)
        n = max;
    if (n < 0)
        n = 0;
    memcpy(ips, buf + skip, (size_t)n * sizeof(void *));
    return n;
}
