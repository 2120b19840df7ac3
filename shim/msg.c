/* The shim's only way to talk to the user outside reports: one line on stderr, prefixed
 * "fdleak: ", written with a single write(2) so lines from several processes do not mix.
 * No stdio and no allocation: this runs in wrappers and at start-up. */
#include "fdleak.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static size_t add(char *buf, size_t n, size_t cap, const char *s)
{
    if (!s)
        return n;
    size_t l = strlen(s);
    if (l > cap - n)
        l = cap - n;
    memcpy(buf + n, s, l);
    return n + l;
}

void fdl_msgv(const char *const *parts)
{
    char buf[1024];
    int saved = errno;
    size_t n = add(buf, 0, sizeof(buf) - 1, "fdleak: ");
    for (; *parts; parts++)
        n = add(buf, n, sizeof(buf) - 1, *parts);
    buf[n++] = '\n';
    ssize_t r = write(2, buf, n);
    (void)r;
    errno = saved;
}

void fdl_msg_once(int *done, const char *a, const char *b, const char *c)
{
    if (__atomic_exchange_n(done, 1, __ATOMIC_RELAXED))
        return;
    fdl_msg(a, b, c);
}

#ifdef FDL_DEBUG
void fdl_assert_fail(const char *expr, const char *file, int line)
{
    char num[16];
    int i = sizeof(num);
    num[--i] = 0;
    do
        num[--i] = (char)('0' + line % 10);
    while ((line /= 10) && i > 0);
    fdl_msg("internal check failed: ", expr, " at ", file, ":", num + i);
    abort();
}
#endif
