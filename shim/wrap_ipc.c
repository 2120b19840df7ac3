/* Wrappers for descriptors that are not files by path: sockets, pipes, event/timer/signal
 * descriptors, epoll, inotify, fanotify, memfd, ptys, POSIX shared memory and message queues,
 * pidfds, the new mount API, and descriptors received over a socket with SCM_RIGHTS. */
#include "wrap.h"

#include <fcntl.h>
#include <mqueue.h>
#include <pty.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

/* ---- sockets ---- */

FDL_EXPORT int socket(int domain, int type, int proto)
{
    if (!fdl_enter())
        return REAL(socket)(domain, type, proto);
    return fdl_done1(REAL(socket)(domain, type, proto), FDC_CALL_socket, FDC_KIND_socket, NULL,
                     type & SOCK_CLOEXEC);
}

FDL_EXPORT int socketpair(int domain, int type, int proto, int sv[2])
{
    if (!fdl_enter())
        return REAL(socketpair)(domain, type, proto, sv);
    return fdl_done2(REAL(socketpair)(domain, type, proto, sv), sv, FDC_CALL_socketpair,
                     FDC_KIND_socket, type & SOCK_CLOEXEC);
}

FDL_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
    if (!fdl_enter())
        return REAL(accept)(fd, addr, len);
    return fdl_done1(REAL(accept)(fd, addr, len), FDC_CALL_accept, FDC_KIND_socket, NULL, 0);
}

FDL_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    if (!fdl_enter())
        return REAL(accept4)(fd, addr, len, flags);
    return fdl_done1(REAL(accept4)(fd, addr, len, flags), FDC_CALL_accept4, FDC_KIND_socket, NULL,
                     flags & SOCK_CLOEXEC);
}

/* Descriptors passed with SCM_RIGHTS are new in this process. */
static void track_rights(struct msghdr *msg, enum fdc_call call, int cloexec)
{
    if (!msg || !msg->msg_control || msg->msg_controllen < sizeof(struct cmsghdr))
        return;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(0))
            continue;
        int n = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        int fds[64];
        const unsigned char *data = CMSG_DATA(c);
        for (int i = 0; i < n; i += 64) {
            int k = n - i < 64 ? n - i : 64;
            for (int j = 0; j < k; j++)
                memcpy(&fds[j], data + (size_t)(i + j) * sizeof(int), sizeof(int));
            fdl_track(fds, k, call, FDC_KIND_unknown, NULL, cloexec);
        }
    }
}

FDL_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    ssize_t r = REAL(recvmsg)(fd, msg, flags);
    if (unlikely(r < 0))
        return fdl_misuse_failed(r, fd, FDC_CALL_recvmsg, __builtin_return_address(0));
    /* Hot in network servers: one branch when no control data came back. */
    if (msg && msg->msg_controllen && fdl_enter()) {
        int err = errno;
        track_rights(msg, FDC_CALL_recvmsg, flags & MSG_CMSG_CLOEXEC);
        errno = err;
    }
    return r;
}

FDL_EXPORT int recvmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags,
                        struct timespec *timeout)
{
    int r = REAL(recvmmsg)(fd, vec, vlen, flags, timeout);
    if (unlikely(r < 0))
        return (int)fdl_misuse_failed(r, fd, FDC_CALL_recvmmsg, __builtin_return_address(0));
    if (r > 0 && vec && fdl_enter()) {
        int err = errno;
        for (int i = 0; i < r; i++)
            if (vec[i].msg_hdr.msg_controllen)
                track_rights(&vec[i].msg_hdr, FDC_CALL_recvmmsg, flags & MSG_CMSG_CLOEXEC);
        errno = err;
    }
    return r;
}

/* ---- pipes ---- */

FDL_EXPORT int pipe(int fds[2])
{
    if (!fdl_enter())
        return fdl_vfd_pipe(fds, __builtin_return_address(0)) ? 0 : REAL(pipe)(fds);
    return fdl_done2(REAL(pipe)(fds), fds, FDC_CALL_pipe, FDC_KIND_pipe, 0);
}

FDL_EXPORT int pipe2(int fds[2], int flags)
{
    if (!fdl_enter())
        return fdl_vfd_pipe(fds, __builtin_return_address(0)) ? 0 : REAL(pipe2)(fds, flags);
    return fdl_done2(REAL(pipe2)(fds, flags), fds, FDC_CALL_pipe2, FDC_KIND_pipe,
                     flags & O_CLOEXEC);
}

/* ---- anonymous-inode descriptors ---- */

#define SIMPLE1(ret_fn, call, kind, params, args, cloexec)                                         \
    FDL_EXPORT int ret_fn params                                                                   \
    {                                                                                              \
        if (!fdl_enter())                                                                          \
            return REAL(ret_fn) args;                                                              \
        return fdl_done1(REAL(ret_fn) args, call, kind, NULL, cloexec);                            \
    }

SIMPLE1(eventfd, FDC_CALL_eventfd, FDC_KIND_eventfd, (unsigned int v, int fl), (v, fl),
        fl &EFD_CLOEXEC)
SIMPLE1(timerfd_create, FDC_CALL_timerfd_create, FDC_KIND_timerfd, (int clk, int fl), (clk, fl),
        fl &TFD_CLOEXEC)
SIMPLE1(epoll_create, FDC_CALL_epoll_create, FDC_KIND_epoll, (int size), (size), 0)
SIMPLE1(epoll_create1, FDC_CALL_epoll_create1, FDC_KIND_epoll, (int fl), (fl), fl &EPOLL_CLOEXEC)
SIMPLE1(inotify_init, FDC_CALL_inotify_init, FDC_KIND_inotify, (void), (), 0)
SIMPLE1(inotify_init1, FDC_CALL_inotify_init1, FDC_KIND_inotify, (int fl), (fl), fl &IN_CLOEXEC)
SIMPLE1(fanotify_init, FDC_CALL_fanotify_init, FDC_KIND_fanotify,
        (unsigned int fl, unsigned int ev), (fl, ev), fl &FAN_CLOEXEC)
SIMPLE1(posix_openpt, FDC_CALL_posix_openpt, FDC_KIND_pty, (int fl), (fl), fl &O_CLOEXEC)
SIMPLE1(getpt, FDC_CALL_getpt, FDC_KIND_pty, (void), (), 0)
SIMPLE1(pidfd_open, FDC_CALL_pidfd_open, FDC_KIND_pidfd, (pid_t pid, unsigned int fl), (pid, fl), 1)
SIMPLE1(pidfd_getfd, FDC_CALL_pidfd_getfd, FDC_KIND_unknown,
        (int pidfd, int target, unsigned int fl), (pidfd, target, fl), 1)
SIMPLE1(fsopen, FDC_CALL_fsopen, FDC_KIND_unknown, (const char *fs, unsigned int fl), (fs, fl),
        fl &FSOPEN_CLOEXEC)
SIMPLE1(fsmount, FDC_CALL_fsmount, FDC_KIND_unknown, (int fd, unsigned int fl, unsigned int attr),
        (fd, fl, attr), fl &FSMOUNT_CLOEXEC)
SIMPLE1(fspick, FDC_CALL_fspick, FDC_KIND_unknown, (int d, const char *p, unsigned int fl),
        (d, p, fl), fl &FSPICK_CLOEXEC)
SIMPLE1(open_tree, FDC_CALL_open_tree, FDC_KIND_unknown, (int d, const char *p, unsigned int fl),
        (d, p, fl), fl &OPEN_TREE_CLOEXEC)

FDL_EXPORT int memfd_create(const char *name, unsigned int fl)
{
    if (!fdl_enter())
        return REAL(memfd_create)(name, fl);
    return fdl_done1(REAL(memfd_create)(name, fl), FDC_CALL_memfd_create, FDC_KIND_memfd, name,
                     fl & MFD_CLOEXEC);
}

/* signalfd makes a new descriptor only when passed -1; otherwise it updates one. */
FDL_EXPORT int signalfd(int fd, const sigset_t *mask, int fl)
{
    if (fd != -1 || !fdl_enter())
        return REAL(signalfd)(fd, mask, fl);
    return fdl_done1(REAL(signalfd)(fd, mask, fl), FDC_CALL_signalfd, FDC_KIND_signalfd, NULL,
                     fl & SFD_CLOEXEC);
}

FDL_EXPORT int shm_open(const char *name, int oflag, mode_t mode)
{
    if (!fdl_enter())
        return REAL(shm_open)(name, oflag, mode);
    /* shm_open always sets FD_CLOEXEC. */
    return fdl_done1(REAL(shm_open)(name, oflag, mode), FDC_CALL_shm_open, FDC_KIND_shm, name, 1);
}

FDL_EXPORT mqd_t mq_open(const char *name, int oflag, ...)
{
    mode_t mode = 0;
    struct mq_attr *attr = NULL;
    if (oflag & O_CREAT) {
        va_list ap;
        va_start(ap, oflag);
        mode = (mode_t)va_arg(ap, int);
        attr = va_arg(ap, struct mq_attr *);
        va_end(ap);
    }
    if (!fdl_enter())
        return REAL(mq_open)(name, oflag, mode, attr);
    return fdl_done1(REAL(mq_open)(name, oflag, mode, attr), FDC_CALL_mq_open, FDC_KIND_mqueue,
                     name, 1);
}

FDL_EXPORT int mq_close(mqd_t q)
{
    if (fdl_enter())
        fdl_release(q, FDC_CALL_mq_close, __builtin_return_address(0));
    return REAL(mq_close)(q);
}

/* ---- ptys ---- */

FDL_EXPORT int openpty(int *amaster, int *aslave, char *name, const struct termios *t,
                       const struct winsize *w)
{
    if (!fdl_enter())
        return REAL(openpty)(amaster, aslave, name, t, w);
    int r = REAL(openpty)(amaster, aslave, name, t, w);
    int fds[2] = {r == 0 ? *amaster : -1, r == 0 ? *aslave : -1};
    return fdl_done2(r, fds, FDC_CALL_openpty, FDC_KIND_pty, 0);
}

FDL_EXPORT pid_t forkpty(int *amaster, char *name, const struct termios *t, const struct winsize *w)
{
    if (!fdl_enter())
        return REAL(forkpty)(amaster, name, t, w);
    pid_t p = REAL(forkpty)(amaster, name, t, w);
    int err = errno;
    if (p > 0)
        fdl_track(amaster, 1, FDC_CALL_forkpty, FDC_KIND_pty, NULL, 0);
    else if (p < 0)
        fdl_failed(FDC_CALL_forkpty, err);
    errno = err;
    return p;
}
