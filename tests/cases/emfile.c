/* Exhaustion. `emfile once`: opens /dev/null in exhaust() until EMFILE, then keeps hitting
 * EMFILE (open, socket, pipe, dup) 50 more times, holding every descriptor to the end.
 * `emfile rearm`: exhausts, closes everything it opened, exhausts again.
 * `emfile lower` / `lower_hard`: lowers the soft (and hard) RLIMIT_NOFILE to 32 itself first,
 * then as `once`. `emfile die`: exhausts, then dies of SIGTERM. `emfile hold`: exhausts, prints
 * `ready`, waits for a line on stdin. Run it at a low RLIMIT_NOFILE (the test uses 64). */
#include "fixture.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>

static int held[100000];
static int nheld;

NOINLINE static int exhaust(void)
{
    int n = 0;
    for (int i = 0; i < 100000; i++) {
        int fd = open("/dev/null", O_RDONLY);
        if (fd < 0) {
            CHECK(errno == EMFILE);
            break;
        }
        held[nheld++] = fd;
        n++;
    }
    return n;
}

int main(int argc, char **argv)
{
    fixture_init();
    CHECK(argc == 2);
    if (strncmp(argv[1], "lower", 5) == 0) {
        /* the program lowers its own limit after the shim started: `lower` the soft limit
         * only, `lower_hard` both */
        struct rlimit rl;
        CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
        rl.rlim_cur = 32;
        if (strcmp(argv[1], "lower_hard") == 0)
            rl.rlim_max = 32;
        CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    }
    int n = exhaust();
    fact("opened %d", n);
    if (strcmp(argv[1], "die") == 0) {
        for (int i = 0; i < nheld; i++)
            fact("leak open %d", held[i]);
        raise(SIGTERM);
        return 3;
    }
    if (strcmp(argv[1], "hold") == 0) {
        for (int i = 0; i < nheld; i++)
            fact("leak open %d", held[i]);
        fact("ready %d", (int)getpid());
        char buf[16];
        for (int i = 0; i < 1000; i++) {
            ssize_t r = read(0, buf, sizeof buf);
            if (r >= 0 || errno != EINTR)
                break;
        }
        return 0;
    }
    if (strcmp(argv[1], "rearm") == 0) {
        for (int i = 0; i < nheld; i++)
            CHECK(close(held[i]) == 0);
        nheld = 0;
        fact("closed all");
        n = exhaust();
        fact("opened %d", n);
    } else {
        int p[2], fails = 0;
        for (int i = 0; i < 50; i++) {
            fails += open("/dev/null", O_RDONLY) < 0 && errno == EMFILE;
            fails += socket(AF_UNIX, SOCK_DGRAM, 0) < 0 && errno == EMFILE;
            fails += pipe(p) < 0 && errno == EMFILE;
            fails += dup(0) < 0 && errno == EMFILE;
        }
        fact("emfile_failures %d", fails);
    }
    for (int i = 0; i < nheld; i++)
        fact("leak open %d", held[i]);
    return 0;
}
