/* Helpers shared by the fdleak command: messages, allocation, signal names. */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

void fdt_msg(const char *fmt, ...)
{
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "fdleak: %s\n", line);
}

static void fdt_oom(void)
{
    fputs("fdleak: out of memory\n", stderr);
    exit(1);
}

void *fdt_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        fdt_oom();
    return p;
}

void *fdt_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        fdt_oom();
    return p;
}

void *fdt_xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        fdt_oom();
    return p;
}

char *fdt_xstrdup(const char *s)
{
    char *p = strdup(s ? s : "");
    if (!p)
        fdt_oom();
    return p;
}

char *fdt_xasprintf(const char *fmt, ...)
{
    char *p;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&p, fmt, ap);
    va_end(ap);
    if (n < 0)
        fdt_oom();
    return p;
}

int fdt_parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    if (!s || !*s)
        return -1;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

char fdt_proc_state(const char *path)
{
    char buf[512];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    const char *paren = strrchr(buf, ')'); /* the name may hold anything but ends there */
    return paren && paren[1] == ' ' ? paren[2] : 0;
}
