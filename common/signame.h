/* Signal names, parsed and printed the same way by the library (FDLEAK_SIGNAL, in start-up
 * code) and the command (--signal, and reading a target's FDLEAK_SIGNAL for `snapshot`). No
 * allocation, no locale, no stdio: the library calls these before main and in handlers. */
#ifndef FDC_SIGNAME_H
#define FDC_SIGNAME_H

#include <stddef.h>

/* Parses a signal: a number, a name with or without "SIG" in any case (usr1, SIGTERM),
 * RTMIN+N, RTMAX-N, or "none"/"0" (*sig = 0). Returns 0, or -1 if it names no signal. */
int fdc_sig_parse(const char *s, int *sig);

/* 1 if the library accepts sig as its dump signal: USR1, USR2, WINCH, PWR, URG and the
 * real-time signals, which programs do not use for anything else by default. TERM, INT, KILL,
 * SEGV... are refused. Several of the accepted ones still kill a process that does not catch
 * them (USR1, real-time): `fdleak snapshot` checks /proc/PID/status SigCgt before sending. */
int fdc_sig_usable_for_dump(int sig);

/* The default dump signal (SIGRTMAX - FDC_SIGNAL_DEFAULT_RTMAX_OFFSET). */
int fdc_sig_default(void);

/* Writes "SIGUSR1", "SIGRTMAX-3" or "signal 99" into buf (always NUL-terminated); returns buf. */
const char *fdc_sig_name(int sig, char *buf, size_t len);

#endif
