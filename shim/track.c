/* Recording: what the wrappers hand over after a real call succeeded or failed. Unwinding and
 * interning happen before the record is written and under no lock, so threads never queue
 * behind each other's unwinding; the only shared writes are one CAS per new distinct stack or
 * path and the record itself. A release is recorded before the real close (heaptrack's rule
 * for free): a racing thread can only get the same number after the close, and so records
 * after us. */
#include "fdleak.h"
#include "fdtable.h"
#include "intern.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* The record layout the dump and the unit tests rely on: 32 bytes, two to a cache line. */
_Static_assert(sizeof(struct fdl_entry) == 32, "fd table record is 32 bytes");
_Static_assert(offsetof(struct fdl_entry, state) == 20 && offsetof(struct fdl_entry, time_ns) == 24,
               "fd table record layout");

struct fdl_intern fdl_stacks, fdl_paths, fdl_pyframes;
static long fdl_live; /* live tracked+inherited count, kept when a threshold is set */
struct fdl_stat fdl_stat_acquired, fdl_stat_released, fdl_stat_unwind_failed;

/* Counters spread over cache lines by thread, so threads acquiring in parallel do not bounce
 * one line between cores; summed only when a dump reads them. */
void fdl_stat_add(struct fdl_stat *s, long v)
{
    __atomic_fetch_add(&s->shard[fdl_tid() % FDL_STAT_SHARDS].v, v, __ATOMIC_RELAXED);
}

uint64_t fdl_stat_sum(const struct fdl_stat *s)
{
    uint64_t t = 0;
    for (int i = 0; i < FDL_STAT_SHARDS; i++)
        t += (uint64_t)__atomic_load_n(&s->shard[i].v, __ATOMIC_RELAXED);
    return t;
}
static int threshold_armed = 1, emfile_armed = 1;
/* After an EMFILE dump: net descriptors released since, and how many must go before the next
 * exhaustion is worth another dump (10% of what was open). Touched only while disarmed. */
static long emfile_net, emfile_rearm_drop;

void fdl_track_init(void)
{
    /* Address space only (MAP_NORESERVE): pages are committed as stacks arrive, ~1 KiB per
     * distinct stack. Room for 1M stacks of 16 frames, 1M distinct paths. If a reservation is
     * refused (strict overcommit), that store stays empty and records carry id 0. */
    fdl_misuse_init();
    int failed = fdl_intern_init(&fdl_stacks, 1u << 20, 256ull << 20);
    failed |= fdl_intern_init(&fdl_paths, 1u << 20, 128ull << 20);
    failed |= fdl_intern_init(&fdl_pyframes, 1u << 18, 32ull << 20);
    if (failed)
        fdl_msg("cannot reserve memory for stacks and paths; ", "reports will lack some of them");
}

/* A descriptor found open at start-up. Before init finishes: no other thread records yet. */
void fdl_track_inherited(void)
{
    fdl_live++;
}

void fdl_track_after_fork(void)
{
    threshold_armed = 1;
    emfile_armed = 1;
    fdl_misuse_after_fork();
}

static void emfile_note(long delta)
{
    if (likely(__atomic_load_n(&emfile_armed, __ATOMIC_RELAXED)))
        return;
    long net = __atomic_add_fetch(&emfile_net, delta, __ATOMIC_RELAXED);
    if (net <= -emfile_rearm_drop)
        __atomic_store_n(&emfile_armed, 1, __ATOMIC_RELEASE);
}

static uint64_t now_coarse(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Same idea for paths: a loop reopening one file skips the path's hash and probe. */
static __thread struct {
    uint32_t id, len;
    char text[256];
} last_path;

static uint32_t intern_path(const char *path, int level)
{
    size_t len = strlen(path) + 1;
    if (level == 0 && last_path.id && last_path.len == len && !memcmp(last_path.text, path, len))
        return last_path.id;
    uint32_t id = fdl_intern_put(&fdl_paths, path, (uint32_t)len);
    if (id && level == 0 && len <= sizeof(last_path.text)) {
        last_path.id = id;
        last_path.len = (uint32_t)len;
        memcpy(last_path.text, path, len);
    }
    return id;
}

/* The stack of the acquisition being recorded at nesting level `level` (0: the program's call;
 * deeper: a signal handler's call that interrupted a recording). Only level 0 uses the
 * per-thread last-stack cache: a handler could interrupt it half written. A level too deep, or
 * a handler that interrupted libunwind, gets no stack (counted as unwind_failed).
 *
 * With a Python stack (python: 1), only the native frames below the Python line: up to, not
 * including, the first frame in CPython's eval loop (pyeval.c). They are few (the C function
 * the line called and what it called down to the wrapper), the same for every Python line
 * making the same call, so the last-stack cache almost always answers. */
static uint32_t capture_stack(int level, int python)
{
    const uintptr_t *ips;
    int max = fdl_cfg.depth;
    if (python) {
        if (!fdl_cfg.py_c_depth)
            return 0;
        python = fdl_pyeval_known(); /* else the whole C stack, as without Python */
        if (python)
            max = fdl_cfg.py_c_depth;
    }
    int n = level < FDL_NEST_MAX ? fdl_capture(level, max, &ips) : 0;
    if (n <= 0) {
        fdl_stat_add(&fdl_stat_unwind_failed, 1);
        return 0;
    }
    if (python && (n = fdl_pyeval_cut(ips, n)) == 0)
        return 0; /* called straight from the eval loop: the Python line says it all */
    /* A loop acquiring from a few places skips hashing and the table probe for a memcmp. */
    uint32_t id = level == 0 ? fdl_capture_last_id(ips, n) : 0;
    if (id)
        return id;
    id = fdl_intern_put(&fdl_stacks, ips, (uint32_t)((size_t)n * sizeof(uintptr_t)));
    if (id && level == 0)
        fdl_capture_set_last(ips, n, id);
    return id;
}

/* The C stack under a Python stack, remembered per thread: a Python line that makes the same
 * call again (a loop) reaches the wrapper through the same native frames, so the unwind
 * (libunwind's ~280 instructions plus ~80 a frame) is skipped when the same Python stack makes
 * the same call from the same C call site (the wrapper's return address) at the same stack
 * depth (the address of the caller's record, on this thread's stack). Another native path
 * from that line to the same call site at the same depth would be taken for the remembered
 * one; with the call site and the depth both equal, none was seen. Level 0 only, like the
 * last-stack cache. */
#define PY_C_CACHE 8
static __thread struct py_c_entry {
    const void *caller;
    uintptr_t depth;
    uint32_t pystack, stack;
    uint8_t call;
} py_c_cache[PY_C_CACHE];
static __thread unsigned py_c_next;

static uint32_t py_c_stack(int level, enum fdc_call call, const void *caller, uintptr_t depth,
                           uint32_t pystack)
{
    if (level != 0)
        return capture_stack(level, 1);
    for (int i = 0; i < PY_C_CACHE; i++) {
        const struct py_c_entry *c = &py_c_cache[i];
        if (c->caller == caller && c->pystack == pystack && c->depth == depth && c->call == call)
            return c->stack;
    }
    uint32_t stack = capture_stack(level, 1);
    if (stack)
        py_c_cache[py_c_next++ % PY_C_CACHE] =
            (struct py_c_entry){caller, depth, pystack, stack, (uint8_t)call};
    return stack;
}

/* Enters a recording: busy (the shim's own calls pass through) and one nesting level deeper.
 * Saved and restored, never incremented and decremented: a frame abandoned by siglongjmp is
 * undone by fdl_thread's heal at the next entry, not carried forever. */
struct level {
    int busy;
    int nest;
};

static struct level level_begin(void)
{
    struct level l = {fdl_busy_begin(), fdl_tls.nest};
    fdl_tls.nest = (uint8_t)(l.nest + 1);
    return l;
}

static void level_end(struct level l)
{
    fdl_tls.nest = (uint8_t)l.nest;
    fdl_busy_end(l.busy);
}

static void check_threshold(enum fdc_call call, long live, uint32_t stack)
{
    /* Not from a signal handler that interrupted a recording: the dump waits for it. */
    if (live >= fdl_cfg.threshold && fdl_tls.nest <= 1) {
        if (__atomic_exchange_n(&threshold_armed, 0, __ATOMIC_ACQ_REL)) {
            struct fdl_dump_req r = {.trigger = FDC_TRIG_THRESHOLD,
                                     .safe = 1,
                                     .snapshot_token = -1,
                                     .call = call,
                                     .stack = stack ? stack : capture_stack(0, 0),
                                     .threshold = fdl_cfg.threshold};
            fdl_dump(&r);
        }
    }
}

static void count(long delta, enum fdc_call call, uint32_t stack)
{
    if (!fdl_cfg.threshold)
        return;
    long live = __atomic_add_fetch(&fdl_live, delta, __ATOMIC_RELAXED);
    if (delta > 0)
        check_threshold(call, live, stack);
    else if (live < fdl_cfg.threshold)
        __atomic_store_n(&threshold_armed, 1, __ATOMIC_RELAXED);
}

static void note_release(int old_state)
{
    if (old_state == FDL_FREE)
        return;
    fdl_stat_add(&fdl_stat_released, 1);
    fdl_peak_released(1);
    count(-1, FDC_CALL_none, 0);
    emfile_note(-1);
}

static void put(int fd, const struct fdl_entry *e, enum fdc_call call)
{
    int old = fdl_table_set(fd, e);
    if (old < 0)
        return;
    note_release(old);
    fdl_stat_add(&fdl_stat_acquired, 1);
    fdl_peak_acquired(1);
    count(1, call, e->stack);
    emfile_note(1);
}

void fdl_track(const int *fds, int n, enum fdc_call call, enum fdc_kind kind, const char *path,
               int cloexec)
{
    const void *caller = fdl_tls.caller; /* the program's call site, if the wrapper said it */
    fdl_tls.caller = NULL;
    struct level l = level_begin();
    /* The Python hooks keep per-thread state a signal handler must not interleave with. */
    int python = fdl_cfg.python && l.nest == 0;
    struct fdl_entry e = {0};
    e.state = FDL_TRACKED;
    e.call = (uint8_t)call;
    e.kind = (uint8_t)kind;
    e.flags = cloexec ? FDL_F_CLOEXEC : 0;
    /* With a Python stack, the C stack stops at the interpreter (capture_stack). */
    e.pystack = python ? fdl_python_stack(call) : 0;
    e.stack = e.pystack && caller ? py_c_stack(l.nest, call, caller, (uintptr_t)&e, e.pystack)
                                  : capture_stack(l.nest, e.pystack != 0);
    if (path)
        e.path = intern_path(path, l.nest);
    e.tid = fdl_tid();
    e.time_ns = now_coarse();
    for (int i = 0; i < n; i++)
        put(fds[i], &e, call);
    if (python && n == 1)
        fdl_python_acquired(fds[0], call, e.pystack);
    level_end(l);
}

void fdl_track_dup(int newfd, int oldfd, enum fdc_call call, int cloexec)
{
    struct fdl_entry src, prev;
    int st = fdl_table_get(oldfd, &src);
    /* dup2/dup3 onto a FILE*'s or DIR*'s descriptor closes it under the stream. */
    int stolen = 0;
    if (call != FDC_CALL_dup && call != FDC_CALL_fcntl && call != FDC_CALL_fcntl64 &&
        fdl_table_get(newfd, &prev) == FDL_TRACKED && (prev.flags & (FDL_F_FILE | FDL_F_DIR))) {
        stolen = 1;
        fdl_misuse_owned(newfd, call, &prev);
    }
    struct level l = level_begin();
    struct fdl_entry e = {0};
    e.state = FDL_TRACKED;
    e.call = (uint8_t)call;
    /* The copy is a new reference to the same open file: same kind and path as opened. */
    e.kind = (st == FDL_TRACKED || st == FDL_INHERITED) ? src.kind : FDC_KIND_unknown;
    e.path = (st == FDL_TRACKED || st == FDL_INHERITED) ? src.path : 0;
    e.flags = (uint8_t)((cloexec ? FDL_F_CLOEXEC : 0) | (stolen ? FDL_F_STOLEN : 0));
    e.pystack = fdl_cfg.python && l.nest == 0 ? fdl_python_stack(call) : 0;
    e.stack = capture_stack(l.nest, e.pystack != 0);
    e.tid = fdl_tid();
    e.time_ns = now_coarse();
    put(newfd, &e, call);
    level_end(l);
}

void fdl_track_adopt(int fd, enum fdc_call call, enum fdc_kind kind)
{
    /* fdopen/fdopendir take over an fd: its acquisition stays the original one. Only an fd we
     * never saw acquired is charged to the adopting call. */
    struct fdl_entry cur;
    int st = fdl_table_get(fd, &cur);
    if (st == FDL_TRACKED || st == FDL_INHERITED)
        return;
    fdl_track(&fd, 1, call, kind, NULL, 0);
}

/* The release site. One frame (the default) is the caller's return address, interned once
 * per distinct site through a per-thread cache of the last two sites: a loop closing from one
 * or two places (a Python loop closing a file and a socket) pays a compare. Each cache pair is
 * written id-last and re-checked, so a signal handler's release between the stores leaves it
 * empty, never pairing one site with another's id. Deeper release stacks unwind
 * (FDLEAK_RELEASE_DEPTH), without the acquisition cache, which they would evict. */
#define RELEASE_SITES 2
static __thread struct {
    uintptr_t ip;
    uint32_t id;
} last_release[RELEASE_SITES];
static __thread unsigned last_release_next; /* the pair replaced next */

static __attribute__((noinline)) uint32_t release_stack_slow(uintptr_t ip)
{
    if (fdl_cfg.release_depth > 1) {
        struct level l = level_begin();
        const uintptr_t *ips;
        int n = l.nest < FDL_NEST_MAX ? fdl_capture(l.nest, fdl_cfg.release_depth, &ips) : 0;
        uint32_t id =
            n > 0 ? fdl_intern_put(&fdl_stacks, ips, (uint32_t)((size_t)n * sizeof(uintptr_t))) : 0;
        level_end(l);
        return id;
    }
    if (!fdl_cfg.release_depth || !ip)
        return 0;
    uint32_t id = fdl_intern_put(&fdl_stacks, &ip, sizeof ip);
    unsigned k = last_release_next++ % RELEASE_SITES;
    last_release[k].id = 0;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    last_release[k].ip = ip;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    last_release[k].id = id;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if (last_release[k].ip != ip)
        last_release[k].id = 0;
    return id;
}

/* The cache hit inline: a loop closing from one place pays two loads and a compare. The id is
 * read before and after the ip: a signal handler's release in between shows as a change. */
static inline uint32_t release_stack(const void *caller)
{
    uintptr_t ip = (uintptr_t)caller;
    for (int k = 0; k < RELEASE_SITES; k++) {
        uint32_t id = last_release[k].id;
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        if (likely(id && last_release[k].ip == ip)) {
            __atomic_signal_fence(__ATOMIC_SEQ_CST);
            if (likely(last_release[k].id == id))
                return id;
        }
    }
    return release_stack_slow(ip);
}

int fdl_release(int fd, enum fdc_call call, const void *caller)
{
    uint8_t old_flags;
    int st = fdl_table_release(fd, release_stack(caller), (uint8_t)call, &old_flags);
    if (st == FDL_FREE)
        return st;
    note_release(st);
    if (unlikely(old_flags & (FDL_F_FILE | FDL_F_DIR)) && call == FDC_CALL_close) {
        struct fdl_entry old;
        fdl_table_get(fd, &old); /* free now, but its acquisition is still there */
        old.flags = old_flags;
        fdl_misuse_owned(fd, call, &old);
    }
    return st;
}

struct range_arg {
    int cloexec_only;
    enum fdc_call call;
    const void *caller;
};

static int release_one(int fd, const struct fdl_entry *e, void *arg)
{
    const struct range_arg *a = arg;
    (void)e;
    if (a->cloexec_only) {
        fdl_table_set_flags(fd, FDL_F_CLOEXEC, 0);
    } else {
        fdl_release(fd, a->call, a->caller);
    }
    return 0;
}

void fdl_release_range(unsigned lo, unsigned hi, int cloexec_only, enum fdc_call call,
                       const void *caller)
{
    if (lo > (unsigned)FDL_TABLE_MAX_FD)
        return;
    if (hi > (unsigned)FDL_TABLE_MAX_FD)
        hi = FDL_TABLE_MAX_FD;
    struct range_arg a = {cloexec_only, call, caller};
    fdl_table_each((int)lo, (int)hi, release_one, &a);
}

void fdl_track_owner(int fd, int owner_flag)
{
    fdl_table_set_flags(fd, (uint8_t)owner_flag, 0);
}

uint32_t fdl_track_here(enum fdc_call call, uint32_t *pystack)
{
    struct level l = level_begin();
    *pystack = fdl_cfg.python && l.nest == 0 ? fdl_python_stack(call) : 0;
    uint32_t id = capture_stack(l.nest, *pystack != 0);
    level_end(l);
    return id;
}

void fdl_set_cloexec(int fd, int on)
{
    fdl_table_set_flags(fd, on ? FDL_F_CLOEXEC : 0, on ? 0 : FDL_F_CLOEXEC);
}

/* Reads FD_CLOEXEC back from the kernel, for calls that change it internally (fdopendir). */
void fdl_sync_cloexec(int fd)
{
    long fl = syscall(SYS_fcntl, fd, F_GETFD);
    if (fl >= 0)
        fdl_set_cloexec(fd, (int)(fl & FD_CLOEXEC));
}

static long live_now(void)
{
    struct fdl_entry e;
    long n = 0;
    int lim = fdl_table_limit();
    for (int fd = 0; fd < lim; fd++) {
        int st = fdl_table_get(fd, &e);
        n += st == FDL_TRACKED || st == FDL_INHERITED;
    }
    return n;
}

void fdl_failed(enum fdc_call call, int err)
{
    if ((err != EMFILE && err != ENFILE) || !fdl_cfg.on_emfile || fdl_tls.nest)
        return; /* not from a signal handler that interrupted a recording: see check_threshold */
    /* One report per exhaustion: a program spinning on EMFILE gets one dump, and another only
     * once a tenth of its descriptors have been released since. */
    if (!__atomic_exchange_n(&emfile_armed, 0, __ATOMIC_ACQ_REL))
        return;
    struct level l = level_begin();
    long live = live_now();
    __atomic_store_n(&emfile_rearm_drop, live / 10 > 1 ? live / 10 : 1, __ATOMIC_RELAXED);
    __atomic_store_n(&emfile_net, 0, __ATOMIC_RELAXED);
    struct fdl_dump_req r = {.trigger = FDC_TRIG_EMFILE,
                             .safe = 1,
                             .snapshot_token = -1,
                             .call = call,
                             .err = err,
                             .stack = capture_stack(l.nest, 0)};
    fdl_dump(&r);
    level_end(l);
}
