/* The C API (include/fdleak.h) as a unit-test framework's listener would use it: a checkpoint
 * before each test, and after it a raw dump of what the test left open, written to
 * <dir>/<test>.json when something was. Two tests: one leaks a file (and a reused descriptor
 * number in between must not hide it), one closes everything. Facts:
 * `available 0|1`, `test <name> leaked <n>` (n = -1 with `errno <e>` when unavailable),
 * `leak open <fd> <path>`. Usage: api_listener DIR. Built without linking the library: the
 * functions are weak, so it also runs without it. */
#include "fixture.h"

#include <fdleak.h>

static char dir[512];

static NOINLINE void test_leaky(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s/leaky.txt", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    fact("leak open %d %s", fd, path);
}

static NOINLINE void test_clean(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s/clean.txt", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    close(fd);
    int p[2];
    if (pipe(p) == 0)
        close(p[0]), close(p[1]);
}

/* The listener: what a gtest TestEventListener or a cmocka setup/teardown pair would do. */
static void run_test(const char *name, void (*fn)(void))
{
    uint64_t cp = fdleak_begin();
    fn();
    char out[600];
    snprintf(out, sizeof out, "%s/%s.json", dir, name);
    int n = fdleak_leaks_since(cp, -1, FDLEAK_COUNT_ONLY);
    if (n < 0) {
        fact("test %s leaked -1", name);
        fact("errno %d", errno);
        return;
    }
    if (n > 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        n = fdleak_leaks_since(cp, fd, 0);
        close(fd);
    }
    fact("test %s leaked %d", name, n);
}

int main(int argc, char **argv)
{
    fixture_init();
    if (argc < 2)
        return 2;
    snprintf(dir, sizeof dir, "%s", argv[1]);
    fact("available %d", fdleak_available());
    /* A descriptor opened and closed before the checkpoint: the leak reuses its number. */
    char path[600];
    snprintf(path, sizeof path, "%s/before.txt", dir);
    close(open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600));
    run_test("leaky", test_leaky);
    run_test("clean", test_clean);
    return 0;
}
