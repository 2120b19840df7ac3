/* Internals shared by the dump modules: dump.c (the lock and the order of a dump), fdlist.c
 * (which descriptors are open), fdinfo.c (what each one is), dest.c (every descriptor a dump
 * opens, and where the dump goes), maps.c (the module map), dump_json.c and dump_text.c (the
 * two renderings). Everything here is async-signal-safe, uses static or mmap'd memory only,
 * and runs with the dump lock held. */
#ifndef FDL_DUMP_H
#define FDL_DUMP_H

#include "fdleak.h"
#include "fdtable.h"
#include "out.h"

#include <sys/resource.h>

/* One open descriptor as collected: its number, origin and a copy of its record. */
struct fdl_rec {
    int fd;
    int origin;
    struct fdl_entry e;
};
/* A million records must fit the mmap'd scratch; the writers sort records in place. */
_Static_assert(sizeof(struct fdl_rec) == 40, "fdl_rec grew: check fdl_heapsort's buffer");

struct fdl_scratch {
    struct fdl_rec *recs;
    size_t n, cap, map_bytes;
    uint32_t *ids; /* room for 2 * (n + 1) ids: referenced stacks, or groups */
    size_t ids_map_bytes;
    int truncated;
};

/* What a dump says about the process as a whole. */
struct fdl_dump_ctx {
    const struct fdl_dump_req *req;
    struct rlimit rl;
    uint64_t now_coarse;
    size_t open_fds;
    unsigned seq;
    const char *exe;
    const char *cmdline; /* NUL-separated */
    size_t cmdline_len;
};

/* Read at dump time, per descriptor: the link target, the kind if the record had none, and
 * socket addresses. */
struct fdl_details {
    char target[512];
    char local[200], peer[200];
    int kind;
};

struct fdl_module {
    uintptr_t start, end, first_end, base;
    uint32_t path; /* offset in the module path buffer */
    int has_x;
    char build_id[41];
};

/* fdlist.c: the open descriptors into s (recs, and ids with room for 2 * (n + 1) ids),
 * numbers below limit, poll batches no larger than soft. */
void fdl_fdlist_collect(struct fdl_scratch *s, long limit, long soft) FDL_HIDDEN;
void fdl_fdlist_release(struct fdl_scratch *s) FDL_HIDDEN;
void fdl_heapsort(void *v, size_t n, size_t size,
                  int (*cmp)(const void *, const void *)) FDL_HIDDEN;
size_t fdl_referenced(const struct fdl_scratch *s, uint32_t *out, int python,
                      uint32_t extra) FDL_HIDDEN;

/* fdinfo.c */
void fdl_details(const struct fdl_rec *r, struct fdl_details *d) FDL_HIDDEN;
const char *fdl_path_text(uint32_t id) FDL_HIDDEN;

/* dest.c: opens that work at the fd limit (raising the soft limit for themselves when the
 * hard limit allows); a small /proc file read whole, or line by line into `line`. */
int fdl_dest_openat(int dirfd, const char *path, int flags, int mode) FDL_HIDDEN;
size_t fdl_dest_read_proc(const char *path, char *buf, size_t cap,
                          void (*line)(const char *)) FDL_HIDDEN;
const char *fdl_dest_strerror(int e) FDL_HIDDEN;
/* The dump file for req (its failure already said in one line), or: */
#define FDL_DEST_TEXT (-1) /* a text report on fd 2, if fdl_msg_stderr_ok() */
#define FDL_DEST_NONE (-2) /* nothing (run mode: the dump file could not be created) */
int fdl_dest_open(const struct fdl_dump_req *req, unsigned seq) FDL_HIDDEN;
void fdl_dest_finish(int fd, const struct fdl_out *o) FDL_HIDDEN; /* close; publish snapshot */
void fdl_dest_init(void) FDL_HIDDEN;
void fdl_dest_after_fork(void) FDL_HIDDEN;

/* api.c: a dump the program asked for (include/fdleak.h), written to its descriptor `fd`
 * (left open, and left out of the dump; -1 with count_only), listing the descriptors acquired
 * at or after `since` (all when 0). dump.c fills count (-1: no dump was made) and err. */
struct fdl_api_req {
    uint64_t since;
    int fd, count_only;
    int count, err;
};
void fdl_api_filter(struct fdl_scratch *s, const struct fdl_api_req *api) FDL_HIDDEN;

/* maps.c */
void fdl_maps_read(void) FDL_HIDDEN;
int fdl_maps_count(void) FDL_HIDDEN;
const struct fdl_module *fdl_maps_get(int i) FDL_HIDDEN;
const struct fdl_module *fdl_maps_find(uintptr_t ip) FDL_HIDDEN;
const char *fdl_maps_path(const struct fdl_module *m) FDL_HIDDEN;

/* dump_json.c, dump_text.c */
void fdl_write_json(struct fdl_out *o, struct fdl_scratch *s,
                    const struct fdl_dump_ctx *h) FDL_HIDDEN;
void fdl_write_text(struct fdl_out *o, struct fdl_scratch *s,
                    const struct fdl_dump_ctx *h) FDL_HIDDEN;

#endif
