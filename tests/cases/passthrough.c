/* Variadic and pointer arguments must reach libc unchanged through the wrappers: modes of
 * O_CREAT/O_TMPFILE for open/open64/openat/openat64, fcntl/fcntl64 commands with int and
 * struct arguments, mq_open with attributes. Prints results; the test compares them with and
 * without the shim. Usage: passthrough DIR */
#include "fixture.h"

#include <fcntl.h>
#include <mqueue.h>
#include <sys/stat.h>

static char dir[4000];

static void show_mode(const char *what, int fd)
{
    struct stat st;
    CHECK(fstat(fd, &st) == 0);
    fact("mode %s %o", what, (unsigned)(st.st_mode & 07777));
}

static void named(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", dir, name);
}

int main(int argc, char **argv)
{
    fixture_init();
    CHECK(argc == 2 && strlen(argv[1]) < sizeof dir - 64);
    snprintf(dir, sizeof dir, "%s", argv[1]);
    umask(022);
    char p[4096];
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    CHECK(dfd >= 0);

    named(p, sizeof p, "c1");
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0604);
    CHECK(fd >= 0);
    show_mode("open_creat", fd);
    named(p, sizeof p, "c2");
    fd = open64(p, O_WRONLY | O_CREAT | O_EXCL, 0640);
    CHECK(fd >= 0);
    show_mode("open64_creat", fd);
    fd = openat(dfd, "c3", O_WRONLY | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0);
    show_mode("openat_creat", fd);
    fd = openat64(dfd, "c4", O_WRONLY | O_CREAT | O_EXCL, 0444);
    CHECK(fd >= 0);
    show_mode("openat64_creat", fd);
    fd = open(dir, O_TMPFILE | O_RDWR, 0610);
    if (fd >= 0)
        show_mode("open_tmpfile", fd);
    else
        fact("mode open_tmpfile errno %d", errno);
    fd = openat(dfd, ".", O_TMPFILE | O_RDWR, 0650);
    if (fd >= 0)
        show_mode("openat_tmpfile", fd);
    else
        fact("mode openat_tmpfile errno %d", errno);
    named(p, sizeof p, "c5");
    fd = creat(p, 0751);
    CHECK(fd >= 0);
    show_mode("creat", fd);

    /* fcntl with int and struct arguments */
    named(p, sizeof p, "lock");
    int lf = open(p, O_RDWR | O_CREAT, 0600);
    CHECK(lf >= 0 && write(lf, "0123456789", 10) == 10);
    struct flock fl = {0};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = 2;
    fl.l_len = 5;
    fact("fcntl F_SETLK %d", fcntl(lf, F_SETLK, &fl));
    struct flock q = {0};
    q.l_type = F_WRLCK;
    q.l_whence = SEEK_SET;
    q.l_start = 0;
    q.l_len = 10;
    fact("fcntl F_OFD_GETLK %d type %d start %ld len %ld", fcntl(lf, F_OFD_GETLK, &q), q.l_type,
         (long)q.l_start, (long)q.l_len);
    fact("fcntl F_SETFL %d", fcntl(lf, F_SETFL, O_NONBLOCK | O_APPEND));
    fact("fcntl F_GETFL %o", fcntl(lf, F_GETFL) & (O_NONBLOCK | O_APPEND | O_ACCMODE));
    fact("fcntl64 F_SETFL %d", fcntl64(lf, F_SETFL, O_APPEND));
    fact("fcntl64 F_GETFL %o", fcntl64(lf, F_GETFL) & (O_NONBLOCK | O_APPEND | O_ACCMODE));
    int pp[2];
    CHECK(pipe(pp) == 0);
    fact("fcntl F_SETPIPE_SZ %d", fcntl(pp[0], F_SETPIPE_SZ, 1 << 16));
    fact("fcntl F_GETPIPE_SZ %d", fcntl(pp[0], F_GETPIPE_SZ));
    fact("fcntl F_SETOWN %d", fcntl(lf, F_SETOWN, getpid()) == 0);
    fact("fcntl F_GETOWN %d", fcntl(lf, F_GETOWN) == getpid());
    int d = fcntl(lf, F_DUPFD_CLOEXEC, 100);
    fact("fcntl F_DUPFD_CLOEXEC %d flags %d", d, fcntl(d, F_GETFD));

    /* mq_open with attributes */
    char name[64];
    snprintf(name, sizeof name, "/fdleak-pass-%d", (int)getpid());
    struct mq_attr attr = {0};
    attr.mq_maxmsg = 3;
    attr.mq_msgsize = 64;
    mqd_t mq = mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
    if (mq != (mqd_t)-1) {
        struct mq_attr got;
        CHECK(mq_getattr(mq, &got) == 0);
        fact("mq maxmsg %ld msgsize %ld", got.mq_maxmsg, got.mq_msgsize);
        mq_unlink(name);
    } else {
        fact("mq errno %d", errno);
    }
    return 0;
}
