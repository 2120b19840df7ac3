/* Small helpers shared by the fdleak command: the one message function (every line prefixed
 * "fdleak:"), allocation that exits on failure, and number parsing. Signal names are parsed by
 * common/signame.c, the same code the library uses for FDLEAK_SIGNAL. */
#ifndef FDT_TOOL_UTIL_H
#define FDT_TOOL_UTIL_H

#include <stddef.h>

/* Prints "fdleak: <message>\n" on stderr. */
void fdt_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define FDT_NONNULL __attribute__((returns_nonnull))
void *fdt_xmalloc(size_t n) FDT_NONNULL;
void *fdt_xcalloc(size_t n, size_t size) FDT_NONNULL;
void *fdt_xrealloc(void *p, size_t n) FDT_NONNULL;
char *fdt_xstrdup(const char *s) FDT_NONNULL;
char *fdt_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2))) FDT_NONNULL;

/* Parses a decimal integer in [lo, hi] with nothing after it. 0 or -1. */
int fdt_parse_long(const char *s, long lo, long hi, long *out);

/* The state letter of a /proc/.../stat file (R, S, Z...), 0 if unreadable. */
char fdt_proc_state(const char *stat_path);

#endif
