/* Minimal unit-test support: EXPECT records a failure and goes on; each test function prints
 * `ok <name>` or `FAIL <name>` and main() returns non-zero if anything failed. */
#ifndef UNIT_H
#define UNIT_H

#include <stdio.h>

static int unit_failures;
static int unit_case_failed;

#define EXPECT(cond)                                                                               \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("    %s:%d: expected %s\n", __FILE__, __LINE__, #cond);                         \
            unit_case_failed = 1;                                                                  \
        }                                                                                          \
    } while (0)

#define EXPECT_EQ(a, b)                                                                            \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_) {                                                                            \
            printf("    %s:%d: %s == %s: got %lld, want %lld\n", __FILE__, __LINE__, #a, #b, a_,   \
                   b_);                                                                            \
            unit_case_failed = 1;                                                                  \
        }                                                                                          \
    } while (0)

#define RUN(fn)                                                                                    \
    do {                                                                                           \
        unit_case_failed = 0;                                                                      \
        fn();                                                                                      \
        printf("%s %s\n", unit_case_failed ? "FAIL" : "ok", #fn);                                  \
        fflush(stdout);                                                                            \
        unit_failures += unit_case_failed;                                                         \
    } while (0)

#define UNIT_RESULT()                                                                              \
    (printf("%s\n", unit_failures ? "unit: FAILED" : "unit: all passed"), unit_failures ? 1 : 0)

#endif
