/* The shim's only way to talk to the user outside reports: one line on stderr, prefixed
 * "fdleak: ", written with a single write(2) so lines from several processes do not mix; and
 * the rule for when the library may write to fd 2 at all. No stdio and no allocation: this
 * runs in wrappers, in signal handlers and at start-up. */
#include "fdleak.h"
#include "out.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* fd 2 as the process started with it. A daemon that closes 0-2 and opens its database gets
 * the database on fd 2: reports and messages go to fd 2 only while it is still the same open
 * file (same device and inode), never into a file or socket the program opened later. */
enum { ERR_UNKNOWN, ERR_OPEN, ERR_CLOSED };
static int err_state;
static dev_t err_dev;
static ino_t err_ino;

void fdl_msg_init(void)
{
    if (__atomic_load_n(&err_state, __ATOMIC_ACQUIRE) != ERR_UNKNOWN)
        return;
    struct stat st;
    int saved = errno;
    int open = syscall(SYS_fstat, 2, &st) == 0;
    errno = saved;
    if (open) {
        err_dev = st.st_dev;
        err_ino = st.st_ino;
    }
    int expect = ERR_UNKNOWN;
    __atomic_compare_exchange_n(&err_state, &expect, open ? ERR_OPEN : ERR_CLOSED, 0,
                                __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}

int fdl_msg_stderr_ok(void)
{
    fdl_msg_init();
    if (__atomic_load_n(&err_state, __ATOMIC_ACQUIRE) != ERR_OPEN)
        return 0;
    struct stat st;
    int saved = errno;
    int ok = syscall(SYS_fstat, 2, &st) == 0 && st.st_dev == err_dev && st.st_ino == err_ino;
    errno = saved;
    return ok;
}

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
    if (!fdl_msg_stderr_ok())
        return;
    size_t n = add(buf, 0, sizeof(buf) - 1, "fdleak: ");
    for (; *parts; parts++)
        n = add(buf, n, sizeof(buf) - 1, *parts);
    buf[n++] = '\n';
    fdl_out_write(2, buf, n);
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
