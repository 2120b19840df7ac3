/* A slowly leaking server for `fdleak watch` and `fdleak diff`: it listens on 127.0.0.1 only,
 * connects to itself once a tick, serves and closes that connection properly, but
 * log_request() leaks one file per request. Two files opened at start stay open (a group that
 * does not grow). Bounded: it stops after argv[1] ticks (default 400) of argv[2] ms (default
 * 50), or as soon as its stdin closes. Prints `ready PORT` once listening. */
#include "fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

static char log_path[64];

static NOINLINE void log_request(int n)
{
    int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600); /* MARK:log_open */
    if (fd >= 0 && dprintf(fd, "request %d\n", n) < 0)
        fact("write failed");
    /* forgot close(fd) */
}

static NOINLINE void open_config(void)
{
    for (int i = 0; i < 2; i++)
        if (open("/dev/null", O_RDONLY) < 0) /* MARK:config_open */
            fact("open failed");
}

static NOINLINE void serve_one(int lfd, struct sockaddr_in *addr, int n)
{
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0 || connect(c, (struct sockaddr *)addr, sizeof *addr) != 0) {
        if (c >= 0)
            close(c);
        return;
    }
    int s = accept(lfd, NULL, NULL);
    if (s >= 0) {
        log_request(n);
        close(s);
    }
    close(c);
}

int main(int argc, char **argv)
{
    fixture_init();
    long ticks = argc > 1 ? atol(argv[1]) : 400, ms = argc > 2 ? atol(argv[2]) : 50;
    snprintf(log_path, sizeof log_path, "/tmp/fdleak-slowleak.%d.log", (int)getpid());
    open_config();
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(lfd, 8) != 0 ||
        getsockname(lfd, (struct sockaddr *)&addr, &len) != 0) {
        perror("listen");
        return 1;
    }
    fact("ready %d", ntohs(addr.sin_port));
    for (long i = 0; i < ticks; i++) {
        serve_one(lfd, &addr, (int)i);
        struct pollfd p = {.fd = 0, .events = POLLIN};
        /* a snapshot's signal may cut the wait short: that tick is only shorter */
        if (poll(&p, 1, (int)ms) > 0) {
            char b[64];
            if (read(0, b, sizeof b) <= 0)
                break;
        }
    }
    unlink(log_path);
    return 0;
}
