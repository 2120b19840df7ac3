/* False positives and kinds (issue 8). `fp_cases MODE [FILE]`:
 * fork FILE: the parent opens FILE (parent_open), forks; the child opens FILE (child_open) and
 *   _exits; the parent waits and exits. Facts: `parent pid P`, `both open A`, `child pid C`,
 *   `child open D`.
 * stdio: dup2()s /dev/null onto 1 and closes the original: nothing leaks. Fact `stdio fd 1`.
 * kinds: an O_TMPFILE open (`tmpfile open N`); a pipe (`pipe pipe R W`) duplicated with
 *   F_DUPFD (`dupfd fcntl N`); fd 0 duplicated with F_DUPFD (`dupfd0 fcntl N`); FIOCLEX on R,
 *   FIOCLEX then FIONCLEX on W; then `fdflags FD 0|1` for every open fd.
 * dlsym FILE: opens FILE through dlsym(dlopen("libc.so.6"), "open") and through
 *   dlvsym(..., "open", "GLIBC_2.2.5") (`leak dlsym N`, `leak dlvsym N`); a failed lookup
 *   (`dlerror 1` if dlerror() said why); `same 0|1`: the handle's open is RTLD_DEFAULT's.
 * raw: opens /dev/null with a raw openat syscall (`unknown syscall N`): unknown origin.
 * raw0: closes 0 and reopens it with a raw openat syscall: an unknown origin on 0 only.
 * dupin FD: duplicates FD (inherited) with F_DUPFD (`dupin fcntl N`).
 * ioctl N: N ioctl(FIONREAD) calls on a pipe (the cost of the ioctl wrapper's common path). */
#include "fixture.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

NOINLINE static int parent_open(const char *p)
{
    int fd = open(p, O_RDONLY);
    KEEP(fd);
    return fd;
}

NOINLINE static int child_open(const char *p)
{
    int fd = open(p, O_RDONLY);
    KEEP(fd);
    return fd;
}

static int do_fork(const char *path)
{
    int a = parent_open(path);
    CHECK(a >= 0);
    fact("parent pid %d", (int)getpid());
    fact("both open %d", a);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        int d = child_open(path);
        CHECK(d >= 0);
        fact("child pid %d", (int)getpid());
        fact("child open %d", d);
        _exit(0);
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    return 0;
}

static int do_stdio(void)
{
    fact("stdio fd 1");
    int fd = open("/dev/null", O_WRONLY);
    CHECK(fd >= 0);
    CHECK(dup2(fd, 1) == 1);
    CHECK(close(fd) == 0);
    return 0;
}

static int do_kinds(void)
{
    int t = open("/tmp", O_TMPFILE | O_RDWR, 0600);
    CHECK(t >= 0);
    fact("tmpfile open %d", t);
    int p[2];
    CHECK(pipe(p) == 0);
    fact("pipe pipe %d %d", p[0], p[1]);
    int d = fcntl(p[0], F_DUPFD, 0);
    CHECK(d >= 0);
    fact("dupfd fcntl %d", d);
    int d0 = fcntl(0, F_DUPFD, 0);
    CHECK(d0 >= 0);
    fact("dupfd0 fcntl %d", d0);
    CHECK(ioctl(p[0], FIOCLEX) == 0);
    CHECK(ioctl(p[1], FIOCLEX) == 0);
    CHECK(ioctl(p[1], FIONCLEX) == 0);
    errno = 0;
    CHECK(ioctl(-1, FIOCLEX) == -1 && errno == EBADF);
    report_fdflags();
    return 0;
}

NOINLINE static int do_dlsym(const char *path)
{
    void *h = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    CHECK(h);
    int (*o)(const char *, int, ...) = (int (*)(const char *, int, ...))dlsym(h, "open");
    CHECK(o);
    int fd = o(path, O_RDONLY);
    CHECK(fd >= 0);
    fact("leak dlsym %d", fd);
    o = (int (*)(const char *, int, ...))dlvsym(h, "open", "GLIBC_2.2.5");
    CHECK(o);
    fd = o(path, O_RDONLY);
    CHECK(fd >= 0);
    fact("leak dlvsym %d", fd);
    dlerror();
    CHECK(dlsym(h, "fdleak_no_such_symbol") == NULL);
    const char *e = dlerror();
    fact("dlerror %d", e && strstr(e, "fdleak_no_such_symbol") ? 1 : 0);
    fact("same %d", dlsym(h, "open") == dlsym(RTLD_DEFAULT, "open"));
    return 0;
}

static int do_raw(int zero)
{
    if (zero)
        CHECK(close(0) == 0);
    int fd = (int)syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY);
    CHECK(fd >= 0 && (!zero || fd == 0));
    fact("unknown syscall %d", fd);
    return 0;
}

static int do_ioctl(long n)
{
    int p[2], avail = 0;
    CHECK(pipe(p) == 0);
    for (long i = 0; i < n; i++)
        CHECK(ioctl(p[0], FIONREAD, &avail) == 0);
    CHECK(close(p[0]) == 0 && close(p[1]) == 0);
    return avail;
}

int main(int argc, char **argv)
{
    fixture_init();
    CHECK(argc >= 2);
    if (!strcmp(argv[1], "fork") && argc == 3)
        return do_fork(argv[2]);
    if (!strcmp(argv[1], "stdio"))
        return do_stdio();
    if (!strcmp(argv[1], "kinds"))
        return do_kinds();
    if (!strcmp(argv[1], "dlsym") && argc == 3)
        return do_dlsym(argv[2]);
    if (!strcmp(argv[1], "raw") || !strcmp(argv[1], "raw0"))
        return do_raw(argv[1][3] == '0');
    if (!strcmp(argv[1], "dupin") && argc == 3) {
        int d = fcntl(atoi(argv[2]), F_DUPFD, 0);
        CHECK(d >= 0);
        fact("dupin fcntl %d", d);
        return 0;
    }
    if (!strcmp(argv[1], "ioctl") && argc == 3)
        return do_ioctl(atol(argv[2]));
    return 2;
}
