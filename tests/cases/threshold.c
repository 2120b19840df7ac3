/* Threshold crossings. `threshold up N`: opens N descriptors in climb() and keeps them.
 * `threshold twice N LOW`: opens N, closes down to LOW (counting only its own), opens N again.
 * Prints `leak open <fd>` for what it still holds at exit. */
#include "fixture.h"

#include <fcntl.h>

static int held[4096];
static int nheld;

NOINLINE static void climb(int n)
{
    for (int i = 0; i < n && nheld < 4096; i++) {
        int fd = open("/dev/null", O_RDONLY);
        CHECK(fd >= 0);
        held[nheld++] = fd;
    }
}

int main(int argc, char **argv)
{
    fixture_init();
    CHECK(argc >= 3);
    int n = atoi(argv[2]);
    climb(n);
    if (strcmp(argv[1], "twice") == 0) {
        CHECK(argc == 4);
        int low = atoi(argv[3]);
        while (nheld > low)
            CHECK(close(held[--nheld]) == 0);
        fact("dropped to %d", nheld);
        climb(n - nheld);
    }
    for (int i = 0; i < nheld; i++)
        fact("leak open %d", held[i]);
    return 0;
}
