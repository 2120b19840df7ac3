/* The descriptor numbers a program gets must not change under the shim, and the shim's own
 * descriptors never show in a dump. Prints `fdnums ...` for open/open/close/open/socket/pipe and
 * `fds ...`: the program's view of /proc/self/fd at the end (its listing fd excluded). */
#include "fixture.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/socket.h>

int main(void)
{
    fixture_init();
    int a = open("/etc/hostname", O_RDONLY);
    int b = open("/dev/null", O_RDONLY);
    CHECK(a >= 0 && b >= 0 && close(a) == 0);
    int c = open("/dev/null", O_WRONLY);
    int d = socket(AF_INET, SOCK_DGRAM, 0);
    int p[2];
    CHECK(c >= 0 && d >= 0 && pipe(p) == 0);
    fact("fdnums %d %d %d %d %d %d", a, b, c, d, p[0], p[1]);
    DIR *dir = opendir("/proc/self/fd");
    CHECK(dir);
    char line[4096] = "fds";
    struct dirent *e;
    for (int i = 0; i < 10000 && (e = readdir(dir)); i++) {
        if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(dir))
            continue;
        size_t n = strlen(line);
        snprintf(line + n, sizeof line - n, " %s", e->d_name);
    }
    closedir(dir);
    fact("%s", line);
    return 0;
}
