/* Small helpers shared by the fdleak command: the one message function (every line prefixed
 * "fdleak:"), allocation that exits on failure, and parsing of signal names and numbers the
 * way the shim parses FDLEAK_SIGNAL. */
#ifndef FDL_TOOL_UTIL_H
#define FDL_TOOL_UTIL_H

#include <stddef.h>

/* Prints "fdleak: <message>\n" on stderr. */
void fdl_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define FDL_NONNULL __attribute__((returns_nonnull))
void *fdl_xmalloc(size_t n) FDL_NONNULL;
void *fdl_xcalloc(size_t n, size_t size) FDL_NONNULL;
void *fdl_xrealloc(void *p, size_t n) FDL_NONNULL;
char *fdl_xstrdup(const char *s) FDL_NONNULL;
char *fdl_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2))) FDL_NONNULL;

/* Parses a signal as FDLEAK_SIGNAL accepts it: a number, a name with or without "SIG"
 * (USR1, SIGUSR2), RTMIN+N, RTMAX-N, or "0"/"none" (disabled: *sig = 0). 0 or -1. */
int fdl_parse_signal(const char *s, int *sig);

/* Formats a signal number as a name ("SIGINT", "SIGRTMAX-3", "signal 99"). */
const char *fdl_signal_name(int sig, char *buf, size_t len);

/* Parses a decimal integer in [lo, hi] with nothing after it. 0 or -1. */
int fdl_parse_long(const char *s, long lo, long hi, long *out);

#endif
