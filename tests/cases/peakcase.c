/* The peak of live descriptors: `peakcase N M` opens N files, then closes M of them before
 * exit; `peakcase N atexit` opens N and closes them all from an atexit hook (the final dump
 * then holds none: only an earlier dump shows the pile). */
#include "fixture.h"

static int fds[100000];
static int nfds;

static void close_all(void)
{
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
}

static NOINLINE void pile_up(int n)
{
    for (nfds = 0; nfds < n; nfds++)
        fds[nfds] = open("/dev/null", O_RDONLY); /* MARK:pile_open */
}

int main(int argc, char **argv)
{
    fixture_init();
    int n = argc > 1 ? atoi(argv[1]) : 100;
    if (n > 100000)
        n = 100000;
    if (argc > 2 && !strcmp(argv[2], "atexit")) {
        atexit(close_all);
        pile_up(n);
        return 0;
    }
    int m = argc > 2 ? atoi(argv[2]) : 0;
    pile_up(n);
    for (int i = 0; i < m && i < n; i++)
        close(fds[i]);
    return 0;
}
