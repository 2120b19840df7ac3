/* Descriptor misuse, one scenario per argument (tests/test_misuse.py): double close by each
 * close-family call, bad descriptors, use after close, closing what a FILE* or DIR* owns, and
 * negative controls that must stay silent. Prints `ret <what> <value> <errno>` for every call
 * whose result the tests compare between a bare run and a run under the library. */
#include "fixture.h"

#include <dirent.h>
#include <linux/close_range.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static void ret(const char *what, long r)
{
    fact("ret %s %ld %d", what, r, r < 0 ? errno : 0);
}

NOINLINE static int openfile(void)
{
    return creat("/tmp/fdleak-misuse-test", 0600);
}

NOINLINE static void closefile(int fd)
{
    errno = 0;
    ret("close", close(fd));
}

NOINLINE static void misuse_close_twice(void)
{
    int fd = openfile();
    fact("fd %d", fd);
    close(fd);
    closefile(fd);
}

NOINLINE static void misuse_fclose_after_close(void)
{
    FILE *fp = fopen("/dev/null", "r");
    int fd = fileno(fp);
    fact("fd %d", fd);
    ret("close", close(fd));   /* owned_close */
    ret("fclose", fclose(fp)); /* double close */
}

NOINLINE static void misuse_closedir_after_close(void)
{
    DIR *d = opendir("/");
    int fd = dirfd(d);
    fact("fd %d", fd);
    ret("close", close(fd));
    ret("closedir", closedir(d));
}

NOINLINE static void misuse_dup2_onto_file(void)
{
    FILE *fp = fopen("/dev/null", "r");
    int fd = fileno(fp), other = open("/dev/null", O_RDONLY);
    fact("fd %d", fd);
    ret("dup2", dup2(other, fd));
    ret("fclose", fclose(fp));
    close(other);
}

NOINLINE static void misuse_range_twice(void)
{
    int a = open("/dev/null", O_RDONLY), b = open("/dev/null", O_RDONLY);
    fact("fd %d", a);
    fact("fd %d", b);
    int top = b + 3; /* two numbers past b were never open */
    ret("close_range", close_range(a, top, 0));
    ret("close_range", close_range(a, top, 0));
}

NOINLINE static void misuse_bad(void)
{
    ret("close", close(-1));
    ret("fcntl", fcntl(-1, F_GETFD));
    ret("dup2", dup2(-5, 10));
    ret("close", close(900)); /* never opened */
}

NOINLINE static void misuse_use_after_close(void)
{
    int fd = open("/dev/null", O_RDONLY);
    fact("fd %d", fd);
    close(fd);
    ret("fcntl", fcntl(fd, F_GETFD));
    ret("dup", dup(fd));
}

NOINLINE static void misuse_inherited_twice(int fd)
{
    /* fd was opened by the test before exec: inherited */
    close(fd);
    ret("close", close(fd));
}

/* ---- use after close by the calls that use a descriptor ---- */

NOINLINE static int open_rw(void)
{
    return open("/dev/zero", O_RDWR);
}

NOINLINE static void close_it(int fd)
{
    ret("close", close(fd));
}

NOINLINE static void use_file(int fd)
{
    char c = 0;
    struct stat st;
    ret("read", read(fd, &c, 1));
    ret("write", write(fd, &c, 1));
    ret("fstat", fstat(fd, &st));
    ret("lseek", lseek(fd, 0, SEEK_SET));
    void *m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
    ret("mmap", m == MAP_FAILED ? -1 : 0);
}

NOINLINE static void use_socket(int fd)
{
    char c = 0;
    ret("send", send(fd, &c, 1, 0));
    ret("recv", recv(fd, &c, 1, MSG_DONTWAIT));
}

NOINLINE static void use_epoll(int ep, int fd)
{
    struct epoll_event ev = {.events = EPOLLIN};
    ret("epoll_ctl", epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
}

NOINLINE static void misuse_use_io(void)
{
    int fd = open_rw();
    fact("fd %d", fd);
    close_it(fd);
    use_file(fd);
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    fact("sock %d", sv[0]);
    close_it(sv[0]);
    use_socket(sv[0]);
    int ep = epoll_create1(0), t = open_rw();
    fact("target %d", t);
    close_it(t);
    use_epoll(ep, t);
    close(sv[1]);
    close(ep);
}

/* Numbers never opened: bad_fd, not use_after_close. */
NOINLINE static void misuse_bad_io(void)
{
    char c = 0;
    ret("read", read(900, &c, 1));
    ret("write", write(901, &c, 1));
}

static void on_alarm(int sig)
{
    (void)sig;
}

/* ---- negative controls ---- */

NOINLINE static void silent(void)
{
    int fd = open("/dev/null", O_RDONLY);
    ret("close", close(fd));
    FILE *fp = fdopen(open("/dev/null", O_RDONLY), "r");
    ret("fclose", fclose(fp));
    ret("close_range", close_range(500, 510, 0));
    fd = open("/dev/null", O_RDONLY);
    ret("dup2", dup2(fd, fd));
    close(fd);
    int p[2];
    pipe2(p, O_NONBLOCK);
    char c;
    ret("read", read(p[0], &c, 1));    /* EAGAIN */
    ret("recv", recv(p[0], &c, 1, 0)); /* ENOTSOCK */
    close(p[0]);
    close(p[1]);
    /* EINTR: a blocking read interrupted by a handler without SA_RESTART */
    struct sigaction sa = {.sa_handler = on_alarm};
    sigaction(SIGALRM, &sa, NULL);
    pipe(p);
    ualarm(50000, 0);
    ret("read", read(p[0], &c, 1));
    close(p[0]);
    close(p[1]);
    for (int i = 0; i < 3; i++) {
        close(i);
        ret("reopen", open("/dev/null", O_RDWR));
    }
    DIR *d = opendir("/");
    ret("closedir", closedir(d));
    closefrom(3);
}

static void *thread_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < 1000; i++) {
        int fd = open("/dev/null", O_RDONLY);
        close(fd);
    }
    return NULL;
}

NOINLINE static void silent_threads(void)
{
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, thread_main, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
}

NOINLINE static void fork_child_double(void)
{
    int fd = open("/dev/null", O_RDONLY);
    close(fd);
    pid_t pid = fork();
    if (pid == 0) {
        fact("child %d", (int)getpid());
        close(fd);
        exit(0);
    }
    waitpid(pid, NULL, 0);
}

int main(int argc, char **argv)
{
    fixture_init();
    fact("pid %d", (int)getpid());
    const char *m = argc > 1 ? argv[1] : "";
    if (!strcmp(m, "close_twice"))
        misuse_close_twice();
    else if (!strcmp(m, "fclose_after_close"))
        misuse_fclose_after_close();
    else if (!strcmp(m, "closedir_after_close"))
        misuse_closedir_after_close();
    else if (!strcmp(m, "dup2_onto_file"))
        misuse_dup2_onto_file();
    else if (!strcmp(m, "range_twice"))
        misuse_range_twice();
    else if (!strcmp(m, "bad"))
        misuse_bad();
    else if (!strcmp(m, "use_after_close"))
        misuse_use_after_close();
    else if (!strcmp(m, "use_io"))
        misuse_use_io();
    else if (!strcmp(m, "bad_io"))
        misuse_bad_io();
    else if (!strcmp(m, "inherited_twice"))
        misuse_inherited_twice(argc > 2 ? atoi(argv[2]) : 7);
    else if (!strcmp(m, "silent"))
        silent();
    else if (!strcmp(m, "threads"))
        silent_threads();
    else if (!strcmp(m, "fork"))
        fork_child_double();
    else if (!strcmp(m, "repeat")) {
        for (volatile int i = 0; i < 5; i++) /* not unrolled: one call site */
            misuse_close_twice();
    }
    return 0;
}
