/* Helpers shared by the fdleak command: messages, allocation, signal names. */
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void fdl_msg(const char *fmt, ...)
{
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "fdleak: %s\n", line);
}

static void fdl_oom(void)
{
    fputs("fdleak: out of memory\n", stderr);
    exit(1);
}

void *fdl_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        fdl_oom();
    return p;
}

void *fdl_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        fdl_oom();
    return p;
}

void *fdl_xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        fdl_oom();
    return p;
}

char *fdl_xstrdup(const char *s)
{
    char *p = strdup(s ? s : "");
    if (!p)
        fdl_oom();
    return p;
}

char *fdl_xasprintf(const char *fmt, ...)
{
    char *p;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&p, fmt, ap);
    va_end(ap);
    if (n < 0)
        fdl_oom();
    return p;
}

int fdl_parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    if (!s || !*s)
        return -1;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static const struct {
    const char *name;
    int sig;
} fdl_signals[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},       {"QUIT", SIGQUIT}, {"ILL", SIGILL},
    {"TRAP", SIGTRAP}, {"ABRT", SIGABRT},     {"BUS", SIGBUS},   {"FPE", SIGFPE},
    {"KILL", SIGKILL}, {"USR1", SIGUSR1},     {"SEGV", SIGSEGV}, {"USR2", SIGUSR2},
    {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},     {"TERM", SIGTERM}, {"STKFLT", SIGSTKFLT},
    {"CHLD", SIGCHLD}, {"CONT", SIGCONT},     {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},
    {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},   {"XCPU", SIGXCPU},
    {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH},
    {"IO", SIGIO},     {"PWR", SIGPWR},       {"SYS", SIGSYS},
};

int fdl_parse_signal(const char *s, int *sig)
{
    long n;
    if (!s || !*s)
        return -1;
    if (!strcasecmp(s, "none")) {
        *sig = 0;
        return 0;
    }
    if (fdl_parse_long(s, 0, SIGRTMAX, &n) == 0) {
        *sig = (int)n;
        return 0;
    }
    if (!strncasecmp(s, "SIG", 3))
        s += 3;
    for (size_t i = 0; i < sizeof fdl_signals / sizeof fdl_signals[0]; i++)
        if (!strcasecmp(s, fdl_signals[i].name)) {
            *sig = fdl_signals[i].sig;
            return 0;
        }
    int base, dir;
    if (!strncasecmp(s, "RTMIN", 5)) {
        base = SIGRTMIN;
        dir = 1;
    } else if (!strncasecmp(s, "RTMAX", 5)) {
        base = SIGRTMAX;
        dir = -1;
    } else {
        return -1;
    }
    s += 5;
    n = 0;
    if (*s) {
        if ((dir > 0 && *s != '+') || (dir < 0 && *s != '-'))
            return -1;
        if (fdl_parse_long(s + 1, 0, SIGRTMAX - SIGRTMIN, &n))
            return -1;
    }
    *sig = base + dir * (int)n;
    return 0;
}

const char *fdl_signal_name(int sig, char *buf, size_t len)
{
    for (size_t i = 0; i < sizeof fdl_signals / sizeof fdl_signals[0]; i++)
        if (fdl_signals[i].sig == sig) {
            snprintf(buf, len, "SIG%s", fdl_signals[i].name);
            return buf;
        }
    if (sig >= SIGRTMIN && sig <= SIGRTMAX) {
        if (sig - SIGRTMIN <= SIGRTMAX - sig)
            snprintf(buf, len, "SIGRTMIN+%d", sig - SIGRTMIN);
        else
            snprintf(buf, len, "SIGRTMAX-%d", SIGRTMAX - sig);
        return buf;
    }
    snprintf(buf, len, "signal %d", sig);
    return buf;
}
