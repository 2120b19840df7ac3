/* Shared by the test fixtures: every fixture prints facts on stdout, one per line,
 * `<what> <call> <fd> [path]`, e.g. `leak open 5 /tmp/x` or `closed fclose 6`, so the tests can
 * compare exact descriptor numbers with the dump. stdout is unbuffered (fork-safe). */
#ifndef FIXTURE_H
#define FIXTURE_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline, noclone))

static inline void fixture_init(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
}

__attribute__((format(printf, 1, 2))) static inline void fact(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fixture: %s:%d: %s failed: %s\n", __FILE__, __LINE__, #cond,          \
                    strerror(errno));                                                              \
            exit(99);                                                                              \
        }                                                                                          \
    } while (0)

/* Keeps the compiler from turning the call before it into a tail call. */
#define KEEP(x) __asm__ volatile("" : : "r"(x) : "memory")

#endif
