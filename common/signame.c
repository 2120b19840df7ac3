/* Signal names (see signame.h). One table for both directions; numbers and RTMIN/RTMAX
 * offsets are parsed by hand, so nothing here allocates or touches locale state. */
#include "signame.h"

#include "contract.h"

#include <signal.h>
#include <string.h>

static const struct {
    const char *name;
    int sig;
} table[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},       {"QUIT", SIGQUIT}, {"ILL", SIGILL},
    {"TRAP", SIGTRAP}, {"ABRT", SIGABRT},     {"BUS", SIGBUS},   {"FPE", SIGFPE},
    {"KILL", SIGKILL}, {"USR1", SIGUSR1},     {"SEGV", SIGSEGV}, {"USR2", SIGUSR2},
    {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},     {"TERM", SIGTERM}, {"STKFLT", SIGSTKFLT},
    {"CHLD", SIGCHLD}, {"CONT", SIGCONT},     {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},
    {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},   {"XCPU", SIGXCPU},
    {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH},
    {"IO", SIGIO},     {"PWR", SIGPWR},       {"SYS", SIGSYS},
};

static int upper(int c)
{
    return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

/* Case-insensitive prefix match: the length of p if s starts with it, else 0. */
static size_t starts(const char *s, const char *p)
{
    size_t i = 0;
    for (; p[i]; i++)
        if (upper((unsigned char)s[i]) != p[i])
            return 0;
    return i;
}

/* Decimal in [0, max] making up all of s; -1 otherwise. */
static int number(const char *s, int max)
{
    int v = 0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
        if (v > max)
            return -1;
    }
    return v;
}

int fdc_sig_parse(const char *s, int *sig)
{
    if (!s || !*s)
        return -1;
    if (starts(s, "NONE") == 4 && !s[4]) {
        *sig = 0;
        return 0;
    }
    int n = number(s, SIGRTMAX);
    if (n >= 0) {
        *sig = n;
        return 0;
    }
    s += starts(s, "SIG");
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        size_t l = starts(s, table[i].name);
        if (l && !s[l]) {
            *sig = table[i].sig;
            return 0;
        }
    }
    int base, dir;
    if (starts(s, "RTMIN"))
        base = SIGRTMIN, dir = 1;
    else if (starts(s, "RTMAX"))
        base = SIGRTMAX, dir = -1;
    else
        return -1;
    s += 5;
    int off = 0;
    if (*s) {
        if (*s != (dir > 0 ? '+' : '-'))
            return -1;
        off = number(s + 1, SIGRTMAX - SIGRTMIN);
        if (off < 0)
            return -1;
    }
    *sig = base + dir * off;
    return 0;
}

int fdc_sig_usable_for_dump(int sig)
{
    return (sig >= SIGRTMIN && sig <= SIGRTMAX) || sig == SIGUSR1 || sig == SIGUSR2 ||
           sig == SIGWINCH || sig == SIGPWR || sig == SIGURG;
}

int fdc_sig_default(void)
{
    return SIGRTMAX - FDC_SIGNAL_DEFAULT_RTMAX_OFFSET;
}

/* Appends s to buf at *n, keeping room for the terminator. */
static void put(char *buf, size_t len, size_t *n, const char *s)
{
    while (*s && *n + 1 < len)
        buf[(*n)++] = *s++;
}

static void put_num(char *buf, size_t len, size_t *n, int v)
{
    char tmp[12];
    int i = sizeof tmp;
    tmp[--i] = 0;
    unsigned u = v < 0 ? 0u - (unsigned)v : (unsigned)v;
    do
        tmp[--i] = (char)('0' + u % 10);
    while ((u /= 10) && i > 1);
    if (v < 0)
        tmp[--i] = '-';
    put(buf, len, n, tmp + i);
}

const char *fdc_sig_name(int sig, char *buf, size_t len)
{
    size_t n = 0;
    if (!len)
        return buf;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].sig == sig) {
            put(buf, len, &n, "SIG");
            put(buf, len, &n, table[i].name);
            buf[n] = 0;
            return buf;
        }
    if (sig >= SIGRTMIN && sig <= SIGRTMAX) {
        int lo = sig - SIGRTMIN, hi = SIGRTMAX - sig;
        put(buf, len, &n, lo <= hi ? "SIGRTMIN+" : "SIGRTMAX-");
        put_num(buf, len, &n, lo <= hi ? lo : hi);
    } else {
        put(buf, len, &n, "signal ");
        put_num(buf, len, &n, sig);
    }
    buf[n] = 0;
    return buf;
}
