/* Signals and exits: the dump-on-demand signal, the fatal signals the program does not handle
 * itself (dump, then die of the same signal), the exit dump, and the sigaction/signal wrappers
 * that keep our handlers invisible. A program that asks for SIGINT's disposition must see
 * SIG_DFL, as it would without us: CPython, for one, installs its KeyboardInterrupt handler
 * only when it finds SIG_DFL. A program that installs its own handler replaces ours. */
#include "fdleak.h"
#include "wrap.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int fdl_final_dump_done;

#define NSIG_ 65
static const int fatal_sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGABRT, SIGSEGV, SIGBUS};
/* ours[s]: our handler is installed for s and the program has not replaced it; view[s] is the
 * disposition the program believes it has (SIG_DFL, or SIG_DFL as it set it). */
static int ours[NSIG_];
static struct sigaction view[NSIG_];
static int (*real_sigaction)(int, const struct sigaction *, struct sigaction *);

void fdl_exit_dump(void)
{
    if (!fdl_ready || fdl_borrowed_memory() || !fdl_cfg.on_exit)
        return;
    if (__atomic_exchange_n(&fdl_final_dump_done, 1, __ATOMIC_ACQ_REL))
        return;
    struct fdl_dump_req r = {.trigger = FDC_TRIG_EXIT, .safe = 1, .snapshot_token = -1};
    fdl_dump(&r);
}

static void on_fatal(int sig, siginfo_t *si, void *uc)
{
    (void)si;
    (void)uc;
    int saved = errno;
    if (!fdl_vfork_child && !__atomic_exchange_n(&fdl_final_dump_done, 1, __ATOMIC_ACQ_REL)) {
        struct fdl_dump_req r = {
            .trigger = FDC_TRIG_FATAL, .signal = sig, .safe = 0, .snapshot_token = -1};
        fdl_dump(&r);
    }
    /* Die of the same signal: restore the default and resend it to this thread. It stays
     * pending while the handler runs (the signal is blocked) and kills us on return; a fault
     * would also simply recur. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    real_sigaction(sig, &dfl, NULL);
    ours[sig] = 0;
    syscall(SYS_tgkill, syscall(SYS_getpid), syscall(SYS_gettid), sig);
    errno = saved;
}

static void on_dump(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
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

static void install(int sig, void (*fn)(int, siginfo_t *, void *), int flags)
{
    struct sigaction cur;
    if (real_sigaction(sig, NULL, &cur) != 0 || cur.sa_handler != SIG_DFL ||
        (cur.sa_flags & SA_SIGINFO))
        return; /* ignored or handled already (inherited SIG_IGN, e.g. nohup): leave it */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = fn;
    sa.sa_flags = SA_SIGINFO | flags;
    sigemptyset(&sa.sa_mask);
    if (real_sigaction(sig, &sa, NULL) == 0) {
        ours[sig] = 1;
        view[sig] = cur;
    }
}

void fdl_signals_init(void)
{
    real_sigaction = &REAL(sigaction);
    if (fdl_cfg.dump_signal)
        install(fdl_cfg.dump_signal, on_dump, SA_RESTART);
    if (fdl_cfg.on_fatal)
        for (unsigned i = 0; i < sizeof(fatal_sigs) / sizeof(fatal_sigs[0]); i++)
            if (fatal_sigs[i] != fdl_cfg.dump_signal)
                install(fatal_sigs[i], on_fatal, 0);
}

FDL_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (sig <= 0 || sig >= NSIG_ || !__atomic_load_n(&ours[sig], __ATOMIC_ACQUIRE))
        return REAL(sigaction)(sig, act, old);
    struct sigaction prev = view[sig];
    if (act) {
        if (!(act->sa_flags & SA_SIGINFO) && act->sa_handler == SIG_DFL) {
            /* Still "default" to the program: keep our handler, remember its settings. */
            view[sig] = *act;
        } else {
            int r = REAL(sigaction)(sig, act, NULL);
            if (r != 0)
                return r;
            ours[sig] = 0;
            if (sig == fdl_cfg.dump_signal) {
                static int said;
                fdl_msg_once(&said, "the program installed its own handler for the dump signal",
                             "; dumps on demand are off (set FDLEAK_SIGNAL to another signal)", "");
            }
        }
    }
    if (old)
        *old = prev;
    return 0;
}

/* glibc's signal() calls its internal sigaction, which our wrapper would not see. BSD
 * semantics, as glibc's: SA_RESTART, the signal blocked in its handler. */
FDL_EXPORT sighandler_t signal(int sig, sighandler_t handler)
{
    if (sig <= 0 || sig >= NSIG_ || !__atomic_load_n(&ours[sig], __ATOMIC_ACQUIRE))
        return REAL(signal)(sig, handler);
    struct sigaction sa, old;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, sig);
    if (sigaction(sig, &sa, &old) != 0)
        return SIG_ERR;
    return old.sa_handler;
}

/* _exit runs no destructors: a forked worker ending with _exit still gets its dump. */
FDL_EXPORT void _exit(int status)
{
    if (!fdl_vfork_child)
        fdl_exit_dump();
    REAL(_exit)(status);
    __builtin_unreachable();
}

FDL_EXPORT void _Exit(int status)
{
    if (!fdl_vfork_child)
        fdl_exit_dump();
    REAL(_Exit)(status);
    __builtin_unreachable();
}
