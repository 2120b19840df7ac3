/* libunwind's validation pipe must never be one of the program's descriptors. The program
 * makes a capture happen, closes everything with a raw close_range, fills the table past
 * 4100 descriptors, dup2s its data files onto 4088..4090 (where the pipe used to be moved),
 * then opens from new code paths in a thread so libunwind does real work. Bare and under the
 * library: the same numbers, the same file contents, the same /proc/self/fd.
 * Usage: host_pipe DIR raw|close_range|closefrom|loop (how everything from 3 up is closed) */
#include "fixture.h"

#include <dirent.h>
#include <linux/close_range.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#define WANT 4200
#define PATHS 24

NOINLINE static int path_open(int i, const char *p)
{
    /* Distinct return addresses: every call site is a new frame for libunwind's cache. */
    switch (i % 4) {
    case 0:
        return open(p, O_RDONLY);
    case 1:
        return openat(AT_FDCWD, p, O_RDONLY);
    case 2:
        return open(p, O_RDONLY | O_CLOEXEC);
    default:
        return openat(AT_FDCWD, p, O_RDONLY | O_CLOEXEC);
    }
}

#define LEVEL(n, m)                                                                                \
    NOINLINE static int level##n(int i, const char *p)                                             \
    {                                                                                              \
        int r = m(i, p);                                                                           \
        KEEP(r);                                                                                   \
        return r;                                                                                  \
    }
LEVEL(1, path_open)
LEVEL(2, level1)
LEVEL(3, level2)
LEVEL(4, level3)

static const char *devnull = "/dev/null";

static void *worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < PATHS; i++) {
        int fd = (i & 1 ? level4 : level2)(i, devnull);
        CHECK(fd >= 0);
        fact("thread fd %d", fd);
        close(fd);
    }
    return NULL;
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char p[4096];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
}

static void show_fds(void)
{
    /* Counted with raw getdents so the listing itself opens only one descriptor. */
    int dfd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/fd", O_RDONLY | O_DIRECTORY);
    CHECK(dfd >= 0);
    char buf[65536];
    long n, count = 0, sum = 0, max = -1;
    while ((n = syscall(SYS_getdents64, dfd, buf, sizeof(buf))) > 0)
        for (long off = 0; off < n;) {
            struct dirent64 *d = (struct dirent64 *)(buf + off);
            if (d->d_name[0] != '.') {
                long fd = atol(d->d_name);
                if (fd != dfd) {
                    count++;
                    sum += fd;
                    max = fd > max ? fd : max;
                }
            }
            off += d->d_reclen;
        }
    syscall(SYS_close, dfd);
    fact("proc_fds count %ld sum %ld max %ld", count, sum, max);
}

int main(int argc, char **argv)
{
    fixture_init();
    CHECK(argc == 3);
    struct rlimit rl;
    CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    if (rl.rlim_max < WANT + 64) {
        fact("skip hard limit %ld", (long)rl.rlim_max);
        return 0;
    }
    rl.rlim_cur = rl.rlim_max;
    CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    write_file(argv[1], "a", "alpha\n");
    write_file(argv[1], "b", "bravo\n");
    /* A first capture: under the library, libunwind makes its pipe now. */
    int first = level3(0, devnull);
    CHECK(first >= 0);
    close(first);
    if (!strcmp(argv[2], "raw")) {
        CHECK(syscall(SYS_close_range, 3U, ~0U, 0) == 0);
    } else if (!strcmp(argv[2], "close_range")) {
        CHECK(close_range(3U, ~0U, 0) == 0);
    } else if (!strcmp(argv[2], "closefrom")) {
        closefrom(3);
    } else {
        for (int fd = 3; fd < (int)rl.rlim_cur; fd++)
            close(fd);
    }
    char pa[4096], pb[4096];
    snprintf(pa, sizeof(pa), "%s/a", argv[1]);
    snprintf(pb, sizeof(pb), "%s/b", argv[1]);
    int a = open(pa, O_RDWR | O_APPEND), b = open(pb, O_RDWR | O_APPEND);
    CHECK(a >= 0 && b >= 0);
    int last = -1;
    for (int i = 0; i < WANT; i++) {
        last = open(devnull, O_RDONLY);
        CHECK(last >= 0);
    }
    fact("last fd %d", last);
    for (int fd = 4088; fd <= 4090; fd++)
        CHECK(dup2(fd == 4089 ? b : a, fd) == fd);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, worker, NULL) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    for (int i = 0; i < PATHS; i++) {
        int fd = level4(i + 1, devnull);
        CHECK(fd >= 0);
        fact("main fd %d", fd);
        close(fd);
    }
    struct stat sa, sb;
    CHECK(fstat(a, &sa) == 0 && fstat(b, &sb) == 0);
    fact("size a %ld b %ld", (long)sa.st_size, (long)sb.st_size);
    show_fds();
    return 0;
}
