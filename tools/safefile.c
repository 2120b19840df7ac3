/* Opening files the command did not create (see safefile.h). */
#include "safefile.h"

#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
                 errno == ELOOP ? "a symbolic link (not followed)" : strerror(errno));
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
