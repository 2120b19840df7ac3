/* Fatal signals. `fatal SIG`: leaks a descriptor, then dies of SIG (TERM, INT, HUP, QUIT by
 * raise; ABRT by abort(); SEGV by a null write; BUS by touching a truncated mapping).
 * `fatal SEGV_THREAD`: a second thread segfaults while main churns open/close.
 * `fatal ignored`: SIGTERM set to SIG_IGN, raised, exits 0. `fatal handled_segv`: its own SIGSEGV
 * handler prints and _exit(7)s. `fatal handled`: installs its own SIGTERM handler, raises SIGTERM,
 * and exits 0. */
#include "fixture.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>

static int *volatile null_target;

NOINLINE static int leak_before_death(void)
{
    int fd = open("/dev/null", O_RDONLY);
    KEEP(fd);
    return fd;
}

static volatile sig_atomic_t handled;

static void *crash_thread(void *arg)
{
    (void)arg;
    usleep(20000);
    *null_target = 1;
    return NULL;
}
static void on_segv(int sig)
{
    (void)sig;
    static const char msg[] = "caught segv\n";
    if (write(1, msg, sizeof msg - 1) < 0)
        _exit(8);
    _exit(7);
}

static void on_term(int sig)
{
    (void)sig;
    handled = 1;
}

int main(int argc, char **argv)
{
    fixture_init();
    CHECK(argc == 2);
    int fd = leak_before_death();
    CHECK(fd >= 0);
    fact("leak open %d", fd);
    const char *s = argv[1];
    if (strcmp(s, "ignored") == 0) {
        signal(SIGTERM, SIG_IGN);
        raise(SIGTERM);
        fact("ignored");
        return 0;
    }
    if (strcmp(s, "handled_segv") == 0) {
        struct sigaction sa = {0};
        sa.sa_handler = on_segv;
        CHECK(sigaction(SIGSEGV, &sa, NULL) == 0);
        *null_target = 1;
        return 3;
    }
    if (strcmp(s, "handled") == 0) {
        struct sigaction sa = {0};
        sa.sa_handler = on_term;
        CHECK(sigaction(SIGTERM, &sa, NULL) == 0);
        raise(SIGTERM);
        fact("handled %d", (int)handled);
        return 0;
    }
    if (strcmp(s, "TERM") == 0)
        raise(SIGTERM);
    else if (strcmp(s, "INT") == 0)
        raise(SIGINT);
    else if (strcmp(s, "HUP") == 0)
        raise(SIGHUP);
    else if (strcmp(s, "QUIT") == 0)
        raise(SIGQUIT);
    else if (strcmp(s, "ABRT") == 0)
        abort();
    else if (strcmp(s, "SEGV") == 0)
        *null_target = 1;
    else if (strcmp(s, "SEGV_THREAD") == 0) {
        /* SIGSEGV in a second thread while the main thread churns open/close */
        pthread_t t;
        CHECK(pthread_create(&t, NULL, crash_thread, NULL) == 0);
        for (int i = 0; i < 2000000; i++) {
            int f = open("/dev/null", O_RDONLY);
            if (f >= 0)
                close(f);
        }
    } else if (strcmp(s, "BUS") == 0) {
        FILE *t = tmpfile();
        CHECK(t);
        fact("leak tmpfile %d", fileno(t));
        volatile char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fileno(t), 0);
        CHECK(m != MAP_FAILED);
        m[4096] = 1;
    }
    fact("survived");
    return 3;
}
