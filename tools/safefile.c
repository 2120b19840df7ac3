/* Opening files the command did not create (see safefile.h). */
#include "safefile.h"

#include "dumpfile.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int fdt_is_link(int dirfd, const char *path)
{
    int saved = errno;
    struct stat st;
    int r = fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
    errno = saved;
    return r;
}

int fdt_open_regular(int dirfd, const char *path, uid_t owner, struct stat *st, char *err,
                     size_t errlen)
{
    int fd = openat(dirfd, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path,
                 errno == ELOOP ? "a symbolic link (not followed)" : strerror(errno));
        return -1;
    }
    if (fstat(fd, st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(st->st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    if (owner != FDT_ANY_OWNER && st->st_uid != owner && st->st_uid != 0) {
        snprintf(err, errlen, "%s: owned by uid %u, expected uid %u", path, (unsigned)st->st_uid,
                 (unsigned)owner);
        close(fd);
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
}

int fdt_read_all(int fd, const char *path, size_t max, char **buf, size_t *len, char *err,
                 size_t errlen)
{
    size_t cap = 65536, n = 0;
    char *b = fdt_xmalloc(cap + 1);
    for (;;) {
        if (n == cap) {
            if (cap >= max) {
                snprintf(err, errlen, "%s: larger than %zu bytes", path, max);
                free(b);
                return -1;
            }
            cap = cap * 2 > max ? max : cap * 2;
            b = fdt_xrealloc(b, cap + 1);
        }
        ssize_t r = read(fd, b + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            free(b);
            return -1;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    b[n] = 0;
    *buf = b;
    *len = n;
    return 0;
}

int fdt_open_private_dir(const char *path, uid_t owner, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path,
                 fdt_is_link(AT_FDCWD, path) ? "a symbolic link (not followed)" : strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    const char *why = NULL;
    if (st.st_uid != owner && (owner == 0 || st.st_uid != 0))
        why = "not owned by the expected user";
    else if ((st.st_mode & 022) && !((st.st_mode & S_ISVTX) && st.st_uid == owner))
        why = "writable by other users";
    if (why) {
        snprintf(err, errlen, "%s: %s (uid %u, mode %04o); not used", path, why,
                 (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
        close(fd);
        return -1;
    }
    return fd;
}

struct fdt_dump *fdt_dump_load_at(int dirfd, const char *name, const char *shown, uid_t owner,
                                  size_t max, struct stat *st, char *err, size_t errlen)
{
    char e[1024];
    memset(st, 0, sizeof *st);
    int fd = fdt_open_regular(dirfd, name, owner, st, e, sizeof e);
    if (fd < 0) {
        st->st_ino = 0;
        /* the message names `name`; say `shown` instead */
        const char *why = strncmp(e, name, strlen(name)) ? e : e + strlen(name) + 2;
        snprintf(err, errlen, "%s: %s", shown, why);
        return NULL;
    }
    if (st->st_nlink != 1 || (size_t)st->st_size > max) {
        snprintf(err, errlen, "%s: %s", shown,
                 st->st_nlink != 1 ? "has other hard links; not read" : "too large; not read");
        st->st_ino = 0;
        close(fd);
        return NULL;
    }
    /* Parsed from the bytes of the descriptor just checked: no name is resolved twice. */
    char *buf;
    size_t len;
    if (fdt_read_all(fd, shown, max, &buf, &len, err, errlen) != 0) {
        st->st_ino = 0;
        close(fd);
        return NULL;
    }
    close(fd);
    struct fdt_dump *d = fdt_dump_parse(buf, len, shown, err, errlen);
    free(buf);
    return d;
}

/* Length of the valid UTF-8 sequence at s (2 to 4) whose code point is printable (not C1), or 0. */
static size_t fdt_utf8_len(const unsigned char *s)
{
    unsigned c = s[0], cp;
    size_t n;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, cp = c & 0x07;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    static const unsigned min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp < 0xa0)
        return 0;
    return n;
}

const char *fdt_escape(const char *s, char *buf, size_t len)
{
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p && o + 5 < len) {
        size_t n = *p >= 0x80 ? fdt_utf8_len(p) : 0;
        if (n) {
            memcpy(buf + o, p, n);
            o += n, p += n;
        } else if (*p < 0x20 || *p >= 0x7f || *p == '\\') {
            o += (size_t)snprintf(buf + o, len - o, *p == '\\' ? "\\\\" : "\\x%02x", *p);
            p++;
        } else {
            buf[o++] = (char)*p++;
        }
    }
    if (len)
        buf[o < len ? o : len - 1] = 0;
    return buf;
}
