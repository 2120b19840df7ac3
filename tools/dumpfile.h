/* Raw dumps (docs/dump-format.md) read into plain structs, after checking every field the
 * command uses: dumps may be hostile (written by the target, or planted where the command reads
 * as root). Strings point into the parsed JSON tree, which lives as long as the dump. */
#ifndef FDT_TOOL_DUMPFILE_H
#define FDT_TOOL_DUMPFILE_H

#include "contract.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fdt_jdoc;

/* What a dump may hold; more is refused with a one-line error instead of being allocated. A
 * dump of 100,000 descriptors is about 25 MB; parsing takes about 15 times the file's size. */
#define FDT_DUMP_MAX_BYTES (256u << 20)
#define FDT_DUMP_MAX_FDS (1u << 22)
#define FDT_DUMP_MAX_STACKS (1u << 20) /* the library's stack store holds 2^20 */
#define FDT_DUMP_MAX_MODULES 65536u
#define FDT_DUMP_MAX_ARGS (1u << 20)
#define FDT_DUMP_MAX_FRAMES FDC_DEPTH_MAX /* per stack and per Python stack */

struct fdt_dmodule {
    const char *path;
    const char *build_id; /* lower-case hex, "" if none */
    uint64_t base, start, end;
};

struct fdt_dstack {
    uint32_t id;
    size_t nips;
    uint64_t *ips; /* return addresses, innermost first */
};

struct fdt_dpyframe {
    const char *file, *function;
    long line;
};

struct fdt_dpystack {
    uint32_t id;
    size_t nframes;
    struct fdt_dpyframe *frames; /* innermost first */
    long truncated;              /* frames dropped past the library's depth limit */
};

struct fdt_dfd {
    int fd;
    enum fdc_origin origin;
    const char *call, *kind, *path, *target, *local, *peer;
    bool cloexec;
    int64_t age_ms;
    long tid;
    uint32_t stack, pystack;
};

struct fdt_dstats {
    int64_t acquired, released, stacks, stack_store_full, path_store_full, unwind_failed;
    int64_t misuse, misuse_dropped; /* 0 in dumps from before misuse was recorded */
};

/* A misuse event (double close, bad fd, use after close, owned close). */
struct fdt_dmisuse {
    const char *kind, *call, *closed_call, *acquired_call, *owner;
    int fd;
    int64_t count;
    uint32_t stack, closed_stack, acquired_stack;
    uint32_t pystack, acquired_pystack; /* 0: none, or a dump from before they were recorded */
};

struct fdt_dump {
    char *file;           /* where it was read from */
    struct fdt_jdoc *doc; /* its JSON tree */
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
    long peak_open_fds;            /* highest live count (tracked + inherited), 0 if absent */
    int64_t peak_time_realtime_ns; /* when it was reached */
    size_t nmodules, nstacks, npystacks, nfds;
    struct fdt_dmodule *modules; /* sorted by start */
    struct fdt_dstack *stacks;   /* sorted by id */
    struct fdt_dpystack *pystacks;
    struct fdt_dfd *fds; /* ascending fd */
    size_t nmisuse;
    struct fdt_dmisuse *misuse; /* in the order the library found them */
    struct fdt_dstats stats;
};

/* Reads and checks one raw dump: a regular file (not followed if a symlink, never a FIFO or
 * device), at most FDT_DUMP_MAX_BYTES. On failure returns NULL and writes one line without the
 * "fdleak: " prefix into err ("FILE: truncated dump", "FILE: not an fdleak dump", ...). */
struct fdt_dump *fdt_dump_load(const char *file, char *err, size_t errlen);
/* The same for a dump already in memory (buf[0..len), not kept; name is used in errors and
 * as the dump's file). */
struct fdt_dump *fdt_dump_parse(char *buf, size_t len, const char *name, char *err, size_t errlen);
void fdt_dump_free(struct fdt_dump *d);

const struct fdt_dstack *fdt_dump_stack(const struct fdt_dump *d, uint32_t id);
const struct fdt_dpystack *fdt_dump_pystack(const struct fdt_dump *d, uint32_t id);
/* The module whose [start, end) holds ip, or NULL. */
const struct fdt_dmodule *fdt_dump_module(const struct fdt_dump *d, uint64_t ip);

#endif
