/* Signals and exits: the dump-on-demand signal, the fatal signals the program does not handle
 * itself (dump, then die of the same signal), the exit dump, and every libc entry point that
 * sets a disposition, so our handlers stay invisible. A program that asks for SIGINT's
 * disposition must see SIG_DFL, as it would without us: CPython, for one, installs its
 * KeyboardInterrupt handler only when it finds SIG_DFL. A program that installs its own
 * handler replaces ours.
 *
 * glibc's signal, bsd_signal, ssignal, sysv_signal, sigset, sigignore and siginterrupt call
 * its internal sigaction, which no wrapper sees: each is rewritten here after glibc 2.36's
 * sysdeps/posix code, over set_action(), the one path that knows about our handlers. sigvec
 * is a compat symbol no program can link against today and is left alone. */
#include "fdleak.h"
#include "wrap.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NSIG_ 65
static const int fatal_sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGABRT, SIGSEGV, SIGBUS};
/* ours[s]: our handler is installed for s and the program has not replaced it; view[s] is the
 * disposition the program believes it has (SIG_DFL, or SIG_DFL as it set it). */
static int ours[NSIG_];
static struct sigaction view[NSIG_];
static struct sigaction mine[NSIG_]; /* the action we installed (handler NULL: never ours) */
static int (*real_sigaction)(int, const struct sigaction *, struct sigaction *);

void fdl_exit_dump(void)
{
    if (!fdl_ready || fdl_borrowed_memory() || !fdl_cfg.on_exit)
        return;
    if (!fdl_dump_final_claim())
        return;
    struct fdl_dump_req r = {.trigger = FDC_TRIG_EXIT, .safe = 1, .snapshot_token = -1};
    fdl_dump(&r);
}

void fdl_signals_die(int sig)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    real_sigaction(sig, &dfl, NULL);
    ours[sig] = 0;
    syscall(SYS_tgkill, syscall(SYS_getpid), syscall(SYS_gettid), sig);
}

static void on_fatal(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    int saved = errno;
    /* A fault the kernel raised (not a kill) recurs on return from the handler. */
    int synchronous = (sig == SIGSEGV || sig == SIGBUS) && si && si->si_code > 0;
    if (!fdl_vfork_child) {
        /* A dump this handler interrupted (the exit dump, say) is finished first: fdl_dump
         * re-raises the signal when it ends. One on another thread is waited for. */
        if (fdl_dump_defer_fatal(sig, synchronous)) {
            errno = saved;
            return;
        }
        if (fdl_dump_final_claim()) {
            struct fdl_dump_req r = {
                .trigger = FDC_TRIG_FATAL, .signal = sig, .safe = 0, .snapshot_token = -1};
            fdl_dump(&r);
        }
    }
    /* Die of the same signal: restore the default and resend it to this thread. It stays
     * pending while the handler runs (the signal is blocked) and kills us on return; a fault
     * would also simply recur. */
    fdl_signals_die(sig);
    errno = saved;
}

/* A dump needs more stack than the program's alternate signal stack may have left: on a
 * SIGSTKSZ (8 KiB) one, after the kernel's frame (~3.5 KiB with AVX-512) and the program's
 * own handler, a report overflowed it at 7 KiB. A handler of ours (no SA_ONSTACK) runs on
 * the alternate stack when it interrupts one of the program's SA_ONSTACK handlers, and _exit
 * can be called from one. There the dump runs on a stack of ours, mapped on first need with a
 * guard page below; one dump at a time uses it (dumps are serialized anyway), and if it is
 * taken or cannot be mapped the dump runs where it is, as before. The switch is stack.S's,
 * the one capture.c unwinds through. */
#define OWN_STACK_SIZE (128 * 1024)
static char *own_stack;
static int own_stack_busy;

static int on_altstack(void)
{
    stack_t ss;
    int saved = errno;
    int r = sigaltstack(NULL, &ss);
    errno = saved;
    return r == 0 && (ss.ss_flags & SS_ONSTACK);
}

/* Calls fn(arg), on our own stack if this thread is on its alternate signal stack. */
static void off_altstack(void (*fn)(void *), void *arg)
{
    if (!on_altstack() || __atomic_exchange_n(&own_stack_busy, 1, __ATOMIC_ACQUIRE)) {
        fn(arg);
        return;
    }
    char *base = __atomic_load_n(&own_stack, __ATOMIC_ACQUIRE);
    if (!base) {
        int saved = errno;
        void *p = mmap(NULL, OWN_STACK_SIZE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p != MAP_FAILED && mprotect(p, 4096, PROT_NONE) == 0)
            base = p;
        else if (p != MAP_FAILED)
            munmap(p, OWN_STACK_SIZE);
        errno = saved;
        __atomic_store_n(&own_stack, base, __ATOMIC_RELEASE);
    }
    if (base)
        fdl_stack_call(arg, 0, (void *)fn, base + OWN_STACK_SIZE);
    else
        fn(arg);
    __atomic_store_n(&own_stack_busy, 0, __ATOMIC_RELEASE);
}

struct handler_args {
    int sig;
    siginfo_t *si;
    void *uc;
};

static void fatal_on_stack(void *a)
{
    struct handler_args *h = a;
    on_fatal(h->sig, h->si, h->uc);
}

static void fatal_entry(int sig, siginfo_t *si, void *uc)
{
    struct handler_args h = {sig, si, uc};
    off_altstack(fatal_on_stack, &h);
}

static void exit_dump_on_stack(void *unused)
{
    (void)unused;
    fdl_exit_dump();
}

static void dump_on_stack(void *a)
{
    struct handler_args *h = a;
    int sig = h->sig;
    siginfo_t *si = h->si;
    int saved = errno;
    int token = -1;
    /* `fdleak snapshot` queues the signal with the snapshot magic: write to the snapshot
     * directory (common/contract.h). */
    unsigned v = si ? (unsigned)si->si_value.sival_int : 0;
    if (si && si->si_code == SI_QUEUE && (v & FDC_SNAPSHOT_MAGIC_MASK) == FDC_SNAPSHOT_MAGIC)
        token = (int)(v & FDC_SNAPSHOT_TOKEN_MASK);
    struct fdl_dump_req r = {
        .trigger = FDC_TRIG_SIGNAL, .signal = sig, .safe = 0, .snapshot_token = token};
    fdl_dump(&r);
    errno = saved;
}

static void on_dump(int sig, siginfo_t *si, void *uc)
{
    struct handler_args h = {sig, si, uc};
    off_altstack(dump_on_stack, &h);
}

/* What the kernel hands back for a SIG_DFL action, which the program must see when it sets
 * one on a signal we hold: glibc adds SA_RESTORER and its restorer, the kernel drops SIGKILL
 * and SIGSTOP from the mask, keeps only the first 64 signals of it, and (5.11+) clears the
 * flags it does not know. Both are learnt from our first install. */
#define SA_RESTORER_ 0x04000000
#define SA_UNSUPPORTED_ 0x400
#define SA_EXPOSE_TAGBITS_ 0x800
#define KNOWN_FLAGS                                                                                \
    (SA_NOCLDSTOP | SA_NOCLDWAIT | SA_SIGINFO | SA_EXPOSE_TAGBITS_ | SA_RESTORER_ | SA_ONSTACK |   \
     SA_RESTART | SA_NODEFER | SA_RESETHAND)
static void (*kernel_restorer)(void);
static int kernel_drops_flags;

static void kernel_view(struct sigaction *v, const struct sigaction *act)
{
    uint64_t mask;
    memcpy(&mask, &act->sa_mask, sizeof(mask));
    mask &= ~((1ull << (SIGKILL - 1)) | (1ull << (SIGSTOP - 1)));
    memset(v, 0, sizeof(*v));
    v->sa_handler = act->sa_handler;
    memcpy(&v->sa_mask, &mask, sizeof(mask));
    v->sa_flags = act->sa_flags | SA_RESTORER_;
    if (kernel_drops_flags)
        v->sa_flags &= KNOWN_FLAGS;
    v->sa_restorer = kernel_restorer;
}

static void install(int sig, void (*fn)(int, siginfo_t *, void *), int flags)
{
    struct sigaction cur;
    if (real_sigaction(sig, NULL, &cur) != 0 || cur.sa_handler != SIG_DFL ||
        (cur.sa_flags & SA_SIGINFO))
        return; /* ignored or handled already (inherited SIG_IGN, e.g. nohup): leave it */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = fn;
    /* SA_UNSUPPORTED is a bit no kernel will ever use: whether it comes back tells whether
     * this kernel clears unknown flags (kernel_view). */
    sa.sa_flags = SA_SIGINFO | SA_UNSUPPORTED_ | flags;
    sigemptyset(&sa.sa_mask);
    if (real_sigaction(sig, &sa, NULL) != 0)
        return;
    struct sigaction back;
    if (!kernel_restorer && real_sigaction(sig, NULL, &back) == 0) {
        kernel_restorer = back.sa_restorer;
        kernel_drops_flags = !(back.sa_flags & SA_UNSUPPORTED_);
    }
    mine[sig] = sa;
    view[sig] = cur;
    __atomic_store_n(&ours[sig], 1, __ATOMIC_RELEASE);
}

void fdl_signals_init(void)
{
    real_sigaction = &REAL(sigaction);
    if (fdl_cfg.dump_signal)
        install(fdl_cfg.dump_signal, on_dump, SA_RESTART);
    if (fdl_cfg.on_fatal)
        for (unsigned i = 0; i < sizeof(fatal_sigs) / sizeof(fatal_sigs[0]); i++)
            if (fatal_sigs[i] != fdl_cfg.dump_signal)
                install(fatal_sigs[i], fatal_entry, 0);
}

/* Our handler is installed for sig. ours[] alone is not proof: a raw rt_sigaction syscall
 * can replace the handler behind every wrapper, and then the kernel's action is the truth. */
static int held(int sig)
{
    if (sig <= 0 || sig >= NSIG_ || !__atomic_load_n(&ours[sig], __ATOMIC_ACQUIRE))
        return 0;
    struct sigaction cur;
    int saved = errno;
    int r = real_sigaction(sig, NULL, &cur);
    errno = saved;
    if (r == 0 && (cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == mine[sig].sa_sigaction)
        return 1;
    if (!fdl_vfork_child) /* the parent's handler is still ours: only the child's changed */
        __atomic_store_n(&ours[sig], 0, __ATOMIC_RELEASE);
    return 0;
}

/* The program gives back to SIG_DFL a signal we held at start-up and it then took: our
 * handler goes back in its place, so a later SIGTERM still gets its report. The program sees
 * what it would have seen: the kernel's old action, then its SIG_DFL. */
static int retake(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (sig <= 0 || sig >= NSIG_ || !mine[sig].sa_sigaction || !fdl_ready || fdl_vfork_child)
        return 0;
    struct sigaction want, kold;
    kernel_view(&want, act);
    int saved = errno;
    int r = real_sigaction(sig, &mine[sig], &kold);
    errno = saved;
    if (r != 0)
        return 0;
    view[sig] = want;
    __atomic_store_n(&ours[sig], 1, __ATOMIC_RELEASE);
    if (old)
        *old = kold;
    return 1;
}

/* The one path for every disposition change: libc's sigaction, except on a signal we hold,
 * where SIG_DFL keeps our handler and only changes what the program sees, and anything else
 * replaces our handler. Reads act before writing old (they may be the same struct). A vfork
 * child borrows the parent's memory: it changes its own kernel action and none of ours. */
static int set_action(int sig, const struct sigaction *act, struct sigaction *old)
{
    fdl_python_hook_point(); /* CPython's signal set-up is its first call to us with the GIL */
    if (!held(sig)) {
        if (act && act->sa_handler == SIG_DFL && retake(sig, act, old))
            return 0;
        return REAL(sigaction)(sig, act, old);
    }
    struct sigaction prev = view[sig];
    if (fdl_vfork_child) {
        int r = act ? REAL(sigaction)(sig, act, NULL) : 0;
        if (r == 0 && old)
            *old = prev;
        return r;
    }
    if (act) {
        /* sa_handler and sa_sigaction share their storage: 0 is SIG_DFL with SA_SIGINFO too */
        if (act->sa_handler == SIG_DFL) {
            kernel_view(&view[sig], act);
        } else {
            int r = REAL(sigaction)(sig, act, NULL);
            if (r != 0)
                return r;
            __atomic_store_n(&ours[sig], 0, __ATOMIC_RELEASE);
            if (sig == fdl_cfg.dump_signal) {
                static int said;
                fdl_msg_once(&said, "the program installed its own handler for the dump signal",
                             "; dumps on demand are off until it sets SIG_DFL again (or set "
                             "FDLEAK_SIGNAL to another signal)",
                             "");
            }
        }
    }
    if (old)
        *old = prev;
    return 0;
}

FDL_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    return set_action(sig, act, old);
}

int __sigaction(int sig, const struct sigaction *act, struct sigaction *old);
FDL_EXPORT int __sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    return set_action(sig, act, old);
}

/* The rest follow glibc 2.36 (sysdeps/posix/) line by line, with set_action for __sigaction.
 * The range checks are glibc's: _NSIG is 65, 32 and 33 are its own (SIGCANCEL, SIGSETXID). */
static int bad_sig(int sig)
{
    return sig < 1 || sig >= NSIG_ || sig == 32 || sig == 33;
}

/* glibc's _sigintr: siginterrupt(sig, 1) makes later signal() calls leave out SA_RESTART.
 * Both live here, so glibc's copy is never consulted. */
static sigset_t sigintr;

/* signal, bsd_signal, ssignal: BSD semantics, SA_RESTART, the signal blocked in its handler. */
static sighandler_t bsd_signal_(int sig, sighandler_t handler)
{
    if (handler == SIG_ERR || bad_sig(sig)) {
        errno = EINVAL;
        return SIG_ERR;
    }
    struct sigaction act, oact;
    memset(&act, 0, sizeof(act));
    act.sa_handler = handler;
    sigemptyset(&act.sa_mask);
    sigaddset(&act.sa_mask, sig);
    act.sa_flags = sigismember(&sigintr, sig) ? 0 : SA_RESTART;
    if (set_action(sig, &act, &oact) < 0)
        return SIG_ERR;
    return oact.sa_handler;
}

FDL_EXPORT sighandler_t signal(int sig, sighandler_t handler)
{
    return bsd_signal_(sig, handler);
}

/* <signal.h> declares bsd_signal only for pre-2008 X/Open. */
sighandler_t bsd_signal(int sig, sighandler_t handler);
FDL_EXPORT sighandler_t bsd_signal(int sig, sighandler_t handler)
{
    return bsd_signal_(sig, handler);
}

FDL_EXPORT sighandler_t ssignal(int sig, sighandler_t handler)
{
    return bsd_signal_(sig, handler);
}

/* System V semantics: one shot, not blocked in its handler, no restart. glibc checks only the
 * range here; sigaction refuses 32 and 33. */
static sighandler_t sysv_signal_(int sig, sighandler_t handler)
{
    if (handler == SIG_ERR || sig < 1 || sig >= NSIG_) {
        errno = EINVAL;
        return SIG_ERR;
    }
    struct sigaction act, oact;
    memset(&act, 0, sizeof(act));
    act.sa_handler = handler;
    sigemptyset(&act.sa_mask);
    act.sa_flags = (SA_RESETHAND | SA_NODEFER | SA_INTERRUPT) & ~SA_RESTART;
    if (set_action(sig, &act, &oact) < 0)
        return SIG_ERR;
    return oact.sa_handler;
}

FDL_EXPORT sighandler_t sysv_signal(int sig, sighandler_t handler)
{
    return sysv_signal_(sig, handler);
}

FDL_EXPORT sighandler_t __sysv_signal(int sig, sighandler_t handler)
{
    return sysv_signal_(sig, handler);
}

/* SIG_HOLD blocks the signal and changes no disposition; any other disposition is set with no
 * flags and unblocks the signal. SIG_HOLD comes back when the signal was blocked. */
FDL_EXPORT sighandler_t sigset(int sig, sighandler_t disp)
{
    sigset_t set, oset;
    struct sigaction act, oact;
    sigemptyset(&set);
    if (sigaddset(&set, sig) < 0)
        return SIG_ERR;
    if (disp == SIG_HOLD) {
        if (sigprocmask(SIG_BLOCK, &set, &oset) < 0)
            return SIG_ERR;
        if (sigismember(&oset, sig))
            return SIG_HOLD;
        if (set_action(sig, NULL, &oact) < 0)
            return SIG_ERR;
        return oact.sa_handler;
    }
    memset(&act, 0, sizeof(act));
    act.sa_handler = disp;
    sigemptyset(&act.sa_mask);
    act.sa_flags = 0;
    if (set_action(sig, &act, &oact) < 0)
        return SIG_ERR;
    if (sigprocmask(SIG_UNBLOCK, &set, &oset) < 0)
        return SIG_ERR;
    return sigismember(&oset, sig) ? SIG_HOLD : oact.sa_handler;
}

FDL_EXPORT int sigignore(int sig)
{
    struct sigaction act;
    memset(&act, 0, sizeof(act));
    act.sa_handler = SIG_IGN;
    sigemptyset(&act.sa_mask);
    act.sa_flags = 0;
    return set_action(sig, &act, NULL);
}

/* Toggles SA_RESTART on the current action (on a signal we hold, the one the program sees)
 * and remembers the choice for signal(). */
FDL_EXPORT int siginterrupt(int sig, int interrupt)
{
    struct sigaction action;
    if (set_action(sig, NULL, &action) < 0)
        return -1;
    if (interrupt) {
        sigaddset(&sigintr, sig);
        action.sa_flags &= ~SA_RESTART;
    } else {
        sigdelset(&sigintr, sig);
        action.sa_flags |= SA_RESTART;
    }
    if (set_action(sig, &action, NULL) < 0)
        return -1;
    return 0;
}

/* _exit runs no destructors: a forked worker ending with _exit still gets its dump. */
FDL_EXPORT void _exit(int status)
{
    if (!fdl_vfork_child)
        off_altstack(exit_dump_on_stack, NULL);
    REAL(_exit)(status);
    __builtin_unreachable();
}

FDL_EXPORT void _Exit(int status)
{
    if (!fdl_vfork_child)
        off_altstack(exit_dump_on_stack, NULL);
    REAL(_Exit)(status);
    __builtin_unreachable();
}
