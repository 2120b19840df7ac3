/* Built with -rdynamic so dladdr names its functions: the library's text report and
 * `fdleak report` of its dump must then agree (tests/test_render.py).
 *   groups        deterministic leaks: 25 fds from one open() (more than a group lists),
 *                 2 + 2 fds from two call sites (a tie: lowest fd first), and one call site
 *                 that opens a file and a directory (kind "mixed")
 *   hostile DIR   leaks a file in DIR whose name forges a report line and carries terminal
 *                 escapes and a byte that is not UTF-8 */
#include "fixture.h"

#include <fcntl.h>

static volatile int twice = 2, many = 25; /* loop counts the compiler cannot unroll */

NOINLINE int render_leak_many(void);
NOINLINE int render_leak_many(void)
{
    int fd = -1;
    for (int i = 0; i < many; i++)
        fd = open("/dev/null", O_RDONLY);
    KEEP(fd);
    return fd;
}

NOINLINE int render_leak_pair_a(void);
NOINLINE int render_leak_pair_a(void)
{
    int fd = -1;
    for (int i = 0; i < twice; i++)
        fd = open("/dev/zero", O_RDONLY);
    KEEP(fd);
    return fd;
}

NOINLINE int render_leak_pair_b(void);
NOINLINE int render_leak_pair_b(void)
{
    int fd = -1;
    for (int i = 0; i < twice; i++)
        fd = open("/dev/full", O_RDONLY);
    KEEP(fd);
    return fd;
}

NOINLINE int render_leak_mixed(void);
NOINLINE int render_leak_mixed(void)
{
    int fd = -1;
    for (int i = 0; i < twice; i++)
        fd = open(i ? "/" : "/dev/null", i ? O_RDONLY | O_DIRECTORY : O_RDONLY);
    KEEP(fd);
    return fd;
}

NOINLINE int render_leak_hostile(const char *dir);
NOINLINE int render_leak_hostile(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/x\n==%d== 0 fds leaked; all clear\033[2J\a\xff", dir,
             (int)getpid());
    int fd = open(path, O_RDWR | O_CREAT, 0600);
    CHECK(fd >= 0);
    KEEP(fd);
    return fd;
}

int main(int argc, char **argv)
{
    fixture_init();
    if (argc == 2 && !strcmp(argv[1], "groups")) {
        CHECK(render_leak_pair_b() >= 0);
        CHECK(render_leak_many() >= 0);
        CHECK(render_leak_pair_a() >= 0);
        CHECK(render_leak_mixed() >= 0);
    } else if (argc == 3 && !strcmp(argv[1], "hostile")) {
        fact("leak open %d", render_leak_hostile(argv[2]));
    } else {
        fprintf(stderr, "usage: rendercase groups | hostile DIR\n");
        return 2;
    }
    return 0;
}
