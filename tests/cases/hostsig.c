/* What a program sees of its own signal dispositions, run bare and under the library by
 * tests/test_host_signals.py, which wants the same output and the same wait status.
 *
 * `hostsig ENTRY handle`: sets a SIGTERM handler with ENTRY (signal, bsd_signal, ssignal,
 * sysv_signal, __sysv_signal, sigset, sigaction, __sigaction), raises SIGTERM: the handler
 * runs, exit 0. `hostsig ENTRY restore`: the same, then SIG_DFL again with the same ENTRY, then
 * raise: death by SIGTERM. `hostsig sigignore ignore|restore`, `hostsig siginterrupt
 * handle|restore` likewise. Other modes: `raw` (a raw rt_sigaction syscall replaced the
 * handler), `badsig` (signal numbers libc refuses), `sameptr` (sigaction with old == act),
 * `resethand`, `dflview` (what comes back after setting SIG_DFL with flags), `hold` (sigset's
 * SIG_HOLD), `intr` (siginterrupt then signal), `altstack_exit [SIZE]`, `altstack_term [SIZE]`,
 * `altstack_dump SIG [SIZE]` (an 8 KiB, or SIZE bytes, sigaltstack with SA_ONSTACK handlers). */
#include "fixture.h"

#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>

/* declared by <signal.h> only for pre-2008 X/Open, and never for __sigaction */
sighandler_t bsd_signal(int sig, sighandler_t handler);
int __sigaction(int sig, const struct sigaction *act, struct sigaction *old);
/* sigset, sigignore and siginterrupt are obsolescent, and what this program tests */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

static volatile sig_atomic_t handled;

static void on_term(int sig)
{
    (void)sig;
    handled++;
}

static const char *name(sighandler_t h)
{
    if (h == SIG_DFL)
        return "DFL";
    if (h == SIG_IGN)
        return "IGN";
    if (h == SIG_ERR)
        return "ERR";
    if (h == SIG_HOLD)
        return "HOLD";
    if (h == on_term)
        return "on_term";
    return "other";
}

/* Sets SIGTERM's handler with the named entry point; returns the old one. */
static sighandler_t set_with(const char *entry, sighandler_t h)
{
    if (!strcmp(entry, "signal"))
        return signal(SIGTERM, h);
    if (!strcmp(entry, "bsd_signal"))
        return bsd_signal(SIGTERM, h);
    if (!strcmp(entry, "ssignal"))
        return ssignal(SIGTERM, h);
    if (!strcmp(entry, "sysv_signal"))
        return sysv_signal(SIGTERM, h);
    if (!strcmp(entry, "__sysv_signal"))
        return __sysv_signal(SIGTERM, h);
    if (!strcmp(entry, "sigset"))
        return sigset(SIGTERM, h);
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = h;
    int r;
    if (!strcmp(entry, "sigaction"))
        r = sigaction(SIGTERM, &sa, &old);
    else if (!strcmp(entry, "__sigaction"))
        r = __sigaction(SIGTERM, &sa, &old);
    else
        CHECK(!"known entry point");
    return r ? SIG_ERR : old.sa_handler;
}

static void show(const char *what)
{
    struct sigaction cur;
    CHECK(sigaction(SIGTERM, NULL, &cur) == 0);
    fact("%s handler %s flags %#x mask %#lx restorer %d", what, name(cur.sa_handler),
         (unsigned)cur.sa_flags, ((unsigned long *)&cur.sa_mask)[0], cur.sa_restorer != NULL);
}

static void die_by_sigterm(void)
{
    fact("raise");
    raise(SIGTERM);
    fact("survived handled=%d", (int)handled);
    exit(0);
}

/* The kernel's struct for rt_sigaction: the handler, flags, restorer, a 64-bit mask. */
struct ksigaction {
    void *handler;
    unsigned long flags;
    void *restorer;
    uint64_t mask;
};

static void raw_term(int sig)
{
    (void)sig;
    static const char msg[] = "raw handler\n";
    if (write(1, msg, sizeof msg - 1) < 0)
        _exit(8);
    _exit(5);
}

static void badsig(void)
{
    static const int sigs[] = {0, -1, 65, 64, 32, 33, 1000, SIGKILL, SIGSTOP};
    for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        int s = sigs[i];
        struct sigaction sa, old;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_IGN;
#define SHOW_INT(call)                                                                             \
    do {                                                                                           \
        errno = 0;                                                                                 \
        int r_ = (call);                                                                           \
        fact("%d %s -> %d errno %d", s, #call, r_, errno);                                         \
    } while (0)
#define SHOW_H(call)                                                                               \
    do {                                                                                           \
        errno = 0;                                                                                 \
        sighandler_t r_ = (call);                                                                  \
        fact("%d %s -> %s errno %d", s, #call, name(r_), errno);                                   \
    } while (0)
        SHOW_INT(sigaction(s, NULL, &old));
        SHOW_INT(__sigaction(s, &sa, NULL));
        SHOW_H(signal(s, SIG_IGN));
        SHOW_H(signal(s, SIG_ERR));
        SHOW_H(bsd_signal(s, SIG_DFL));
        SHOW_H(ssignal(s, SIG_DFL));
        SHOW_H(sysv_signal(s, SIG_DFL));
        SHOW_H(__sysv_signal(s, SIG_ERR));
        SHOW_H(sigset(s, SIG_DFL));
        SHOW_H(sigset(s, SIG_HOLD));
        SHOW_INT(sigignore(s));
        SHOW_INT(siginterrupt(s, 1));
    }
}

static char altstack[8192];

/* The first `size` bytes of altstack (0: all 8 KiB, SIGSTKSZ). */
static void use_altstack(const char *size)
{
    size_t n = size ? (size_t)atoi(size) : 0;
    stack_t ss = {.ss_sp = altstack, .ss_size = n && n < sizeof altstack ? n : sizeof altstack};
    CHECK(sigaltstack(&ss, NULL) == 0);
}

static void on_segv_exit(int sig)
{
    (void)sig;
    _exit(3);
}

static volatile int depth;

static int NOINLINE recurse(int n)
{
    volatile char pad[4096];
    pad[0] = (char)n;
    if (++depth < 0)
        return 0;
    return recurse(n + 1) + pad[0];
}

static void on_usr1_raise_term(int sig)
{
    (void)sig;
    raise(SIGTERM); /* SIGTERM at its default: our fatal handler runs here, on the 8 KiB */
}

static int dump_sig;
static void on_usr1_raise_dump(int sig)
{
    (void)sig;
    raise(dump_sig);
}

static void onstack(int sig, void (*fn)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sa.sa_flags = SA_ONSTACK;
    CHECK(sigaction(sig, &sa, NULL) == 0);
}

int main(int argc, char **argv)
{
    fixture_init();
    CHECK(argc >= 2);
    const char *entry = argv[1], *mode = argc > 2 ? argv[2] : "";
    int fd = open("/dev/null", O_RDONLY); /* something to report */
    KEEP(fd);

    if (!strcmp(entry, "sigignore")) {
        errno = 0;
        fact("sigignore %d errno %d", sigignore(SIGTERM), errno);
        show("ignored");
        if (!strcmp(mode, "restore"))
            fact("old %s", name(signal(SIGTERM, SIG_DFL)));
        die_by_sigterm();
    }
    if (!strcmp(entry, "siginterrupt")) {
        if (!strcmp(mode, "handle"))
            fact("old %s", name(signal(SIGTERM, on_term)));
        fact("siginterrupt %d", siginterrupt(SIGTERM, 1));
        show("interrupting");
        fact("siginterrupt %d", siginterrupt(SIGTERM, 0));
        show("restarting");
        die_by_sigterm();
    }
    if (!strcmp(entry, "raw")) {
        /* behind every wrapper, as a program with its own syscall layer would */
        struct sigaction probe, back; /* x86_64 delivers only with libc's restorer */
        memset(&probe, 0, sizeof probe);
        probe.sa_handler = on_term;
        CHECK(sigaction(SIGUSR2, &probe, NULL) == 0 && sigaction(SIGUSR2, NULL, &back) == 0);
        struct ksigaction k = {.handler = (void *)raw_term,
                               .flags = (unsigned long)back.sa_flags,
                               .restorer = (void *)back.sa_restorer,
                               .mask = 0};
        CHECK(syscall(SYS_rt_sigaction, SIGTERM, &k, NULL, 8) == 0);
        show("raw");
        if (!strcmp(mode, "restore")) {
            struct sigaction sa;
            memset(&sa, 0, sizeof sa);
            sa.sa_handler = SIG_DFL;
            CHECK(sigaction(SIGTERM, &sa, NULL) == 0);
            show("restored");
        }
        die_by_sigterm();
    }
    if (!strcmp(entry, "badsig")) {
        badsig();
        return 0;
    }
    if (!strcmp(entry, "sameptr")) {
        struct sigaction a;
        struct sigaction *volatile alias = &a; /* the compiler would refuse &a, &a */
        memset(&a, 0, sizeof a);
        a.sa_handler = on_term;
        CHECK(sigaction(SIGTERM, &a, alias) == 0);
        fact("old %s", name(a.sa_handler)); /* DFL: a now holds the old action */
        show("set");
        CHECK(sigaction(SIGTERM, &a, alias) == 0);
        fact("old %s", name(a.sa_handler));
        show("back");
        CHECK(sigaction(SIGTERM, &a, alias) == 0);
        fact("old %s", name(a.sa_handler));
        raise(SIGTERM);
        fact("handled %d", (int)handled);
        CHECK(sigaction(SIGTERM, &a, alias) == 0);
        die_by_sigterm();
    }
    if (!strcmp(entry, "resethand")) {
        struct sigaction a;
        memset(&a, 0, sizeof a);
        a.sa_handler = on_term;
        a.sa_flags = SA_RESETHAND;
        CHECK(sigaction(SIGTERM, &a, NULL) == 0);
        raise(SIGTERM);
        fact("handled %d", (int)handled);
        show("after one");
        die_by_sigterm();
    }
    if (!strcmp(entry, "dflview")) {
        show("initial");
        struct sigaction a;
        memset(&a, 0, sizeof a);
        a.sa_handler = SIG_DFL;
        a.sa_flags = SA_RESTART | SA_ONSTACK | SA_INTERRUPT | SA_NODEFER;
        sigfillset(&a.sa_mask);
        CHECK(sigaction(SIGTERM, &a, NULL) == 0);
        show("dfl with flags");
        a.sa_flags = SA_SIGINFO; /* sa_sigaction NULL: still SIG_DFL */
        sigemptyset(&a.sa_mask);
        CHECK(sigaction(SIGTERM, &a, NULL) == 0);
        show("dfl siginfo");
        die_by_sigterm();
    }
    if (!strcmp(entry, "hold")) {
        fact("hold %s", name(sigset(SIGTERM, SIG_HOLD)));
        fact("hold again %s", name(sigset(SIGTERM, SIG_HOLD)));
        raise(SIGTERM); /* pending while held */
        fact("held");
        fact("set %s", name(sigset(SIGTERM, on_term))); /* unblocks: the handler runs */
        fact("handled %d", (int)handled);
        fact("hold %s", name(sigset(SIGTERM, SIG_HOLD)));
        fact("dfl %s", name(sigset(SIGTERM, SIG_DFL)));
        die_by_sigterm();
    }
    if (!strcmp(entry, "intr")) {
        CHECK(siginterrupt(SIGTERM, 1) == 0);
        fact("old %s", name(signal(SIGTERM, on_term)));
        show("signal after siginterrupt 1");
        CHECK(siginterrupt(SIGTERM, 0) == 0);
        fact("old %s", name(signal(SIGTERM, SIG_DFL)));
        show("default after siginterrupt 0");
        die_by_sigterm();
    }
    if (!strcmp(entry, "altstack_exit")) {
        /* a stack overflow caught on an 8 KiB alternate stack, ending with _exit */
        use_altstack(argc > 2 ? argv[2] : NULL);
        onstack(SIGSEGV, on_segv_exit);
        fact("recurse");
        return recurse(0);
    }
    if (!strcmp(entry, "altstack_term")) {
        use_altstack(argc > 2 ? argv[2] : NULL);
        onstack(SIGUSR1, on_usr1_raise_term);
        raise(SIGUSR1);
        fact("survived");
        return 0;
    }
    if (!strcmp(entry, "altstack_dump")) {
        CHECK(argc >= 3);
        dump_sig = atoi(argv[2]);
        use_altstack(argc > 3 ? argv[3] : NULL);
        onstack(SIGUSR1, on_usr1_raise_dump);
        raise(SIGUSR1);
        fact("survived");
        return 0;
    }

    fact("set %s", name(set_with(entry, on_term)));
    if (!strcmp(mode, "handle")) {
        raise(SIGTERM);
        fact("handled %d", (int)handled);
        show("after");
        return 0;
    }
    CHECK(!strcmp(mode, "restore"));
    fact("restore %s", name(set_with(entry, SIG_DFL)));
    show("restored");
    die_by_sigterm();
}
