/* Row 4 of `make bench`: start a command N times, one after the other, and print the median
 * and mean wall time per run. The environment is passed on unchanged, so the caller chooses
 * bare or LD_PRELOAD. posix_spawn + waitpid: the loop itself adds the same cost to both.
 *
 *   spawnloop N CMD [ARGS...]
 *
 * With SPAWNLOOP_HOLD_FD=K in the environment, the loop first duplicates stdin to the lowest
 * free descriptor >= K, close-on-exec (as the shim places its reserve descriptor near the soft
 * limit), to show what a high descriptor number costs every spawn: the kernel's fd table grows
 * to hold it and each fork/posix_spawn copies it.
 *
 * Output: `runs=N median_us=... mean_us=... min_us=...`. */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: spawnloop N CMD [ARGS...]\n");
        return 2;
    }
    int n = atoi(argv[1]);
    if (n < 1 || n > 100000)
        return 2;
    const char *hold = getenv("SPAWNLOOP_HOLD_FD");
    if (hold && fcntl(0, F_DUPFD_CLOEXEC, atoi(hold)) < 0) {
        perror("spawnloop: F_DUPFD_CLOEXEC");
        return 1;
    }
    double *t = calloc((size_t)n, sizeof(double)), sum = 0;
    for (int i = 0; i < n; i++) {
        double t0 = now_us();
        pid_t pid;
        if (posix_spawn(&pid, argv[2], NULL, NULL, argv + 2, environ) != 0) {
            perror("posix_spawn");
            return 1;
        }
        int st;
        if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "spawnloop: %s failed\n", argv[2]);
            return 1;
        }
        t[i] = now_us() - t0;
        sum += t[i];
    }
    qsort(t, (size_t)n, sizeof(double), cmp);
    printf("runs=%d median_us=%.1f mean_us=%.1f min_us=%.1f\n", n, t[n / 2], sum / n, t[0]);
    return 0;
}
