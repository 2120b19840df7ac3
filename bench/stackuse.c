/* Row 1s of `make bench`: bytes of the program's stack an open+close takes. A thread runs on a
 * stack the program supplies, pre-filled with a pattern; three open+close pairs (the first in
 * a thread does the most), then the bytes from the bottom still holding the pattern are
 * counted. Static TLS and the thread descriptor sit at the top of such a stack (glibc), so a
 * library's TLS counts too, as it does for the program.
 *
 *   stackuse    prints `stack_used=BYTES` */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define STACK_BYTES (256 * 1024)
#define PATTERN 0xA5
#define PAIRS 3

static void *run(void *arg)
{
    (void)arg;
    for (int i = 0; i < PAIRS; i++) {
        int fd = open("/dev/null", O_RDONLY);
        if (fd >= 0)
            close(fd);
    }
    return NULL;
}

int main(void)
{
    unsigned char *st =
        mmap(NULL, STACK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (st == MAP_FAILED)
        return 1;
    memset(st, PATTERN, STACK_BYTES);
    pthread_attr_t at;
    pthread_t t;
    if (pthread_attr_init(&at) || pthread_attr_setstack(&at, st, STACK_BYTES) ||
        pthread_create(&t, &at, run, NULL) || pthread_join(t, NULL))
        return 1;
    size_t untouched = 0;
    while (untouched < STACK_BYTES && st[untouched] == PATTERN)
        untouched++;
    printf("stack_used=%zu\n", (size_t)STACK_BYTES - untouched);
    return 0;
}
