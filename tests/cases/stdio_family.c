/* stdio and dirent entry points: fopen, fopen64, freopen, freopen64, fdopen, fclose, tmpfile,
 * tmpfile64, mkstemp, mkostemp, mkstemps, mkostemps (+64), popen, pclose, opendir, fdopendir,
 * closedir. Usage: stdio_family DIR   (DIR holds readable files `f` and `g`) */
#include "fixture.h"

#include <dirent.h>
#include <fcntl.h>

static char path_f[4200], path_g[4200], dir[4096];

NOINLINE static FILE *via_fopen(void)
{
    FILE *f = fopen(path_f, "r");
    KEEP(f);
    return f;
}
NOINLINE static FILE *via_fopen64(void)
{
    FILE *f = fopen64(path_f, "re");
    KEEP(f);
    return f;
}
NOINLINE static FILE *via_freopen(FILE *f)
{
    f = freopen(path_g, "r", f);
    KEEP(f);
    return f;
}
NOINLINE static FILE *via_freopen64(FILE *f)
{
    f = freopen64(path_g, "r", f);
    KEEP(f);
    return f;
}
NOINLINE static int acquire_for_fdopen(void)
{
    int fd = open(path_f, O_RDONLY);
    KEEP(fd);
    return fd;
}
NOINLINE static FILE *via_fdopen(int fd)
{
    FILE *f = fdopen(fd, "r");
    KEEP(f);
    return f;
}
NOINLINE static FILE *via_tmpfile(void)
{
    FILE *f = tmpfile();
    KEEP(f);
    return f;
}
NOINLINE static FILE *via_tmpfile64(void)
{
    FILE *f = tmpfile64();
    KEEP(f);
    return f;
}
NOINLINE static FILE *via_popen(void)
{
    FILE *f = popen("exit 0", "r");
    KEEP(f);
    return f;
}
NOINLINE static FILE *via_popen_w(void)
{
    FILE *f = popen("cat >/dev/null", "w");
    KEEP(f);
    return f;
}
NOINLINE static DIR *via_opendir(void)
{
    DIR *d = opendir(dir);
    KEEP(d);
    return d;
}
NOINLINE static int acquire_for_fdopendir(void)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    KEEP(fd);
    return fd;
}
NOINLINE static DIR *via_fdopendir(int fd)
{
    DIR *d = fdopendir(fd);
    KEEP(d);
    return d;
}

#define MKS(name, expr)                                                                            \
    NOINLINE static int via_##name(char *t)                                                        \
    {                                                                                              \
        int fd = expr;                                                                             \
        KEEP(fd);                                                                                  \
        return fd;                                                                                 \
    }
MKS(mkstemp, mkstemp(t))
MKS(mkstemp64, mkstemp64(t))
MKS(mkostemp, mkostemp(t, O_CLOEXEC))
MKS(mkostemp64, mkostemp64(t, O_CLOEXEC))
MKS(mkstemps, mkstemps(t, 4))
MKS(mkstemps64, mkstemps64(t, 4))
MKS(mkostemps, mkostemps(t, 4, O_CLOEXEC))
MKS(mkostemps64, mkostemps64(t, 4, O_CLOEXEC))

static void file_pair(const char *name, FILE *(*fn)(void))
{
    FILE *keep = fn(), *drop = fn();
    CHECK(keep && drop);
    int dfd = fileno(drop);
    CHECK(fclose(drop) == 0);
    fact("leak %s %d", name, fileno(keep));
    fact("closed fclose %d", dfd);
}

static void mks(const char *name, int (*fn)(char *), int suffix)
{
    char t1[4200], t2[4200];
    snprintf(t1, sizeof t1, "%s/%s.XXXXXX%s", dir, name, suffix ? ".tmp" : "");
    snprintf(t2, sizeof t2, "%s/%s.XXXXXX%s", dir, name, suffix ? ".tmp" : "");
    int keep = fn(t1), drop = fn(t2);
    CHECK(keep >= 0 && drop >= 0);
    CHECK(close(drop) == 0);
    fact("leak %s %d %s", name, keep, t1);
    fact("closed %s %d", name, drop);
}

int main(int argc, char **argv)
{
    fixture_init();
    CHECK(argc == 2);
    CHECK(strlen(argv[1]) < 4000);
    snprintf(dir, sizeof dir, "%s", argv[1]);
    snprintf(path_f, sizeof path_f, "%s/f", dir);
    snprintf(path_g, sizeof path_g, "%s/g", dir);

    file_pair("fopen", via_fopen);
    file_pair("fopen64", via_fopen64);

    FILE *f = via_fopen();
    int before = fileno(f);
    f = via_freopen(f);
    CHECK(f);
    fact("freopen_from %d", before);
    fact("leak freopen %d %s", fileno(f), path_g);
    f = via_fopen();
    f = via_freopen64(f);
    CHECK(f);
    fact("leak freopen64 %d %s", fileno(f), path_g);

    int fd = acquire_for_fdopen();
    f = via_fdopen(fd);
    CHECK(f && fileno(f) == fd);
    fact("leak fdopen %d %s", fd, path_f);
    fd = acquire_for_fdopen();
    f = via_fdopen(fd);
    CHECK(f);
    CHECK(fclose(f) == 0);
    fact("closed fclose %d", fd);

    file_pair("tmpfile", via_tmpfile);
    file_pair("tmpfile64", via_tmpfile64);

    mks("mkstemp", via_mkstemp, 0);
    mks("mkstemp64", via_mkstemp64, 0);
    mks("mkostemp", via_mkostemp, 0);
    mks("mkostemp64", via_mkostemp64, 0);
    mks("mkstemps", via_mkstemps, 1);
    mks("mkstemps64", via_mkstemps64, 1);
    mks("mkostemps", via_mkostemps, 1);
    mks("mkostemps64", via_mkostemps64, 1);

    FILE *p1 = via_popen(), *p2 = via_popen();
    CHECK(p1 && p2);
    int p2fd = fileno(p2);
    CHECK(pclose(p2) == 0);
    fact("leak popen %d", fileno(p1));
    fact("closed pclose %d", p2fd);

    FILE *w = via_popen_w();
    CHECK(w);
    fact("leak popen_w %d", fileno(w));

    DIR *d1 = via_opendir(), *d2 = via_opendir();
    CHECK(d1 && d2);
    int d2fd = dirfd(d2);
    CHECK(closedir(d2) == 0);
    fact("leak opendir %d %s", dirfd(d1), dir);
    fact("closed closedir %d", d2fd);

    fd = acquire_for_fdopendir();
    DIR *d3 = via_fdopendir(fd);
    CHECK(d3 && dirfd(d3) == fd);
    fact("leak fdopendir %d %s", fd, dir);
    fd = acquire_for_fdopendir();
    d3 = via_fdopendir(fd);
    CHECK(d3);
    CHECK(closedir(d3) == 0);
    fact("closed closedir %d", fd);
    report_fdflags();
    return 0;
}
