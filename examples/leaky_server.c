/* A small server-like program that forgets to close descriptors, for `make demo`:
 * it listens on 127.0.0.1, "serves" a few requests from a client it runs itself, and on the
 * way leaks one file per request (in the loop), one client socket, and one pipe.
 * Run it under fdleak:  build/fdleak run -- build/examples/leaky_server */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define REQUESTS 5

/* Appends a line to the request log. Bug: the log file is never closed. */
static void log_request(int n)
{
    char line[64];
    int fd = open("/tmp/leaky_server.log", O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd < 0)
        return;
    int len = snprintf(line, sizeof line, "request %d\n", n);
    if (write(fd, line, (size_t)len) < 0)
        perror("write");
    /* missing: close(fd); */
}

/* Connects a "client" to our own listener. */
static int connect_client(const struct sockaddr_in *addr)
{
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0 || connect(c, (const struct sockaddr *)addr, sizeof *addr) != 0)
        return -1;
    return c;
}

/* Starts a "worker" channel. Bug: neither end of the pipe is closed. */
static void start_worker(void)
{
    int p[2];
    if (pipe(p) != 0)
        perror("pipe");
}

int main(void)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        listen(listener, 8) != 0 || getsockname(listener, (struct sockaddr *)&addr, &len) != 0) {
        perror("listen");
        return 1;
    }
    int client = connect_client(&addr); /* bug: this client socket is never closed */
    int first = accept(listener, NULL, NULL);
    if (first >= 0)
        close(first);
    start_worker();
    for (int n = 1; n <= REQUESTS; n++) {
        int c = connect_client(&addr); /* a request, closed properly below */
        int conn = accept(listener, NULL, NULL);
        log_request(n);
        if (conn >= 0)
            close(conn);
        if (c >= 0)
            close(c);
    }
    (void)client;
    close(listener);
    printf("leaky_server: served %d requests on 127.0.0.1:%d\n", REQUESTS, ntohs(addr.sin_port));
    unlink("/tmp/leaky_server.log");
    return 0;
}
