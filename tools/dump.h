/* Raw dumps (docs/dump-format.md) read into plain structs. Strings point into the parsed JSON
 * tree, which lives as long as the dump. */
#ifndef FDL_TOOL_DUMP_H
#define FDL_TOOL_DUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fdl_jdoc;

enum fdl_origin { FDL_ORIGIN_TRACKED, FDL_ORIGIN_INHERITED, FDL_ORIGIN_UNKNOWN };

struct fdl_dmodule {
    const char *path;
    const char *build_id; /* lower-case hex, "" if none */
    uint64_t base, start, end;
};

struct fdl_dstack {
    uint32_t id;
    size_t nips;
    uint64_t *ips; /* return addresses, innermost first */
};

struct fdl_dpyframe {
    const char *file, *function;
    long line;
};

struct fdl_dpystack {
    uint32_t id;
    size_t nframes;
    struct fdl_dpyframe *frames; /* innermost first */
};

struct fdl_dfd {
    int fd;
    enum fdl_origin origin;
    const char *call, *kind, *path, *target, *local, *peer;
    bool cloexec;
    int64_t age_ms;
    long tid;
    uint32_t stack, pystack;
};

struct fdl_dstats {
    int64_t acquired, released, stacks, stack_store_full, path_store_full, unwind_failed;
};

struct fdl_dump {
    char *file;           /* where it was read from */
    char *buf;            /* the file's text, parsed in place */
    struct fdl_jdoc *doc; /* its JSON tree */
    long pid, ppid, seq;
    const char *exe;
    size_t ncmdline;
    const char **cmdline;
    const char *trigger; /* exit, fatal-signal, signal, emfile, threshold */
    int signal;
    const char *trigger_call;
    int trigger_errno;
    uint32_t trigger_stack;
    long threshold;
    int64_t time_realtime_ns;
    long open_fds, limit_nofile, limit_nofile_max;
    size_t nmodules, nstacks, npystacks, nfds;
    struct fdl_dmodule *modules; /* sorted by start */
    struct fdl_dstack *stacks;   /* sorted by id */
    struct fdl_dpystack *pystacks;
    struct fdl_dfd *fds; /* ascending fd */
    struct fdl_dstats stats;
};

/* Reads and checks one raw dump. On failure returns NULL and writes one line without the
 * "fdleak: " prefix into err ("FILE: truncated dump", "FILE: not an fdleak dump", ...). */
struct fdl_dump *fdl_dump_load(const char *file, char *err, size_t errlen);
void fdl_dump_free(struct fdl_dump *d);

const struct fdl_dstack *fdl_dump_stack(const struct fdl_dump *d, uint32_t id);
const struct fdl_dpystack *fdl_dump_pystack(const struct fdl_dump *d, uint32_t id);
/* The module whose [start, end) holds ip, or NULL. */
const struct fdl_dmodule *fdl_dump_module(const struct fdl_dump *d, uint64_t ip);

#endif
