/* Programs the library must not harm (tests/test_host_dump.py), each run bare and under the
 * library with the same expectations:
 * `journal <path>`: closes every descriptor from 3 up and opens its journal where the library
 *   once kept its reserve (4088), both with a raw syscall instruction no wrapper sees, then
 *   runs out of descriptors; prints `fd4088 <target>` at the end.
 * `fdlimit`: opens /dev/null until EMFILE; prints `opened N`, then every descriptor it holds
 *   as `fd N <target>` (one closed first, to list /proc/self/fd with).
 * `database <path>`: closes 0-2, reopens 0 and 1 on /dev/null and gets its database on fd 2,
 *   writes a record, leaks a descriptor, exits.
 * `leak`: leaks /dev/null and exits 0.
 * `truncmap <dir>`: maps a copy of its own executable PROT_READ|PROT_EXEC, truncates the copy
 *   to 0 bytes, exits 0.
 * `slowexit <dir> <n>`: leaks n descriptors; a thread watching <dir> sends the process SIGTERM
 *   as soon as a file there is first written (the exit dump), so it lands mid-dump.
 * `dropuser`: leaks a descriptor, changes its user to 65534, exits.
 * `fork`: prints `pid <pid>`, forks; the child prints `child <pid>` and exits with _exit(0). */
#include "fixture.h"

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static void print_target(const char *what, int fd)
{
    char p[64], t[512];
    snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(p, t, sizeof(t) - 1);
    t[n > 0 ? n : 0] = 0;
    fact("%s %s", what, n > 0 ? t : "(closed)");
}

/* A system call that no wrapper sees, not even one of syscall(3): as Go's runtime or a
 * static helper makes it. */
static long raw_syscall4(long nr, long a, long b, long c, long d)
{
    long ret;
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10)
                     : "rcx", "r11", "memory");
    return ret;
}

static int journal(const char *path)
{
    /* whatever a library opened on its first use goes too, as in a daemon's start-up */
    int warm = open("/dev/null", O_RDONLY);
    CHECK(warm >= 0 && close(warm) == 0);
    CHECK(raw_syscall4(SYS_close_range, 3, (long)~0U, 0, 0) == 0);
    /* fill 3..4087 so that the journal lands on 4088 */
    static int fill[4096];
    int nfill = 0;
    for (;;) {
        int fd = open("/dev/null", O_RDONLY);
        CHECK(fd >= 0);
        fill[nfill++] = fd;
        if (fd == 4087 || nfill == 4095)
            break;
    }
    int j =
        (int)raw_syscall4(SYS_openat, AT_FDCWD, (long)path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    CHECK(j >= 0);
    fact("journal %d", j);
    for (int i = 0; i < nfill; i++)
        CHECK(close(fill[i]) == 0);
    CHECK(write(j, "before\n", 7) == 7);
    int n = 0;
    while (open("/dev/null", O_RDONLY) >= 0)
        n++;
    CHECK(errno == EMFILE);
    fact("opened %d", n);
    CHECK(write(j, "after\n", 6) == 6);
    print_target("fd4088", 4088);
    return 0;
}

static int fdlimit(void)
{
    int n = 0, last = -1;
    for (;;) {
        int fd = open("/dev/null", O_RDONLY);
        if (fd < 0)
            break;
        last = fd;
        n++;
    }
    CHECK(errno == EMFILE);
    fact("opened %d", n);
    CHECK(close(last) == 0);
    DIR *d = opendir("/proc/self/fd");
    CHECK(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9' || atoi(e->d_name) == dirfd(d))
            continue;
        int fd = atoi(e->d_name);
        char what[32];
        snprintf(what, sizeof(what), "fd %d", fd);
        print_target(what, fd);
    }
    closedir(d);
    return 0;
}

static int database(const char *path)
{
    close(0);
    close(1);
    close(2);
    CHECK(open("/dev/null", O_RDONLY) == 0);
    CHECK(open("/dev/null", O_WRONLY) == 1);
    int db = open(path, O_RDWR | O_CREAT | O_APPEND, 0600);
    if (db != 2)
        return 98;
    CHECK(write(db, "record 1\n", 9) == 9);
    CHECK(open("/dev/null", O_RDONLY) == 3); /* leaked */
    return 0;
}

static int truncmap(const char *dir)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/copy", dir);
    int in = open("/proc/self/exe", O_RDONLY), out = open(path, O_RDWR | O_CREAT | O_TRUNC, 0700);
    CHECK(in >= 0 && out >= 0);
    char buf[65536];
    ssize_t r;
    size_t total = 0;
    while ((r = read(in, buf, sizeof(buf))) > 0) {
        CHECK(write(out, buf, (size_t)r) == r);
        total += (size_t)r;
    }
    void *m = mmap(NULL, total, PROT_READ | PROT_EXEC, MAP_PRIVATE, out, 0);
    CHECK(m != MAP_FAILED);
    CHECK(ftruncate(out, 0) == 0);
    close(in);
    close(out);
    fact("mapped %p", m);
    return 0;
}

static int watch_fd;

static void *terminator(void *arg)
{
    (void)arg;
    char ev[4096];
    /* the first write into the dump directory: the exit dump has begun */
    if (read(watch_fd, ev, sizeof(ev)) > 0)
        kill(getpid(), SIGTERM);
    return NULL;
}

static int slowexit(const char *dir, int n)
{
    for (int i = 0; i < n; i++)
        CHECK(open("/dev/null", O_RDONLY) >= 0);
    watch_fd = inotify_init1(IN_CLOEXEC);
    CHECK(watch_fd >= 0);
    CHECK(inotify_add_watch(watch_fd, dir, IN_MODIFY) >= 0);
    sigset_t term, old;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &term, &old); /* the thread inherits it: SIGTERM goes to main */
    pthread_t t;
    CHECK(pthread_create(&t, NULL, terminator, NULL) == 0);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    fact("leaked %d", n);
    exit(0);
}

int main(int argc, char **argv)
{
    fixture_init();
    CHECK(argc >= 2);
    const char *mode = argv[1];
    if (!strcmp(mode, "journal") && argc == 3)
        return journal(argv[2]);
    if (!strcmp(mode, "fdlimit"))
        return fdlimit();
    if (!strcmp(mode, "database") && argc == 3)
        return database(argv[2]);
    if (!strcmp(mode, "leak")) {
        CHECK(open("/dev/null", O_RDONLY) >= 0);
        return 0;
    }
    if (!strcmp(mode, "truncmap") && argc == 3)
        return truncmap(argv[2]);
    if (!strcmp(mode, "slowexit") && argc == 4)
        return slowexit(argv[2], atoi(argv[3]));
    if (!strcmp(mode, "dropuser")) {
        CHECK(open("/dev/null", O_RDONLY) >= 0);
        CHECK(setresgid(65534, 65534, 65534) == 0);
        CHECK(setresuid(65534, 65534, 65534) == 0);
        return 0;
    }
    if (!strcmp(mode, "fork")) {
        fact("pid %d", (int)getpid());
        pid_t p = fork();
        CHECK(p >= 0);
        if (p == 0) {
            fact("child %d", (int)getpid());
            _exit(0);
        }
        int st;
        CHECK(waitpid(p, &st, 0) == p);
        return 0;
    }
    return 2;
}
