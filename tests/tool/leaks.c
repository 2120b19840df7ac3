/* Test fixture for tests/test_tool.py: performs the actions named on its command line, each
 * acquiring descriptors from a line marked with a MARK comment that the tests look up, so no
 * line number is written down twice. Built -O2 -g, so leak_static becomes a local symbol (maybe
 * a .constprop clone) and leak_inline is inlined into leak_outer.
 *
 *   file:N     open N files in a loop and keep them     socket   a connected TCP socket
 *   pipe       a pipe                                   static   open from a static function
 *   inline     open from an always_inline function      dup2     dup2 onto fd 100
 *   stripped   open from a stripped shared library      none     open and close (no leak)
 *   fork       a child leaks a file and exits           exit:N   exit with status N now
 *   raw        open a file with syscall(), which no wrapper sees (unknown origin)
 *   hold       print "ready", then per stdin line "more K" open K files and print "ready"
 *   pause      print "ready", then wait (up to 10 min) for a signal
 *   leader_exit  print "ready" and end the main thread; another thread, every signal
 *              blocked, ends the process 200 ms later
 *   leader_hold  end the main thread; another thread does "hold", then ends the process
 *
 * Built with -DSELF_DUMP it defines open/socket/pipe/dup2 itself and writes, at exit, a raw
 * dump to $SELF_DUMP following docs/dump-format.md: sample dumps for `fdleak report` tests
 * that do not depend on the shim. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <pthread.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int fdl_stripped_open(const char *path);

static char tmpfile_path[256];

__attribute__((noinline)) static int leak_static(const char *path, int flags)
{
    int fd = open(path, flags); /* MARK:static_open */
    __asm__ volatile("" ::: "memory");
    return fd;
}

__attribute__((always_inline)) static inline int leak_inline(const char *path)
{
    return open(path, O_RDONLY | O_CLOEXEC); /* MARK:inline_open */
}

__attribute__((noinline)) int leak_outer(const char *path);
__attribute__((noinline)) int leak_outer(const char *path)
{
    int fd = leak_inline(path); /* MARK:inline_call */
    __asm__ volatile("" ::: "memory");
    return fd;
}

static void leak_files(int n)
{
    for (int i = 0; i < n; i++)
        open(tmpfile_path, O_RDONLY); /* MARK:loop_open */
}

static void leak_socket(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 1) ||
        getsockname(l, (struct sockaddr *)&a, &len))
        exit(90);
    int c = socket(AF_INET, SOCK_STREAM, 0); /* MARK:socket_call */
    if (connect(c, (struct sockaddr *)&a, sizeof a))
        exit(91);
    int s = accept(l, NULL, NULL);
    close(s);
    close(l);
}

static void wait_stdin(void)
{
    char line[64];
    printf("ready\n");
    fflush(stdout);
    while (fgets(line, sizeof line, stdin)) {
        int k = 0;
        if (sscanf(line, "more %d", &k) == 1 && k > 0 && k < 100000)
            leak_files(k);
        printf("ready\n");
        fflush(stdout);
    }
}

static void *hold_then_exit(void *unused)
{
    (void)unused;
    wait_stdin();
    exit(0);
}

static void *exit_later(void *unused)
{
    (void)unused;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    usleep(200 * 1000);
    exit(0);
}

int main(int argc, char **argv)
{
    snprintf(tmpfile_path, sizeof tmpfile_path, "%s", argv[0]);
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int p[2];
        if (!strncmp(a, "file:", 5)) {
            leak_files(atoi(a + 5));
        } else if (!strcmp(a, "socket")) {
            leak_socket();
        } else if (!strcmp(a, "pipe")) {
            if (pipe(p)) /* MARK:pipe_call */
                return 92;
        } else if (!strcmp(a, "static")) {
            leak_static(tmpfile_path, O_RDONLY);
        } else if (!strcmp(a, "inline")) {
            leak_outer(tmpfile_path);
        } else if (!strcmp(a, "dup2")) {
            int fd = open(tmpfile_path, O_RDONLY);
            dup2(fd, 100); /* MARK:dup2_call */
            close(fd);
        } else if (!strcmp(a, "stripped")) {
            fdl_stripped_open(tmpfile_path);
        } else if (!strcmp(a, "raw")) {
            syscall(SYS_openat, AT_FDCWD, tmpfile_path, O_RDONLY); /* MARK:raw_open */
        } else if (!strcmp(a, "none")) {
            close(open(tmpfile_path, O_RDONLY));
        } else if (!strcmp(a, "fork")) {
            pid_t pid = fork();
            if (pid == 0) {
                open(tmpfile_path, O_RDONLY); /* MARK:child_open */
                exit(0);
            }
            int st;
            waitpid(pid, &st, 0);
        } else if (!strncmp(a, "exit:", 5)) {
            exit(atoi(a + 5));
        } else if (!strcmp(a, "hold")) {
            wait_stdin();
        } else if (!strcmp(a, "leader_exit") || !strcmp(a, "leader_hold")) {
            int hold = !strcmp(a, "leader_hold");
            pthread_t t;
            if (pthread_create(&t, NULL, hold ? hold_then_exit : exit_later, NULL) != 0)
                return 98;
            if (!hold) {
                printf("ready\n");
                fflush(stdout);
            }
            pthread_exit(NULL);
        } else if (!strcmp(a, "pause")) {
            printf("ready\n");
            fflush(stdout);
            for (int k = 0; k < 600; k++)
                sleep(1);
        } else {
            fprintf(stderr, "leaks: unknown action %s\n", a);
            return 99;
        }
    }
    return 0;
}

#ifdef SELF_DUMP
#include <execinfo.h>
#include <link.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <time.h>

#define MAXREC 4096
static struct rec {
    int fd;
    const char *call, *kind;
    int nips;
    void *ips[32];
} recs[MAXREC];
static int nrecs;

__attribute__((noinline)) static void note(int fd, const char *call, const char *kind)
{
    void *ips[34];
    int n = backtrace(ips, 34);
    if (fd < 0 || nrecs >= MAXREC)
        return;
    struct rec *r = &recs[nrecs++];
    r->fd = fd;
    r->call = call;
    r->kind = kind;
    for (int i = 2; i < n; i++) /* drop note() and the wrapper */
        r->ips[r->nips++] = ips[i];
}

__attribute__((noinline)) int open(const char *path, int flags, ...)
{
    int fd = (int)syscall(SYS_openat, AT_FDCWD, path, flags, 0);
    note(fd, "open", "file");
    return fd;
}

__attribute__((noinline)) int socket(int d, int t, int p)
{
    int fd = (int)syscall(SYS_socket, d, t, p);
    note(fd, "socket", "socket");
    return fd;
}

__attribute__((noinline)) int pipe(int p[2])
{
    int rc = (int)syscall(SYS_pipe2, p, 0);
    if (rc == 0) {
        note(p[0], "pipe", "pipe");
        note(p[1], "pipe", "pipe");
    }
    return rc;
}

__attribute__((noinline)) int dup2(int a, int b)
{
    int fd = (int)syscall(SYS_dup2, a, b);
    note(fd, "dup2", "file");
    return fd;
}

static FILE *out;

static int module_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    int *first = arg;
    char path[4096];
    const char *name = info->dlpi_name;
    if (!name || !*name) {
        ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
        path[n > 0 ? n : 0] = 0;
        name = path;
    }
    unsigned long lo = ~0UL, hi = 0;
    char id[128] = "";
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD) {
            unsigned long s = info->dlpi_addr + ph->p_vaddr, e = s + ph->p_memsz;
            if (s < lo)
                lo = s;
            if (e > hi)
                hi = e;
        } else if (ph->p_type == PT_NOTE) {
            const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr), *end = p + ph->p_memsz;
            while (p + sizeof(ElfW(Nhdr)) <= end) {
                const ElfW(Nhdr) *nh = (const void *)p;
                const char *nm = p + sizeof *nh;
                const unsigned char *desc = (const void *)(nm + ((nh->n_namesz + 3) & ~3u));
                if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && !memcmp(nm, "GNU", 4))
                    for (unsigned k = 0; k < nh->n_descsz && k < 60; k++)
                        sprintf(id + 2 * k, "%02x", desc[k]);
                p = (const char *)desc + ((nh->n_descsz + 3) & ~3u);
            }
        }
    }
    if (name[0] != '/' && strcmp(name, "linux-vdso.so.1"))
        return 0;
    fprintf(out,
            "%s\n    {\"path\": \"%s\", \"base\": \"0x%lx\", \"start\": \"0x%lx\", \"end\": "
            "\"0x%lx\", \"build_id\": \"%s\"}",
            *first ? "" : ",", name[0] == '/' ? name : "[vdso]", (unsigned long)info->dlpi_addr, lo,
            hi, id);
    *first = 0;
    return 0;
}

__attribute__((destructor)) static void self_dump(void)
{
    const char *file = getenv("SELF_DUMP");
    if (!file)
        return;
    char name[4096];
    snprintf(name, sizeof name, "%s.%d.json", file, (int)getpid());
    out = fopen(name, "w");
    if (!out)
        return;
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = 0;
    /* A record is live if its fd is still open and no later record reused the number. */
    int live[MAXREC], nlive = 0;
    for (int i = 0; i < nrecs; i++) {
        int later = 0;
        for (int j = i + 1; j < nrecs; j++)
            later |= recs[j].fd == recs[i].fd;
        if (!later && recs[i].fd != fileno(out) && fcntl(recs[i].fd, F_GETFD) >= 0)
            live[nlive++] = i;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    fprintf(
        out,
        "{\n  \"format\": \"fdleak-dump\", \"version\": 1, \"pid\": %d, \"ppid\": %d,\n"
        "  \"exe\": \"%s\", \"cmdline\": [\"%s\"], \"seq\": 1, \"trigger\": \"exit\", \"signal\": "
        "0,\n"
        "  \"trigger_call\": \"\", \"trigger_errno\": 0, \"trigger_stack\": 0, \"threshold\": 0,\n"
        "  \"time_realtime_ns\": %lld, \"open_fds\": %d, \"limit_nofile\": 1024, "
        "\"limit_nofile_max\": 1048576,\n"
        "  \"modules\": [",
        (int)getpid(), (int)getppid(), exe, exe, (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec,
        nlive + 3);
    int first = 1;
    dl_iterate_phdr(module_cb, &first);
    fprintf(out, "\n  ],\n  \"stacks\": [");
    /* stack ids: the first live record with the same ips */
    int sid[MAXREC];
    for (int i = 0; i < nlive; i++) {
        struct rec *r = &recs[live[i]];
        sid[i] = i + 1;
        for (int j = 0; j < i; j++)
            if (recs[live[j]].nips == r->nips &&
                !memcmp(recs[live[j]].ips, r->ips, sizeof(void *) * r->nips)) {
                sid[i] = sid[j];
                break;
            }
        if (sid[i] != i + 1)
            continue;
        fprintf(out, "%s\n    {\"id\": %d, \"ips\": [", i ? "," : "", i + 1);
        for (int k = 0; k < r->nips; k++)
            fprintf(out, "%s\"%p\"", k ? ", " : "", r->ips[k]);
        fprintf(out, "]}");
    }
    fprintf(out, "\n  ],\n  \"pystacks\": [],\n  \"fds\": [\n"
                 "    {\"fd\": 0, \"origin\": \"inherited\", \"call\": \"\", \"kind\": \"pty\", "
                 "\"path\": \"\", \"target\": \"/dev/pts/0\", \"cloexec\": false, \"age_ms\": 0, "
                 "\"tid\": 0, \"stack\": 0, \"pystack\": 0, \"local\": \"\", \"peer\": \"\"},\n"
                 "    {\"fd\": 1, \"origin\": \"inherited\", \"call\": \"\", \"kind\": \"pty\", "
                 "\"path\": \"\", \"target\": \"/dev/pts/0\", \"cloexec\": false, \"age_ms\": 0, "
                 "\"tid\": 0, \"stack\": 0, \"pystack\": 0, \"local\": \"\", \"peer\": \"\"},\n"
                 "    {\"fd\": 2, \"origin\": \"inherited\", \"call\": \"\", \"kind\": \"pty\", "
                 "\"path\": \"\", \"target\": \"/dev/pts/0\", \"cloexec\": false, \"age_ms\": 0, "
                 "\"tid\": 0, \"stack\": 0, \"pystack\": 0, \"local\": \"\", \"peer\": \"\"}");
    /* records are in acquisition order; the format wants ascending fd */
    for (int fd = 3; fd < 65536; fd++)
        for (int i = 0; i < nlive; i++) {
            struct rec *r = &recs[live[i]];
            if (r->fd != fd)
                continue;
            fprintf(
                out,
                ",\n    {\"fd\": %d, \"origin\": \"tracked\", \"call\": \"%s\", \"kind\": \"%s\", "
                "\"path\": \"%s\", \"target\": \"\", \"cloexec\": false, \"age_ms\": 5, \"tid\": "
                "%d, \"stack\": %d, \"pystack\": 0, \"local\": \"\", \"peer\": \"\"}",
                fd, r->call, r->kind, strcmp(r->kind, "file") ? "" : tmpfile_path, (int)getpid(),
                sid[i]);
        }
    fprintf(out,
            "\n  ],\n  \"stats\": {\"acquired\": %d, \"released\": 0, \"stacks\": %d, "
            "\"stack_store_full\": 0, \"path_store_full\": 0, \"unwind_failed\": 0}\n}\n",
            nrecs, nlive);
    fclose(out);
}
#endif
