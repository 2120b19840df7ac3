/* The open family: open, open64, __open_2, __open64_2, openat, openat64, __openat_2,
 * __openat64_2, creat, creat64. For each call one descriptor is leaked and one closed.
 * Usage: open_family DIR   (DIR holds a readable file `f`) */
#include "fixture.h"

#include <fcntl.h>
#include <sys/stat.h>

extern int __open_2(const char *path, int flags);
extern int __open64_2(const char *path, int flags);
extern int __openat_2(int dirfd, const char *path, int flags);
extern int __openat64_2(int dirfd, const char *path, int flags);

static char path_f[4096], path_c[4096];
static int dirfd_;

NOINLINE static int via_open(void)
{
    int fd = open(path_f, O_RDONLY);
    KEEP(fd);
    return fd;
}
NOINLINE static int via_open64(void)
{
    int fd = open64(path_f, O_RDONLY | O_CLOEXEC);
    KEEP(fd);
    return fd;
}
NOINLINE static int via___open_2(void)
{
    int fd = __open_2(path_f, O_RDONLY);
    KEEP(fd);
    return fd;
}
NOINLINE static int via___open64_2(void)
{
    int fd = __open64_2(path_f, O_RDONLY);
    KEEP(fd);
    return fd;
}
NOINLINE static int via_openat(void)
{
    int fd = openat(dirfd_, "f", O_RDONLY);
    KEEP(fd);
    return fd;
}
NOINLINE static int via_openat64(void)
{
    int fd = openat64(dirfd_, "f", O_RDONLY);
    KEEP(fd);
    return fd;
}
NOINLINE static int via___openat_2(void)
{
    int fd = __openat_2(dirfd_, "f", O_RDONLY);
    KEEP(fd);
    return fd;
}
NOINLINE static int via___openat64_2(void)
{
    int fd = __openat64_2(AT_FDCWD, path_f, O_RDONLY);
    KEEP(fd);
    return fd;
}
NOINLINE static int via_creat(void)
{
    int fd = creat(path_c, 0600);
    KEEP(fd);
    return fd;
}
NOINLINE static int via_creat64(void)
{
    int fd = creat64(path_c, 0600);
    KEEP(fd);
    return fd;
}
NOINLINE static int via_open_creat(void)
{
    int fd = open(path_c, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    KEEP(fd);
    return fd;
}

struct entry {
    const char *name;
    int (*fn)(void);
    const char *path;
};

int main(int argc, char **argv)
{
    fixture_init();
    CHECK(argc == 2);
    snprintf(path_f, sizeof path_f, "%s/f", argv[1]);
    snprintf(path_c, sizeof path_c, "%s/created", argv[1]);
    dirfd_ = open(argv[1], O_RDONLY | O_DIRECTORY);
    CHECK(dirfd_ >= 0);
    fact("leak open_dirfd %d %s", dirfd_, argv[1]);
    const struct entry calls[] = {
        {"open", via_open, path_f},
        {"open64", via_open64, path_f},
        {"__open_2", via___open_2, path_f},
        {"__open64_2", via___open64_2, path_f},
        {"openat", via_openat, "f"},
        {"openat64", via_openat64, "f"},
        {"__openat_2", via___openat_2, "f"},
        {"__openat64_2", via___openat64_2, path_f},
        {"creat", via_creat, path_c},
        {"creat64", via_creat64, path_c},
        {"open_creat", via_open_creat, path_c},
    };
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        int keep = calls[i].fn();
        int drop = calls[i].fn();
        CHECK(keep >= 0 && drop >= 0);
        CHECK(close(drop) == 0);
        fact("leak %s %d %s", calls[i].name, keep, calls[i].path);
        fact("closed %s %d", calls[i].name, drop);
    }
    report_fdflags();
    return 0;
}
