/* Sockets: socket, socketpair, accept, accept4, and descriptors received with SCM_RIGHTS by
 * recvmsg and recvmmsg. Usage: sockets DIR   (DIR holds a readable file `f`; the unix socket
 * DIR/sock is created). Only 127.0.0.1 and unix sockets are used. */
#include "fixture.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

static char path_f[4200];

NOINLINE static int via_socket(int type)
{
    int fd = socket(AF_INET, type, 0);
    KEEP(fd);
    return fd;
}
NOINLINE static int via_socketpair(int sv[2])
{
    int r = socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    KEEP(r);
    return r;
}
NOINLINE static int via_socket_unix(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    KEEP(fd);
    return fd;
}
NOINLINE static int via_socketpair_dgram(int sv[2])
{
    int r = socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    KEEP(r);
    return r;
}
NOINLINE static int via_accept(int l)
{
    int fd = accept(l, NULL, NULL);
    KEEP(fd);
    return fd;
}
NOINLINE static int via_accept4(int l)
{
    int fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    KEEP(fd);
    return fd;
}

static void send_fds(int sock, const int *fds, int n)
{
    char byte = 'x';
    struct iovec iov = {&byte, 1};
    union {
        char buf[CMSG_SPACE(sizeof(int) * 4)];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof u);
    struct msghdr msg = {0};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = u.buf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * n);
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * n);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
    CHECK(sendmsg(sock, &msg, 0) == 1);
}

static int fds_of(struct msghdr *msg, int *out)
{
    int n = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            memcpy(out + n, CMSG_DATA(c), sizeof(int) * k);
            n += k;
        }
    }
    return n;
}

NOINLINE static int via_recvmsg(int sock, int *out, int flags)
{
    char byte;
    struct iovec iov = {&byte, 1};
    union {
        char buf[CMSG_SPACE(sizeof(int) * 4)];
        struct cmsghdr align;
    } u;
    struct msghdr msg = {0};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = u.buf;
    msg.msg_controllen = sizeof u.buf;
    ssize_t r = recvmsg(sock, &msg, flags);
    CHECK(r == 1);
    return fds_of(&msg, out);
}

NOINLINE static int via_recvmmsg(int sock, int *out)
{
    char bytes[2];
    struct iovec iov[2] = {{&bytes[0], 1}, {&bytes[1], 1}};
    union {
        char buf[CMSG_SPACE(sizeof(int) * 4)];
        struct cmsghdr align;
    } u[2];
    struct mmsghdr mm[2];
    memset(mm, 0, sizeof mm);
    for (int i = 0; i < 2; i++) {
        mm[i].msg_hdr.msg_iov = &iov[i];
        mm[i].msg_hdr.msg_iovlen = 1;
        mm[i].msg_hdr.msg_control = u[i].buf;
        mm[i].msg_hdr.msg_controllen = sizeof u[i].buf;
    }
    int r = recvmmsg(sock, mm, 2, MSG_WAITFORONE, NULL);
    CHECK(r == 2);
    int n = fds_of(&mm[0].msg_hdr, out);
    n += fds_of(&mm[1].msg_hdr, out + n);
    return n;
}

int main(int argc, char **argv)
{
    fixture_init();
    CHECK(argc == 2 && strlen(argv[1]) < 80);
    snprintf(path_f, sizeof path_f, "%s/f", argv[1]);

    /* socket */
    int s1 = via_socket(SOCK_STREAM), s2 = via_socket(SOCK_DGRAM | SOCK_CLOEXEC),
        s3 = via_socket(SOCK_STREAM);
    CHECK(s1 >= 0 && s2 >= 0 && s3 >= 0);
    CHECK(close(s3) == 0);
    fact("leak socket %d", s1);
    fact("leak socket %d cloexec", s2);
    fact("closed close %d", s3);

    /* socketpair */
    int sv[2], sw[2];
    CHECK(via_socketpair(sv) == 0 && via_socketpair(sw) == 0);
    CHECK(close(sw[0]) == 0 && close(sw[1]) == 0);
    fact("leak socketpair %d", sv[0]);
    fact("leak socketpair %d", sv[1]);
    fact("closed close %d", sw[0]);
    fact("closed close %d", sw[1]);

    /* accept, accept4 on 127.0.0.1 */
    int l = via_socket(SOCK_STREAM);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(l, (struct sockaddr *)&a, sizeof a) == 0 && listen(l, 8) == 0);
    socklen_t alen = sizeof a;
    CHECK(getsockname(l, (struct sockaddr *)&a, &alen) == 0);
    fact("leak socket %d listener", l);
    fact("port %d", ntohs(a.sin_port));
    int c1 = via_socket(SOCK_STREAM), c2 = via_socket(SOCK_STREAM), c3 = via_socket(SOCK_STREAM);
    CHECK(connect(c1, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(connect(c2, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(connect(c3, (struct sockaddr *)&a, sizeof a) == 0);
    fact("leak socket %d client", c1);
    fact("leak socket %d client", c2);
    int x1 = via_accept(l), x2 = via_accept4(l), x3 = via_accept(l);
    CHECK(x1 >= 0 && x2 >= 0 && x3 >= 0);
    CHECK(close(x3) == 0 && close(c3) == 0);
    fact("leak accept %d", x1);
    fact("leak accept4 %d", x2);
    fact("closed close %d", x3);
    fact("closed close %d", c3);

    /* unix listener bound to a path */
    int u = via_socket_unix();
    struct sockaddr_un sun = {0};
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s/sock", argv[1]);
    CHECK(bind(u, (struct sockaddr *)&sun, sizeof sun) == 0 && listen(u, 1) == 0);
    fact("leak socket %d unix:%s", u, sun.sun_path);

    /* SCM_RIGHTS: the sender's copies are closed, the received ones leak */
    int pair[2];
    CHECK(via_socketpair_dgram(pair) == 0);
    int f1 = open(path_f, O_RDONLY), f2 = open(path_f, O_RDONLY);
    CHECK(f1 >= 0 && f2 >= 0);
    int two[2] = {f1, f2};
    send_fds(pair[0], two, 2);
    send_fds(pair[0], &f1, 1);
    send_fds(pair[0], &f1, 1);
    send_fds(pair[0], &f2, 1);
    CHECK(close(f1) == 0 && close(f2) == 0);
    fact("closed close %d", f1);
    fact("closed close %d", f2);
    int got[8];
    int n = via_recvmsg(pair[1], got, 0);
    CHECK(n == 2);
    fact("leak recvmsg %d", got[0]);
    fact("leak recvmsg %d", got[1]);
    n = via_recvmsg(pair[1], got, MSG_CMSG_CLOEXEC);
    CHECK(n == 1);
    fact("leak recvmsg %d cloexec", got[0]);
    n = via_recvmmsg(pair[1], got);
    CHECK(n == 2);
    fact("leak recvmmsg %d", got[0]);
    fact("leak recvmmsg %d", got[1]);
    fact("leak socketpair %d", pair[0]);
    fact("leak socketpair %d", pair[1]);
    report_fdflags();
    return 0;
}
