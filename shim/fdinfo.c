/* Per-descriptor details read at dump time, for descriptors whose record does not say enough:
 * the /proc/self/fd link target, the kind guessed from it for a descriptor of unknown origin,
 * and a socket's local and peer addresses in text. No descriptor is opened. */
#include "dump.h"
#include "intern.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

/* Longest address text: "[" 8 groups of 4 hex digits and 7 colons "]:" 5 digits, NUL. */
#define ADDR_TEXT_MIN 80
_Static_assert(sizeof(((struct fdl_details *)0)->local) >= ADDR_TEXT_MIN, "local too small");
_Static_assert(sizeof(((struct fdl_details *)0)->peer) >= ADDR_TEXT_MIN, "peer too small");

static size_t fmt_addr(char *dst, size_t cap, const struct sockaddr_storage *ss, socklen_t len)
{
    char *p = dst;
    if (len == 0 || cap < ADDR_TEXT_MIN)
        return 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)ss;
        const unsigned char *a = (const unsigned char *)&in->sin_addr;
        for (int i = 0; i < 4; i++) {
            p += fdl_fmt_u64(p, a[i]);
            *p++ = i < 3 ? '.' : ':';
        }
        p += fdl_fmt_u64(p, ntohs(in->sin_port));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)ss;
        const unsigned char *a = in6->sin6_addr.s6_addr;
        int best = -1, bestlen = 1; /* longest run of zero groups, compressed to :: */
        for (int i = 0; i < 8;) {
            int j = i;
            while (j < 8 && !a[2 * j] && !a[2 * j + 1])
                j++;
            if (j - i > bestlen)
                best = i, bestlen = j - i;
            i = j > i ? j : i + 1;
        }
        *p++ = '[';
        for (int i = 0; i < 8; i++) {
            if (i == best) {
                *p++ = ':';
                if (i == 0)
                    *p++ = ':';
                i += bestlen - 1;
                continue;
            }
            unsigned g = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
            char h[4];
            int k = 0;
            do
                h[k++] = "0123456789abcdef"[g & 15];
            while (g >>= 4);
            while (k)
                *p++ = h[--k];
            if (i < 7)
                *p++ = ':';
        }
        *p++ = ']';
        *p++ = ':';
        p += fdl_fmt_u64(p, ntohs(in6->sin6_port));
    } else if (ss->ss_family == AF_UNIX) {
        const struct sockaddr_un *un = (const void *)ss;
        size_t n = len > offsetof(struct sockaddr_un, sun_path)
                       ? len - offsetof(struct sockaddr_un, sun_path)
                       : 0;
        memcpy(p, "unix:", 5);
        p += 5;
        const char *sp = un->sun_path;
        if (n && sp[0] == 0) {
            *p++ = '@';
            sp++;
            n--;
        }
        while (n && (size_t)(p - dst) < cap - 1 && *sp) {
            *p++ = *sp++;
            n--;
        }
    } else {
        return 0;
    }
    *p = 0;
    return (size_t)(p - dst);
}

void fdl_details(const struct fdl_rec *r, struct fdl_details *d)
{
    d->target[0] = d->local[0] = d->peer[0] = 0;
    d->kind = r->e.kind;
    int want_link = r->origin != FDC_ORIGIN_TRACKED || r->e.kind == FDC_KIND_unknown ||
                    (!r->e.path && (r->e.kind == FDC_KIND_file || r->e.kind == FDC_KIND_directory ||
                                    r->e.kind == FDC_KIND_pty));
    if (want_link) {
        static const char dir[] = FDL_PROC_SELF "/fd/";
        char p[sizeof(dir) + 24];
        memcpy(p, dir, sizeof(dir) - 1);
        p[sizeof(dir) - 1 + fdl_fmt_u64(p + sizeof(dir) - 1, (uint64_t)r->fd)] = 0;
        long n = syscall(SYS_readlinkat, AT_FDCWD, p, d->target, sizeof(d->target) - 1);
        d->target[n > 0 ? n : 0] = 0;
        if (d->kind == FDC_KIND_unknown) {
            const char *t = d->target;
            d->kind = !strncmp(t, "socket:", 7)                                ? FDC_KIND_socket
                      : !strncmp(t, "pipe:", 5)                                ? FDC_KIND_pipe
                      : !strcmp(t, "anon_inode:[eventfd]")                     ? FDC_KIND_eventfd
                      : !strcmp(t, "anon_inode:[eventpoll]")                   ? FDC_KIND_epoll
                      : !strcmp(t, "anon_inode:[timerfd]")                     ? FDC_KIND_timerfd
                      : !strcmp(t, "anon_inode:[signalfd]")                    ? FDC_KIND_signalfd
                      : !strcmp(t, "anon_inode:inotify")                       ? FDC_KIND_inotify
                      : !strcmp(t, "anon_inode:[fanotify]")                    ? FDC_KIND_fanotify
                      : !strcmp(t, "anon_inode:[pidfd]")                       ? FDC_KIND_pidfd
                      : !strncmp(t, "/memfd:", 7)                              ? FDC_KIND_memfd
                      : !strncmp(t, "/dev/pts/", 9) || !strcmp(t, "/dev/ptmx") ? FDC_KIND_pty
                      : !strncmp(t, "/dev/shm/", 9)                            ? FDC_KIND_shm
                      : t[0] == '/'                                            ? FDC_KIND_file
                                                                               : FDC_KIND_unknown;
        }
    }
    if (d->kind == FDC_KIND_socket) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        if (syscall(SYS_getsockname, r->fd, &ss, &len) == 0)
            fmt_addr(d->local, sizeof(d->local), &ss, len);
        len = sizeof(ss);
        if (syscall(SYS_getpeername, r->fd, &ss, &len) == 0)
            fmt_addr(d->peer, sizeof(d->peer), &ss, len);
    }
}

const char *fdl_path_text(uint32_t id)
{
    uint32_t len;
    const char *p = fdl_intern_get(&fdl_paths, id, &len);
    return p ? p : "";
}
