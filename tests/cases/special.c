/* Special descriptors: eventfd, timerfd_create, signalfd (new fd only when passed -1),
 * epoll_create, epoll_create1, inotify_init, inotify_init1, fanotify_init, memfd_create,
 * posix_openpt, getpt, openpty, forkpty, shm_open, mq_open/mq_close, pidfd_open, pidfd_getfd,
 * open_by_handle_at. Facts: `leak <call> <fd> <kind>`, `closed <call> <fd>`, `skip <call> <errno>`.
 * Usage: special DIR   (DIR holds a readable file `f`) */
#include "fixture.h"

#include <fcntl.h>
#include <mqueue.h>
#include <pty.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>

static char path_f[4200];

NOINLINE static int via_eventfd(void)
{
    int fd = eventfd(0, 0);
    KEEP(fd);
    return fd;
}
NOINLINE static int via_timerfd_create(void)
{
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    KEEP(fd);
    return fd;
}
NOINLINE static int via_signalfd(int fd)
{
    sigset_t m;
    sigemptyset(&m);
    sigaddset(&m, SIGUSR2);
    fd = signalfd(fd, &m, 0);
    KEEP(fd);
    return fd;
}
NOINLINE static int via_epoll_create(void)
{
    int fd = epoll_create(4);
    KEEP(fd);
    return fd;
}
NOINLINE static int via_epoll_create1(void)
{
    int fd = epoll_create1(EPOLL_CLOEXEC);
    KEEP(fd);
    return fd;
}
NOINLINE static int via_inotify_init(void)
{
    int fd = inotify_init();
    KEEP(fd);
    return fd;
}
NOINLINE static int via_inotify_init1(void)
{
    int fd = inotify_init1(IN_CLOEXEC);
    KEEP(fd);
    return fd;
}
NOINLINE static int via_fanotify_init(void)
{
    int fd = fanotify_init(FAN_CLASS_NOTIF, O_RDONLY);
    KEEP(fd);
    return fd;
}
NOINLINE static int via_memfd_create(void)
{
    int fd = memfd_create("fdleak-test", 0);
    KEEP(fd);
    return fd;
}
NOINLINE static int via_posix_openpt(void)
{
    int fd = posix_openpt(O_RDWR | O_NOCTTY);
    KEEP(fd);
    return fd;
}
NOINLINE static int via_getpt(void)
{
    int fd = getpt();
    KEEP(fd);
    return fd;
}
NOINLINE static int via_openpty(int *m, int *s)
{
    int r = openpty(m, s, NULL, NULL, NULL);
    KEEP(r);
    return r;
}
NOINLINE static pid_t via_forkpty(int *m)
{
    pid_t r = forkpty(m, NULL, NULL, NULL);
    KEEP(r);
    return r;
}
static char shm_name[64], mq_name[64];
NOINLINE static int via_shm_open(void)
{
    int fd = shm_open(shm_name, O_RDWR | O_CREAT, 0600);
    KEEP(fd);
    return fd;
}
NOINLINE static int via_mq_open(void)
{
    mqd_t q = mq_open(mq_name, O_RDWR | O_CREAT, 0600, NULL);
    KEEP(q);
    return (int)q;
}
NOINLINE static int via_pidfd_open(void)
{
    int fd = pidfd_open(getpid(), 0);
    KEEP(fd);
    return fd;
}
NOINLINE static int via_pidfd_getfd(int pfd, int target)
{
    int fd = pidfd_getfd(pfd, target, 0);
    KEEP(fd);
    return fd;
}
NOINLINE static int via_open_by_handle_at(int mfd, struct file_handle *h)
{
    int fd = open_by_handle_at(mfd, h, O_RDONLY);
    KEEP(fd);
    return fd;
}

static void pair(const char *call, const char *kind, int (*fn)(void))
{
    int keep = fn();
    if (keep < 0) {
        fact("skip %s %d", call, errno);
        return;
    }
    int drop = fn();
    CHECK(drop >= 0);
    CHECK(close(drop) == 0);
    fact("leak %s %d %s", call, keep, kind);
    fact("closed close %d", drop);
}

int main(int argc, char **argv)
{
    fixture_init();
    CHECK(argc == 2 && strlen(argv[1]) < 4000);
    snprintf(path_f, sizeof path_f, "%s/f", argv[1]);
    snprintf(shm_name, sizeof shm_name, "/fdleak-test-shm-%d", (int)getpid());
    snprintf(mq_name, sizeof mq_name, "/fdleak-test-mq-%d", (int)getpid());

    fact("pid %d", (int)getpid());
    pair("eventfd", "eventfd", via_eventfd);
    pair("timerfd_create", "timerfd", via_timerfd_create);

    int sfd = via_signalfd(-1);
    CHECK(sfd >= 0);
    fact("leak signalfd %d signalfd", sfd);
    CHECK(via_signalfd(sfd) == sfd);
    fact("same signalfd %d", sfd);
    int sfd2 = via_signalfd(-1);
    CHECK(sfd2 >= 0 && close(sfd2) == 0);
    fact("closed close %d", sfd2);

    pair("epoll_create", "epoll", via_epoll_create);
    pair("epoll_create1", "epoll", via_epoll_create1);
    pair("inotify_init", "inotify", via_inotify_init);
    pair("inotify_init1", "inotify", via_inotify_init1);
    pair("fanotify_init", "fanotify", via_fanotify_init);
    pair("memfd_create", "memfd", via_memfd_create);
    pair("posix_openpt", "pty", via_posix_openpt);
    pair("getpt", "pty", via_getpt);

    int m, s, m2, s2;
    if (via_openpty(&m, &s) == 0) {
        CHECK(via_openpty(&m2, &s2) == 0);
        CHECK(close(m2) == 0 && close(s2) == 0);
        fact("leak openpty %d pty", m);
        fact("leak openpty %d pty", s);
        fact("closed close %d", m2);
        fact("closed close %d", s2);
    } else {
        fact("skip openpty %d", errno);
    }

    pid_t pid = via_forkpty(&m);
    if (pid == 0)
        _exit(0);
    if (pid > 0) {
        int st;
        CHECK(waitpid(pid, &st, 0) == pid);
        fact("leak forkpty %d pty", m);
    } else {
        fact("skip forkpty %d", errno);
    }

    pair("shm_open", "shm", via_shm_open);
    shm_unlink(shm_name);

    int q = via_mq_open();
    if (q >= 0) {
        int q2 = via_mq_open();
        CHECK(q2 >= 0 && mq_close((mqd_t)q2) == 0);
        fact("leak mq_open %d mqueue", q);
        fact("closed mq_close %d", q2);
        mq_unlink(mq_name);
    } else {
        fact("skip mq_open %d", errno);
    }

    int pfd = via_pidfd_open();
    if (pfd >= 0) {
        fact("leak pidfd_open %d pidfd", pfd);
        int target = open(path_f, O_RDONLY);
        CHECK(target >= 0);
        fact("leak open %d file", target);
        int g = via_pidfd_getfd(pfd, target);
        if (g >= 0)
            fact("leak pidfd_getfd %d file", g);
        else
            fact("skip pidfd_getfd %d", errno);
    } else {
        fact("skip pidfd_open %d", errno);
    }

    struct {
        struct file_handle h;
        unsigned char bytes[MAX_HANDLE_SZ];
    } fh;
    fh.h.handle_bytes = MAX_HANDLE_SZ;
    int mount_id;
    if (name_to_handle_at(AT_FDCWD, path_f, &fh.h, &mount_id, 0) == 0) {
        int mfd = open(argv[1], O_RDONLY | O_DIRECTORY);
        CHECK(mfd >= 0);
        fact("leak open %d directory", mfd);
        int h = via_open_by_handle_at(mfd, &fh.h);
        if (h >= 0)
            fact("leak open_by_handle_at %d file", h);
        else
            fact("skip open_by_handle_at %d", errno);
    } else {
        fact("skip open_by_handle_at %d", errno);
    }
    report_fdflags();
    return 0;
}
