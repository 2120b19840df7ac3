/* Opening files the command did not create, as root on a shared machine: dumps, snapshot files,
 * binaries named by a dump. Never follows a symlink at the last component, never opens a FIFO,
 * socket or device (O_NONBLOCK keeps even the open itself from blocking), never takes a file
 * that another user could have planted where only the expected owner should write. */
#ifndef FDT_SAFEFILE_H
#define FDT_SAFEFILE_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#define FDT_ANY_OWNER ((uid_t)-1)

/* 1 if dirfd/path is a symbolic link (O_NOFOLLOW refuses one with ELOOP, but O_DIRECTORY |
 * O_NOFOLLOW with ENOTDIR). errno is kept. */
int fdt_is_link(int dirfd, const char *path);

/* Opens dirfd/path (dirfd may be AT_FDCWD) read-only, as a regular file: O_NOFOLLOW, O_NONBLOCK
 * (cleared after the checks), O_NOCTTY, O_CLOEXEC. With owner != FDT_ANY_OWNER, the file must
 * belong to owner or to root. Fills *st. Returns the fd, or -1 with one line in err
 * ("PATH: not a regular file", "PATH: owned by uid N, expected M", "PATH: <strerror>"). */
int fdt_open_regular(int dirfd, const char *path, uid_t owner, struct stat *st, char *err,
                     size_t errlen);

/* Reads all of fd into a malloc'd buffer (NUL-terminated), at most max bytes: -1 with err if
 * the file is larger or a read fails. */
int fdt_read_all(int fd, const char *path, size_t max, char **buf, size_t *len, char *err,
                 size_t errlen);

/* Opens a directory (O_DIRECTORY | O_NOFOLLOW) that must belong to owner (or root, unless
 * owner is root) and must not be writable by group or others unless it is sticky and owned by
 * owner. Returns the fd, or -1 with one line in err. */
int fdt_open_private_dir(const char *path, uid_t owner, char *err, size_t errlen);

/* Reads the raw dump at dirfd/name like fdt_dump_load, but only after fdt_open_regular accepted
 * it (owner as there) and it has one link (no hard link to a file elsewhere) and at most max
 * bytes. The reader is given /proc/self/fd/N, the file already opened and checked, so no name
 * is resolved twice. The dump's file and the messages name `shown`. *st receives the file's
 * status (its owner, for the report) even when the dump does not parse; st->st_ino is 0 when
 * the file was refused before reading (not a regular file, a link, wrong owner, too large). */
struct fdt_dump;
struct fdt_dump *fdt_dump_load_at(int dirfd, const char *name, const char *shown, uid_t owner,
                                  size_t max, struct stat *st, char *err, size_t errlen);

/* Copies s into buf (always NUL-terminated, cut at len) with every byte a terminal could act on
 * escaped: C0 and C1 controls, DEL, bytes that are not valid UTF-8 (\xNN), and backslash.
 * For names a target process or another user chose (paths, executables). Returns buf. */
const char *fdt_escape(const char *s, char *buf, size_t len);

#endif
