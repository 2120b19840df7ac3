/* Report output (see out.h). */
#include "out.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* The kernel's sigset_t, as rt_sigprocmask and friends take it (glibc's is 128 bytes). */
typedef uint64_t ksigset;
#define KSIG(s) ((ksigset)1 << ((s)-1))

long fdl_out_write(int fd, const void *buf, size_t n)
{
    ksigset pipe = KSIG(SIGPIPE), old = 0, pending = 0;
    int masked = syscall(SYS_rt_sigprocmask, SIG_BLOCK, &pipe, &old, sizeof(pipe)) == 0;
    if (masked)
        syscall(SYS_rt_sigpending, &pending, sizeof(pending));
    long w = syscall(SYS_write, fd, buf, n);
    int e = errno;
    if (masked) {
        /* A write to a pipe with no reader raises SIGPIPE at this thread: blocked, it waits
         * here, and is taken back unless the program already had one pending. */
        if (w < 0 && e == EPIPE && !(pending & pipe)) {
            struct timespec zero = {0, 0};
            syscall(SYS_rt_sigtimedwait, &pipe, NULL, &zero, sizeof(pipe));
        }
        syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, sizeof(old));
    }
    errno = e;
    return w;
}

void fdl_out_start(struct fdl_out *o, int fd)
{
    o->fd = fd;
    o->failed = 0;
    o->err = 0;
    o->n = 0; /* stop stays: a fatal signal may have come before the output started */
}

/* How long a dump cut short by a fatal signal still waits for room in a pipe (ms). */
#define STOP_WAIT_MS 200
/* A non-blocking destination that stays full this many polls of 100 ms is given up. */
#define EAGAIN_POLLS 50

void fdl_out_flush(struct fdl_out *o)
{
    size_t off = 0;
    int stalls = 0;
    while (off < o->n && !o->failed) {
        /* A fatal signal is waiting for this dump to end: a regular file is finished, a pipe
         * whose reader does not read is not waited for (the process is to die, not hang). */
        if (__atomic_load_n(&o->stop, __ATOMIC_RELAXED)) {
            struct pollfd p = {.fd = o->fd, .events = POLLOUT};
            if (syscall(SYS_poll, &p, 1, STOP_WAIT_MS) <= 0 || !(p.revents & POLLOUT)) {
                o->failed = 1;
                o->err = EINTR;
                break;
            }
        }
        long w = fdl_out_write(o->fd, o->buf + off, o->n - off);
        if (w > 0) {
            off += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        /* A non-blocking stderr (the program set O_NONBLOCK on a shared tty or pipe): wait a
         * little for room, but never hang the program on a reader that went away. */
        if (w < 0 && errno == EAGAIN && stalls++ < EAGAIN_POLLS) {
            struct pollfd p = {.fd = o->fd, .events = POLLOUT};
            syscall(SYS_poll, &p, 1, 100);
            continue;
        }
        o->failed = 1;
        o->err = w < 0 ? errno : ENOSPC;
    }
    o->n = 0;
}

void fdl_out_mem(struct fdl_out *o, const char *s, size_t len)
{
    while (len) {
        size_t room = sizeof(o->buf) - o->n;
        if (!room) {
            fdl_out_flush(o);
            continue;
        }
        size_t k = len < room ? len : room;
        memcpy(o->buf + o->n, s, k);
        o->n += k;
        s += k;
        len -= k;
    }
}

void fdl_out_str(struct fdl_out *o, const char *s)
{
    fdl_out_mem(o, s, strlen(s));
}

size_t fdl_fmt_u64(char *dst, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof(tmp);
    do
        tmp[--i] = (char)('0' + v % 10);
    while (v /= 10);
    memcpy(dst, tmp + i, sizeof(tmp) - i);
    return sizeof(tmp) - i;
}

void fdl_out_u64(struct fdl_out *o, uint64_t v)
{
    char b[24];
    fdl_out_mem(o, b, fdl_fmt_u64(b, v));
}

void fdl_out_i64(struct fdl_out *o, int64_t v)
{
    if (v < 0) {
        fdl_out_mem(o, "-", 1);
        fdl_out_u64(o, (uint64_t)0 - (uint64_t)v);
    } else {
        fdl_out_u64(o, (uint64_t)v);
    }
}

void fdl_out_hex(struct fdl_out *o, uint64_t v)
{
    char tmp[18];
    size_t i = sizeof(tmp);
    do
        tmp[--i] = "0123456789abcdef"[v & 15];
    while (v >>= 4);
    tmp[--i] = 'x';
    tmp[--i] = '0';
    fdl_out_mem(o, tmp + i, sizeof(tmp) - i);
}

/* Length of the well-formed UTF-8 sequence at p (Unicode table 3-7), 0 if there is none. */
static size_t utf8_len(const unsigned char *p, size_t avail)
{
    unsigned char c = p[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
    else
        return 0;
    if (avail < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

void fdl_out_json(struct fdl_out *o, const char *s, size_t len)
{
    fdl_out_mem(o, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x7f)
            continue;
        if (c >= 0x80) {
            /* Paths are bytes; JSON is UTF-8. Well-formed sequences (no overlong forms, no
             * surrogates, nothing past U+10FFFF) pass; any other byte becomes \u00XX, so a
             * strict reader never rejects the dump. */
            size_t k = utf8_len((const unsigned char *)s + i, len - i);
            if (k) {
                i += k - 1;
                continue;
            }
        }
        fdl_out_mem(o, s + run, i - run);
        run = i + 1;
        char esc[7] = {'\\', 'u', '0', '0', "0123456789abcdef"[c >> 4], "0123456789abcdef"[c & 15],
                       0};
        if (c == '"' || c == '\\') {
            esc[1] = (char)c;
            fdl_out_mem(o, esc, 2);
        } else {
            fdl_out_mem(o, esc, 6);
        }
    }
    fdl_out_mem(o, s + run, len - run);
    fdl_out_mem(o, "\"", 1);
}

void fdl_out_jstr(struct fdl_out *o, const char *s)
{
    fdl_out_json(o, s, strlen(s));
}
