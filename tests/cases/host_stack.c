/* Stack the program gives a wrapped call: open() from a handler on an 8 KiB signal stack,
 * from a thread with a 16 KiB stack, and the bytes of stack an open+close touches.
 * Usage: host_stack altstack|thread|measure FILE */
#include "fixture.h"

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>

#define ALT_BYTES 8192     /* the classic SIGSTKSZ */
#define THREAD_BYTES 16384 /* PTHREAD_STACK_MIN */
#define MEASURE_BYTES (256 * 1024)
#define PATTERN 0xA5

static const char *path;
static volatile int handler_fd = -1;

NOINLINE static int handler_open(void)
{
    int fd = open(path, O_RDONLY);
    KEEP(fd);
    return fd;
}

static void on_usr1(int sig)
{
    (void)sig;
    handler_fd = handler_open();
}

NOINLINE static void *thread_open(void *arg)
{
    (void)arg;
    int fd = open(path, O_RDONLY);
    KEEP(fd);
    return (void *)(intptr_t)fd;
}

static int run_thread(void *stack, size_t size, void *(*fn)(void *))
{
    pthread_attr_t at;
    CHECK(pthread_attr_init(&at) == 0);
    CHECK(pthread_attr_setstack(&at, stack, size) == 0);
    pthread_t t;
    CHECK(pthread_create(&t, &at, fn, NULL) == 0);
    void *r;
    CHECK(pthread_join(t, &r) == 0);
    return (int)(intptr_t)r;
}

NOINLINE static void *measured(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++) { /* the first capture in a thread does the most */
        int fd = open(path, O_RDONLY);
        CHECK(fd >= 0);
        close(fd);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    fixture_init();
    CHECK(argc == 3);
    path = argv[2];
    if (!strcmp(argv[1], "altstack")) {
        stack_t ss = {.ss_sp = mmap(NULL, ALT_BYTES, PROT_READ | PROT_WRITE,
                                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
                      .ss_size = ALT_BYTES};
        CHECK(ss.ss_sp != MAP_FAILED && sigaltstack(&ss, NULL) == 0);
        struct sigaction sa = {.sa_handler = on_usr1, .sa_flags = SA_ONSTACK};
        CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
        CHECK(raise(SIGUSR1) == 0);
        CHECK(handler_fd >= 0);
        fact("leak open %d", handler_fd);
    } else if (!strcmp(argv[1], "thread")) {
        void *st =
            mmap(NULL, THREAD_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        CHECK(st != MAP_FAILED);
        int fd = run_thread(st, THREAD_BYTES, thread_open);
        CHECK(fd >= 0);
        fact("leak open %d", fd);
    } else {
        /* Pre-fill, run, and count from the bottom the bytes no longer holding the pattern. */
        unsigned char *st =
            mmap(NULL, MEASURE_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        CHECK(st != MAP_FAILED);
        memset(st, PATTERN, MEASURE_BYTES);
        run_thread(st, MEASURE_BYTES, measured);
        size_t untouched = 0;
        while (untouched < MEASURE_BYTES && st[untouched] == PATTERN)
            untouched++;
        fact("stack_used %zu", (size_t)MEASURE_BYTES - untouched);
    }
    return 0;
}
