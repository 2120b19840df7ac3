/* Failing calls: each prints `ret <label> <return value> <errno>`; the test compares the output
 * with and without the shim, and checks that nothing was recorded: the descriptor that some
 * failing calls aim at keeps the record open() gave it. A few successful calls print
 * errno too, after setting it to a marker, to show the shim leaves errno alone on success. */
#include "fixture.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <mqueue.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>

#define R(label, expr)                                                                             \
    do {                                                                                           \
        errno = 7777;                                                                              \
        long r_ = (long)(expr);                                                                    \
        fact("ret %s %ld %d", label, r_, errno);                                                   \
    } while (0)
#define P(label, expr)                                                                             \
    do {                                                                                           \
        errno = 7777;                                                                              \
        void *p_ = (void *)(expr);                                                                 \
        fact("ret %s %s %d", label, p_ ? "ptr" : "NULL", errno);                                   \
    } while (0)

extern int __open_2(const char *path, int flags);

NOINLINE static int keep_open(void)
{
    int fd = open("/etc/hostname", O_RDONLY);
    KEEP(fd);
    return fd;
}

int main(void)
{
    fixture_init();
    const char *missing = "/nonexistent-fdleak/x";
    char tmpl[] = "/tmp/not-a-template";
    int sv[2], p[2];
    sigset_t m;
    sigemptyset(&m);
    /* an open descriptor that failing calls aim at: its record must stay as open() made it */
    int x = keep_open();
    CHECK(x >= 0);

    R("open", open(missing, O_RDONLY));
    R("open64", open64(missing, O_RDONLY));
    R("__open_2", __open_2(missing, O_RDONLY));
    R("openat_badfd", openat(9999, "x", O_RDONLY));
    R("openat_missing", openat(AT_FDCWD, missing, O_RDONLY));
    R("creat", creat(missing, 0600));
    R("open_eisdir", open("/", O_WRONLY));
    P("fopen", fopen(missing, "r"));
    P("fopen_badmode", fopen("/etc/hostname", "q"));
    P("freopen", freopen(missing, "r", fopen("/etc/hostname", "r")));
    P("fdopen", fdopen(9999, "r"));
    P("opendir", opendir(missing));
    P("opendir_notdir", opendir("/etc/hostname"));
    P("fdopendir", fdopendir(9999));
    P("popen_badmode", popen("true", "x"));
    R("mkstemp", mkstemp(tmpl));
    R("socket", socket(12345, SOCK_STREAM, 0));
    R("socketpair", socketpair(AF_INET, SOCK_STREAM, 0, sv));
    R("accept_notsock", accept(0, NULL, NULL));
    R("accept4_badfd", accept4(9999, NULL, NULL, 0));
    R("pipe2_badflags", pipe2(p, 0x7fffffff));
    R("dup", dup(9999));
    R("dup2", dup2(9999, 100));
    R("dup3_same", dup3(1, 1, 0));
    R("dup3_badflags", dup3(1, 100, 12345));
    R("fcntl_dupfd_bad", fcntl(9999, F_DUPFD, 0));
    R("fcntl_dupfd_range", fcntl(1, F_DUPFD, -1));
    R("eventfd", eventfd(0, 0x7fffffff));
    R("timerfd_create", timerfd_create(12345, 0));
    R("signalfd_notsfd", signalfd(1, &m, 0));
    R("signalfd_badfd", signalfd(9999, &m, 0));
    R("epoll_create", epoll_create(0));
    R("epoll_create1", epoll_create1(12345));
    R("inotify_init1", inotify_init1(12345));
    R("memfd_create", memfd_create("x", 0x7fff0000));
    R("shm_open", shm_open("/fdleak-missing-shm", O_RDONLY, 0));
    R("mq_open", (long)mq_open("/fdleak-missing-mq", O_RDONLY));
    R("dup2_onto_open", dup2(9999, x));
    R("dup3_self", dup3(x, x, 0));
    P("fdopen_wrong_mode", fdopen(x, "w"));
    P("fdopendir_notdir", fdopendir(x));
    R("signalfd_on_open", signalfd(x, &m, 0));
    R("fcntl_dupfd_neg", fcntl(x, F_DUPFD, -1));
    R("close_range_inverted", close_range(x, x - 1, 0));
    R("accept_on_file", accept(x, NULL, NULL));
    R("close", close(9999));
    R("close_range", close_range(10, 5, 0));
    R("posix_openpt", posix_openpt(0x7fffffff));
    /* successes: return value and errno must be the same with and without the shim */
    int fd = open("/etc/hostname", O_RDONLY);
    fact("ret open_ok_fd %d %d", fd, errno);
    R("close_ok", close(fd));
    R("dup2_self_ok", dup2(1, 1));
    fact("leak open %d", x);
    return 0;
}
