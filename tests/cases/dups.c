/* pipe, pipe2, dup, dup2 (onto a free fd, onto an open fd, onto itself), dup3, fcntl and
 * fcntl64 with F_DUPFD / F_DUPFD_CLOEXEC, F_SETFD. Usage: dups DIR  (DIR holds files f, g) */
#include "fixture.h"

#include <fcntl.h>

static char path_f[4200], path_g[4200];

NOINLINE static int via_pipe(int p[2])
{
    int r = pipe(p);
    KEEP(r);
    return r;
}
NOINLINE static int via_pipe2(int p[2])
{
    int r = pipe2(p, O_CLOEXEC);
    KEEP(r);
    return r;
}
NOINLINE static int open_source(void)
{
    int fd = open(path_f, O_RDONLY);
    KEEP(fd);
    return fd;
}
NOINLINE static int open_victim(void)
{
    int fd = open(path_g, O_RDONLY);
    KEEP(fd);
    return fd;
}
NOINLINE static int open_self_target(void)
{
    int fd = open(path_g, O_RDONLY);
    KEEP(fd);
    return fd;
}
NOINLINE static int open_cloexec(void)
{
    int fd = open(path_f, O_RDONLY | O_CLOEXEC);
    KEEP(fd);
    return fd;
}
NOINLINE static int via_dup(int fd)
{
    int r = dup(fd);
    KEEP(r);
    return r;
}
NOINLINE static int via_dup2(int a, int b)
{
    int r = dup2(a, b);
    KEEP(r);
    return r;
}
NOINLINE static int via_dup3(int a, int b, int fl)
{
    int r = dup3(a, b, fl);
    KEEP(r);
    return r;
}
NOINLINE static int via_fcntl(int fd, int cmd, int arg)
{
    int r = fcntl(fd, cmd, arg);
    KEEP(r);
    return r;
}
NOINLINE static int via_fcntl64(int fd, int cmd, int arg)
{
    int r = fcntl64(fd, cmd, arg);
    KEEP(r);
    return r;
}

int main(int argc, char **argv)
{
    fixture_init();
    CHECK(argc == 2 && strlen(argv[1]) < 4000);
    snprintf(path_f, sizeof path_f, "%s/f", argv[1]);
    snprintf(path_g, sizeof path_g, "%s/g", argv[1]);

    int p[2], q[2];
    CHECK(via_pipe(p) == 0 && via_pipe(q) == 0);
    CHECK(close(q[0]) == 0 && close(q[1]) == 0);
    fact("leak pipe %d", p[0]);
    fact("leak pipe %d", p[1]);
    fact("closed close %d", q[0]);
    fact("closed close %d", q[1]);
    CHECK(via_pipe2(q) == 0);
    fact("leak pipe2 %d cloexec", q[0]);
    fact("leak pipe2 %d cloexec", q[1]);

    int src = open_source();
    CHECK(src >= 0);
    fact("leak open %d %s", src, path_f);

    int d1 = via_dup(src), d2 = via_dup(src);
    CHECK(d1 >= 0 && d2 >= 0 && close(d2) == 0);
    fact("leak dup %d", d1);
    fact("closed close %d", d2);

    /* dup2 onto an open descriptor: the victim's record is replaced, charged to dup2 */
    int victim = open_victim();
    CHECK(victim >= 0);
    CHECK(via_dup2(src, victim) == victim);
    fact("replaced dup2 %d", victim);
    /* dup2 onto a free number */
    CHECK(via_dup2(src, 40) == 40);
    fact("leak dup2 40");
    /* dup2(fd, fd) changes nothing */
    int self = open_self_target();
    CHECK(self >= 0 && via_dup2(self, self) == self);
    fact("leak open %d %s self", self, path_g);
    /* dup3 onto a free number and onto an open one */
    CHECK(via_dup3(src, 41, O_CLOEXEC) == 41);
    fact("leak dup3 41 cloexec");
    victim = open_victim();
    CHECK(victim >= 0 && via_dup3(src, victim, 0) == victim);
    fact("replaced dup3 %d", victim);

    /* fcntl */
    int f1 = via_fcntl(src, F_DUPFD, 50);
    int f2 = via_fcntl(src, F_DUPFD_CLOEXEC, 50);
    int f3 = via_fcntl(src, F_DUPFD, 50);
    CHECK(f1 >= 50 && f2 >= 50 && f3 >= 50 && close(f3) == 0);
    fact("leak fcntl %d", f1);
    fact("leak fcntl %d cloexec", f2);
    fact("closed close %d", f3);
    int g1 = via_fcntl64(src, F_DUPFD, 60);
    int g2 = via_fcntl64(src, F_DUPFD_CLOEXEC, 60);
    CHECK(g1 >= 60 && g2 >= 60);
    fact("leak fcntl64 %d", g1);
    fact("leak fcntl64 %d cloexec", g2);

    /* F_SETFD changes only the flag */
    int s1 = open_source(), s2 = open_cloexec();
    CHECK(s1 >= 0 && s2 >= 0);
    CHECK(fcntl(s1, F_SETFD, FD_CLOEXEC) == 0 && fcntl(s2, F_SETFD, 0) == 0);
    fact("leak open %d setfd cloexec", s1);
    fact("leak open %d setfd nocloexec", s2);
    report_fdflags();
    return 0;
}
