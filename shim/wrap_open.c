/* Wrappers for calls that open files by path: the open family (plain, 64-bit, fortified),
 * creat, temporary files, stdio and dirent openers, popen. glibc's stdio, dirent, popen and
 * temp-file functions open and close through internal calls that never reach an open/close
 * wrapper, so each public entry point has its own. */
#include "fdtable.h"
#include "wrap.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static enum fdc_kind kind_of(const char *path, int flags)
{
    /* O_TMPFILE is __O_TMPFILE | O_DIRECTORY and opens a file: tested first. */
    if ((flags & O_TMPFILE) == O_TMPFILE)
        return FDC_KIND_file;
    if (flags & O_DIRECTORY)
        return FDC_KIND_directory;
    if (path && path[0] == '/' && path[1] == 'd' && path[5] == 'p' &&
        (!strcmp(path, "/dev/ptmx") || !strncmp(path, "/dev/pts/", 9)))
        return FDC_KIND_pty;
    return FDC_KIND_file;
}

/* The mode argument is only there with O_CREAT or O_TMPFILE. */
#define MODE_ARG(flags)                                                                            \
    mode_t mode = 0;                                                                               \
    if ((flags) & (O_CREAT | O_TMPFILE)) {                                                         \
        va_list ap;                                                                                \
        va_start(ap, flags);                                                                       \
        mode = (mode_t)va_arg(ap, int);                                                            \
        va_end(ap);                                                                                \
    }

#define OPEN_WRAPPER(fn, call)                                                                     \
    FDL_EXPORT int fn(const char *path, int flags, ...)                                            \
    {                                                                                              \
        MODE_ARG(flags)                                                                            \
        if (!fdl_enter())                                                                          \
            return REAL(fn)(path, flags, mode);                                                    \
        return fdl_done1(REAL(fn)(path, flags, mode), call, kind_of(path, flags), path,            \
                         flags & O_CLOEXEC);                                                       \
    }
OPEN_WRAPPER(open, FDC_CALL_open)
OPEN_WRAPPER(open64, FDC_CALL_open64)

#define OPENAT_WRAPPER(fn, call)                                                                   \
    FDL_EXPORT int fn(int dirfd, const char *path, int flags, ...)                                 \
    {                                                                                              \
        MODE_ARG(flags)                                                                            \
        if (!fdl_enter())                                                                          \
            return REAL(fn)(dirfd, path, flags, mode);                                             \
        return fdl_done1(REAL(fn)(dirfd, path, flags, mode), call, kind_of(path, flags), path,     \
                         flags & O_CLOEXEC);                                                       \
    }
OPENAT_WRAPPER(openat, FDC_CALL_openat)
OPENAT_WRAPPER(openat64, FDC_CALL_openat64)

/* -D_FORTIFY_SOURCE binds these for non-constant flags; reported under the public name. */
int __open_2(const char *, int);
int __open64_2(const char *, int);
int __openat_2(int, const char *, int);
int __openat64_2(int, const char *, int);

#define OPEN2_WRAPPER(fn, call)                                                                    \
    FDL_EXPORT int fn(const char *path, int flags)                                                 \
    {                                                                                              \
        if (!fdl_enter())                                                                          \
            return REAL(fn)(path, flags);                                                          \
        return fdl_done1(REAL(fn)(path, flags), call, kind_of(path, flags), path,                  \
                         flags & O_CLOEXEC);                                                       \
    }
OPEN2_WRAPPER(__open_2, FDC_CALL_open)
OPEN2_WRAPPER(__open64_2, FDC_CALL_open64)

#define OPENAT2_WRAPPER(fn, call)                                                                  \
    FDL_EXPORT int fn(int dirfd, const char *path, int flags)                                      \
    {                                                                                              \
        if (!fdl_enter())                                                                          \
            return REAL(fn)(dirfd, path, flags);                                                   \
        return fdl_done1(REAL(fn)(dirfd, path, flags), call, kind_of(path, flags), path,           \
                         flags & O_CLOEXEC);                                                       \
    }
OPENAT2_WRAPPER(__openat_2, FDC_CALL_openat)
OPENAT2_WRAPPER(__openat64_2, FDC_CALL_openat64)

#define CREAT_WRAPPER(fn, call)                                                                    \
    FDL_EXPORT int fn(const char *path, mode_t mode)                                               \
    {                                                                                              \
        if (!fdl_enter())                                                                          \
            return REAL(fn)(path, mode);                                                           \
        return fdl_done1(REAL(fn)(path, mode), call, FDC_KIND_file, path, 0);                      \
    }
CREAT_WRAPPER(creat, FDC_CALL_creat)
CREAT_WRAPPER(creat64, FDC_CALL_creat64)

FDL_EXPORT int open_by_handle_at(int mountfd, struct file_handle *h, int flags)
{
    if (!fdl_enter())
        return REAL(open_by_handle_at)(mountfd, h, flags);
    return fdl_done1(REAL(open_by_handle_at)(mountfd, h, flags), FDC_CALL_open_by_handle_at,
                     kind_of(NULL, flags), NULL, flags & O_CLOEXEC);
}

/* ---- mkstemp family: the template holds the chosen name afterwards ---- */

int mkstemp64(char *);
int mkostemp64(char *, int);
int mkstemps64(char *, int);
int mkostemps64(char *, int, int);

#define MKSTEMP_WRAPPER(fn, call, params, args, cloexec)                                           \
    FDL_EXPORT int fn params                                                                       \
    {                                                                                              \
        if (!fdl_enter())                                                                          \
            return REAL(fn) args;                                                                  \
        int fd = REAL(fn) args;                                                                    \
        return fdl_done1(fd, call, FDC_KIND_file, fd >= 0 ? tmpl : NULL, cloexec);                 \
    }
MKSTEMP_WRAPPER(mkstemp, FDC_CALL_mkstemp, (char *tmpl), (tmpl), 0)
MKSTEMP_WRAPPER(mkstemp64, FDC_CALL_mkstemp64, (char *tmpl), (tmpl), 0)
MKSTEMP_WRAPPER(mkostemp, FDC_CALL_mkostemp, (char *tmpl, int fl), (tmpl, fl), fl &O_CLOEXEC)
MKSTEMP_WRAPPER(mkostemp64, FDC_CALL_mkostemp64, (char *tmpl, int fl), (tmpl, fl), fl &O_CLOEXEC)
MKSTEMP_WRAPPER(mkstemps, FDC_CALL_mkstemps, (char *tmpl, int sl), (tmpl, sl), 0)
MKSTEMP_WRAPPER(mkstemps64, FDC_CALL_mkstemps64, (char *tmpl, int sl), (tmpl, sl), 0)
MKSTEMP_WRAPPER(mkostemps, FDC_CALL_mkostemps, (char *tmpl, int sl, int fl), (tmpl, sl, fl),
                fl &O_CLOEXEC)
MKSTEMP_WRAPPER(mkostemps64, FDC_CALL_mkostemps64, (char *tmpl, int sl, int fl), (tmpl, sl, fl),
                fl &O_CLOEXEC)

/* ---- stdio ---- */

static FILE *done_file(FILE *fp, enum fdc_call call, enum fdc_kind kind, const char *path,
                       const char *mode)
{
    int err = errno;
    if (fp) {
        int fd = fileno_unlocked(fp);
        if (fd >= 0) {
            fdl_track(&fd, 1, call, kind, path, mode && strchr(mode, 'e'));
            if (fp != stdin && fp != stdout && fp != stderr) /* 0-2 are nobody's own */
                fdl_track_owner(fd, FDL_F_FILE);
        }
    } else {
        fdl_failed(call, err);
    }
    errno = err;
    return fp;
}

FILE *fopen64(const char *, const char *);
FILE *freopen64(const char *, const char *, FILE *);
FILE *tmpfile64(void);

#define FOPEN_WRAPPER(fn, call)                                                                    \
    FDL_EXPORT FILE *fn(const char *path, const char *mode)                                        \
    {                                                                                              \
        if (!fdl_enter())                                                                          \
            return REAL(fn)(path, mode);                                                           \
        return done_file(REAL(fn)(path, mode), call, FDC_KIND_file, path, mode);                   \
    }
FOPEN_WRAPPER(fopen, FDC_CALL_fopen)
FOPEN_WRAPPER(fopen64, FDC_CALL_fopen64)

/* freopen opens the new file and dup3()s it onto the stream's old number, all internally:
 * the old record goes, the number is charged to freopen. With a NULL path only the mode
 * changes and the record stays. */
#define FREOPEN_WRAPPER(fn, call)                                                                  \
    FDL_EXPORT FILE *fn(const char *path, const char *mode, FILE *fp)                              \
    {                                                                                              \
        if (!fdl_enter())                                                                          \
            return REAL(fn)(path, mode, fp);                                                       \
        int oldfd = fp ? fileno_unlocked(fp) : -1;                                                 \
        FILE *r = REAL(fn)(path, mode, fp);                                                        \
        if (!path && r)                                                                            \
            return r;                                                                              \
        int err = errno;                                                                           \
        if (oldfd >= 0)                                                                            \
            fdl_release(oldfd, call, __builtin_return_address(0));                                 \
        errno = err;                                                                               \
        return done_file(r, call, FDC_KIND_file, path, mode);                                      \
    }
FREOPEN_WRAPPER(freopen, FDC_CALL_freopen)
FREOPEN_WRAPPER(freopen64, FDC_CALL_freopen64)

/* fdopen takes over an fd: it keeps the stack of the call that really acquired it. */
FDL_EXPORT FILE *fdopen(int fd, const char *mode)
{
    FILE *r = REAL(fdopen)(fd, mode);
    if (r && fdl_enter()) {
        int err = errno;
        fdl_track_adopt(fd, FDC_CALL_fdopen, FDC_KIND_file);
        fdl_track_owner(fd, FDL_F_FILE);
        fdl_sync_cloexec(fd);
        errno = err;
    }
    return r;
}

#define TMPFILE_WRAPPER(fn, call)                                                                  \
    FDL_EXPORT FILE *fn(void)                                                                      \
    {                                                                                              \
        if (!fdl_enter())                                                                          \
            return REAL(fn)();                                                                     \
        return done_file(REAL(fn)(), call, FDC_KIND_file, NULL, NULL);                             \
    }
TMPFILE_WRAPPER(tmpfile, FDC_CALL_tmpfile)
TMPFILE_WRAPPER(tmpfile64, FDC_CALL_tmpfile64)

/* Released before the real call: once the number is free another thread may get it, and its
 * record must not be overwritten by our release. A stream whose number has no live record was
 * closed under it (close(fileno(fp))): its close is a second one. */
static void release_stream(int fd, enum fdc_call call, const void *caller)
{
    struct fdl_entry cur;
    if (fd < 0)
        return;
    int st = fdl_table_get(fd, &cur);
    if (st == FDL_FREE) {
        fdl_misuse_reclose(fd, call);
        return;
    }
    if (unlikely(cur.flags & FDL_F_STOLEN))
        fdl_misuse_stolen(fd, call, &cur);
    fdl_release(fd, call, caller);
}

FDL_EXPORT int fclose(FILE *fp)
{
    if (fp && fdl_enter())
        release_stream(fileno_unlocked(fp), FDC_CALL_fclose, __builtin_return_address(0));
    return REAL(fclose)(fp);
}

FDL_EXPORT FILE *popen(const char *cmd, const char *mode)
{
    if (!fdl_enter())
        return REAL(popen)(cmd, mode);
    return done_file(REAL(popen)(cmd, mode), FDC_CALL_popen, FDC_KIND_pipe, cmd, mode);
}

FDL_EXPORT int pclose(FILE *fp)
{
    if (fp && fdl_enter())
        release_stream(fileno_unlocked(fp), FDC_CALL_pclose, __builtin_return_address(0));
    return REAL(pclose)(fp);
}

/* ---- dirent ---- */

FDL_EXPORT DIR *opendir(const char *path)
{
    if (!fdl_enter())
        return REAL(opendir)(path);
    DIR *d = REAL(opendir)(path);
    int err = errno;
    if (d) {
        int fd = dirfd(d);
        fdl_track(&fd, 1, FDC_CALL_opendir, FDC_KIND_directory, path, 1);
        fdl_track_owner(fd, FDL_F_DIR);
    } else {
        fdl_failed(FDC_CALL_opendir, err);
    }
    errno = err;
    return d;
}

FDL_EXPORT DIR *fdopendir(int fd)
{
    DIR *d = REAL(fdopendir)(fd);
    if (d && fdl_enter()) {
        int err = errno;
        fdl_track_adopt(fd, FDC_CALL_fdopendir, FDC_KIND_directory);
        fdl_track_owner(fd, FDL_F_DIR);
        fdl_sync_cloexec(fd); /* glibc's fdopendir sets FD_CLOEXEC itself */
        errno = err;
    }
    return d;
}

FDL_EXPORT int closedir(DIR *d)
{
    if (fdl_enter())
        release_stream(dirfd(d), FDC_CALL_closedir, __builtin_return_address(0));
    return REAL(closedir)(d);
}
