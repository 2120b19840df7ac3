/* Rows 5 and 6 of `make bench`: hold many live descriptors (one eventfd, then dup() of it,
 * the cheapest kind there is) acquired from a chosen number of distinct call paths, and
 * report the process's resident memory before and after, and the time of an on-demand dump.
 *
 *   fdmass N PATHS [dump]
 *     N      descriptors to hold (the soft RLIMIT_NOFILE is raised to fit, and the hard one
 *            too where that is allowed: CAP_SYS_RESOURCE, up to fs.nr_open)
 *     PATHS  distinct acquisition stacks: descriptor i is dup()ed at the end of call path
 *            i % PATHS, a binary recursion through two functions chosen by the bits of the
 *            path number (one frame per bit, so every path has a different stack)
 *     dump   after creating them, raise the shim's dump signal (SIGRTMAX-3, FDLEAK_SIGNAL's
 *            default) and time it: the handler writes the whole dump before raise() returns.
 *            Only meaningful under the shim (bare, the signal would kill the process).
 *
 * Output, one `key=value` per line: rss_before_kb, rss_after_kb, create_secs, [dump_secs],
 * then exit_mono_ns (CLOCK_MONOTONIC just before main returns, so that the caller can time
 * the exit dump as process end minus this). */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static int base_fd;
static long made;

static long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static long rss_kb(void)
{
    /* open/read into a stack buffer: no stdio buffer is allocated in between. */
    char buf[8192];
    int fd = open("/proc/self/status", O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t len = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (len <= 0)
        return -1;
    buf[len] = 0;
    const char *p = strstr(buf, "VmRSS:");
    return p ? atol(p + 6) : -1;
}

__attribute__((noinline)) static void leaf(void)
{
    int fd = dup(base_fd);
    if (fd < 0) {
        fprintf(stderr, "fdmass: dup failed after %ld descriptors: ", made);
        perror("");
        exit(1);
    }
    made++;
}

static long pb(int lvl, unsigned bits);

/* Two functions with two call sites each: the return addresses on the stack spell the bits. */
__attribute__((noinline)) static long pa(int lvl, unsigned bits)
{
    long r = 0;
    if (lvl == 0)
        leaf();
    else if (bits & 1)
        r = pa(lvl - 1, bits >> 1);
    else
        r = pb(lvl - 1, bits >> 1);
    __asm__ volatile("" : "+r"(r) : : "memory");
    return r + 1;
}

__attribute__((noinline)) static long pb(int lvl, unsigned bits)
{
    long r = 0;
    if (lvl == 0)
        leaf();
    else if (bits & 1)
        r = pb(lvl - 1, bits >> 1);
    else
        r = pa(lvl - 1, bits >> 1);
    __asm__ volatile("" : "+r"(r) : : "memory");
    return r + 1;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: fdmass N PATHS [dump]\n");
        return 2;
    }
    long n = atol(argv[1]);
    long paths = atol(argv[2]);
    int dump = argc > 3 && !strcmp(argv[3], "dump");
    if (n < 1 || paths < 1)
        return 2;
    int levels = 0;
    while ((1L << levels) < paths)
        levels++;

    /* Raise the hard limit too when allowed (root with CAP_SYS_RESOURCE, up to fs.nr_open);
     * otherwise the soft one up to the hard one, and dup() fails past it. */
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rlim_t want = (rlim_t)n + 64;
    if (rl.rlim_max < want) {
        struct rlimit up = {want, want};
        if (setrlimit(RLIMIT_NOFILE, &up) == 0)
            rl = up;
    }
    if (rl.rlim_cur < want) {
        rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            perror("fdmass: setrlimit");
            return 1;
        }
    }

    long before = rss_kb();
    long t0 = now_ns();
    base_fd = eventfd(0, 0);
    if (base_fd < 0) {
        perror("eventfd");
        return 1;
    }
    made = 1;
    for (long i = 1; i < n; i++)
        pa(levels, (unsigned)(i % paths));
    long t1 = now_ns();
    long after = rss_kb();
    printf("n=%ld\npaths=%ld\nrss_before_kb=%ld\nrss_after_kb=%ld\ncreate_secs=%.6f\n", made, paths,
           before, after, (double)(t1 - t0) * 1e-9);
    if (dump) {
        fflush(stdout);
        long d0 = now_ns();
        raise(SIGRTMAX - 3);
        long d1 = now_ns();
        printf("dump_secs=%.6f\n", (double)(d1 - d0) * 1e-9);
    }
    printf("exit_mono_ns=%ld\n", now_ns());
    fflush(stdout);
    return 0;
}
