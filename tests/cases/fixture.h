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
#include <fcntl.h>
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

/* Prints `fdflags <fd> <0|1>` (FD_CLOEXEC) for every open descriptor below 1024: the ground
 * truth the tests compare with the dump's `cloexec`. */
static inline void report_fdflags(void)
{
    for (int fd = 0; fd < 1024; fd++) {
        int fl = fcntl(fd, F_GETFD);
        if (fl >= 0)
            fact("fdflags %d %d", fd, (fl & FD_CLOEXEC) ? 1 : 0);
    }
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
