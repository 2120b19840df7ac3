/* Where CPython's eval loop is, for the C stack of an acquisition that also has a Python stack
 * (track.c). Such a stack keeps the native frames from the wrapped call outward up to, not
 * including, the innermost frame in _PyEval_EvalFrameDefault: the C extension's path to the
 * system call (sqlite3_open_v2 -> unixOpen -> open64), and nothing of the interpreter, whose
 * frames only repeat the Python stack and would keep every Python line's C stack distinct.
 *
 * _PyEval_EvalFrameDefault is exported by CPython 3.8 to 3.13, from libpython3.X.so and from a
 * statically linked interpreter alike (they export the C API from the executable). Its range
 * is looked up once, the first time an acquisition has a Python stack (libpython is loaded by
 * then, even in an embedding program that dlopen()s it late: python.c knows its handle):
 * dlsym for the address,
 * dladdr1(RTLD_DL_SYMENT) for its symbol's st_size. Kept apart from python.c, whose walk of
 * the frame chain is a separate concern (and a separate file to change per CPython version).
 *
 * Not covered: gcc's cold part of the function (_PyEval_EvalFrameDefault.cold, a local symbol
 * at another address, reached on error paths): a call from there is not recognised, and the
 * stack then keeps its full depth. */
#include "fdleak.h"

#include <dlfcn.h>
#include <link.h>

enum { EVAL_UNTRIED, EVAL_KNOWN, EVAL_NONE };
static int state;        /* EVAL_*: written once, after lo and hi */
static uintptr_t lo, hi; /* [lo, hi): the function's code */

static void lookup(void)
{
    void *f = fdl_python_symbol("_PyEval_EvalFrameDefault");
    const ElfW(Sym) *sym = NULL;
    Dl_info info;
    int found = f && dladdr1(f, &info, (void **)&sym, RTLD_DL_SYMENT) && sym &&
                info.dli_saddr == f && sym->st_size > 0;
    if (found) {
        lo = (uintptr_t)f;
        hi = lo + sym->st_size;
    }
    /* Two threads may both look it up: they find the same answer. */
    __atomic_store_n(&state, found ? EVAL_KNOWN : EVAL_NONE, __ATOMIC_RELEASE);
}

int fdl_pyeval_known(void)
{
    int s = __atomic_load_n(&state, __ATOMIC_ACQUIRE);
    if (unlikely(s == EVAL_UNTRIED)) {
        int busy = fdl_busy_begin(); /* dlsym and dladdr1 pass through our wrappers */
        lookup();
        fdl_busy_end(busy);
        s = __atomic_load_n(&state, __ATOMIC_ACQUIRE);
    }
    return s == EVAL_KNOWN;
}

int fdl_pyeval_cut(const uintptr_t *ips, int n)
{
    /* Return addresses: the call instruction is the byte before. */
    for (int i = 0; i < n; i++)
        if (ips[i] - 1 - lo < hi - lo)
            return i;
    return n;
}
