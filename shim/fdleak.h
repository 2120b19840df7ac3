/* Shared internals of libfdleak.so: call and kind names, per-thread state, configuration,
 * and the narrow interfaces between the modules. Nothing here is exported (see exports.map). */
#ifndef FDL_FDLEAK_H
#define FDL_FDLEAK_H

#include <stddef.h>
#include <stdint.h>

#define FDL_HIDDEN __attribute__((visibility("hidden")))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* Internal invariants, checked in the debug build (make DEBUG=1, run by CI) and compiled out
 * otherwise. A failed check writes one fdleak: line and aborts: it is our bug, not the host's. */
#ifdef FDL_DEBUG
void fdl_assert_fail(const char *expr, const char *file, int line) FDL_HIDDEN
    __attribute__((noreturn));
#define FDL_ASSERT(x) (likely(x) ? (void)0 : fdl_assert_fail(#x, __FILE__, __LINE__))
#else
#define FDL_ASSERT(x) ((void)0)
#endif

/* Where the process's own /proc files are read: the calling thread's directory. /proc/self
 * is the main thread's, and once the main thread has called pthread_exit (the process living
 * on in its other threads) it lists no descriptor, memory map or command line. Since 3.17. */
#define FDL_PROC_SELF "/proc/thread-self"

/* Calls, kinds, origins and triggers, and their names in dumps: common/contract.h. */
#include "contract.h"

/* ---- per-thread state (initial-exec TLS: no allocation on first touch) ----
 * Read directly only by the inline fast paths below; every change goes through init.c
 * (fdl_busy_begin/end, fdl_thread_heal) and capture.c, with save/restore discipline so that a
 * frame abandoned by siglongjmp is detected and undone at the next entry (fdl_thread_heal). */
struct fdl_thread {
    int busy;             /* shim code running on this thread: its own libc calls pass through */
    uint32_t tid;         /* cached gettid(), 0 until first use; reset in a fork child */
    uintptr_t busy_frame; /* frame of the outermost fdl_busy_begin, 0 = not recorded */
    uint8_t nest;         /* recordings in progress (a signal handler's acquisition nests) */
    uint8_t in_unwind;    /* inside libunwind (or loading it): nested captures are refused */
    const void *caller;   /* the wrapper's return address, handed to fdl_track (wrap.h) */
};
extern __thread struct fdl_thread fdl_tls FDL_HIDDEN;
/* Set by the vfork trampoline (vfork.S) and the clone wrapper while a child borrows this
 * thread's memory and TLS. */
extern __thread int fdl_vfork_child FDL_HIDDEN;

/* Recording levels with their own capture buffer: the program's call, a signal handler's call
 * interrupting it, and one more. Deeper acquisitions are recorded without a stack. */
#define FDL_NEST_MAX 3

/* Saves the busy state and marks the shim busy; the outermost level records where its frame
 * is, so that init.c's heal can tell the frame is gone after a siglongjmp. */
static inline int fdl_busy_begin(void)
{
    char here;
    int saved = fdl_tls.busy;
    if (!saved)
        fdl_tls.busy_frame = (uintptr_t)&here;
    fdl_tls.busy = saved + 1;
    return saved;
}

static inline void fdl_busy_end(int saved)
{
    FDL_ASSERT(saved >= 0);
    fdl_tls.busy = saved;
    if (!saved)
        fdl_tls.busy_frame = 0;
}

/* ---- configuration (config.c), read once at start-up ---- */
struct fdl_config {
    char output[1024];  /* FDLEAK_OUTPUT template, "" = text on stderr */
    char snapdir[1024]; /* FDLEAK_SNAPSHOT_DIR, "" = the default (dest.c) */
    int depth;
    int py_depth;    /* FDLEAK_PY_DEPTH: Python frames kept per acquisition */
    int py_c_depth;  /* FDLEAK_PY_C_DEPTH: C frames kept below a Python stack, 0 = none */
    int dump_signal; /* 0 = none */
    long threshold;  /* absolute count, 0 = off (resolved from a percentage at init) */
    int on_exit, on_fatal, on_emfile, python;
    int py_walk;       /* FDLEAK_PY_WALK: read the frame chain where the CPython layout is known */
    int peak;          /* FDLEAK_PEAK: dump at each new peak, in geometric steps */
    int misuse;        /* FDLEAK_MISUSE: FDL_MISUSE_* */
    int release_depth; /* FDLEAK_RELEASE_DEPTH: frames kept per release, 0 = none */
};
#define FDL_PY_DEPTH_DEFAULT 64
#define FDL_PY_DEPTH_MAX 128
#define FDL_PY_C_DEPTH_DEFAULT 8
#define FDL_MISUSE_OFF 0
#define FDL_MISUSE_REPORT 1
#define FDL_MISUSE_ABORT 2
extern struct fdl_config fdl_cfg FDL_HIDDEN;
void fdl_config_load(void) FDL_HIDDEN;

/* ---- lifecycle (init.c) ---- */
/* init finished: wrappers track. FDL_READY_SHARED_VM once the process made a clone(CLONE_VM)
 * child that is not a thread: wrappers then also check they run in this process. */
extern int fdl_ready FDL_HIDDEN;
#define FDL_READY 1
#define FDL_READY_SHARED_VM 2
int fdl_enter_slow(const void *caller) FDL_HIDDEN;
void fdl_clone_shared_vm(void) FDL_HIDDEN;
void fdl_after_fork_child(void) FDL_HIDDEN; /* resets a child that copied our memory */
/* This code runs in a vfork or clone(CLONE_VM) child on our memory: no dumps, no records. */
int fdl_borrowed_memory(void) FDL_HIDDEN;
void fdl_init(void) FDL_HIDDEN;
uint32_t fdl_tid_slow(void) FDL_HIDDEN;
static inline uint32_t fdl_tid(void)
{
    return likely(fdl_tls.tid) ? fdl_tls.tid : fdl_tid_slow();
}

/* True when a wrapper should record: the shim is ready, this thread is not already inside the
 * shim, and this is not a vfork child running on its parent's memory. One predictable branch;
 * everything else (start-up, a signal handler's call interrupting the shim, the shim's own
 * calls, stale state left by siglongjmp, shared-VM children) is decided in fdl_enter_slow. */
static inline int fdl_enter(void)
{
    if (likely(fdl_ready == FDL_READY && !(fdl_tls.busy | fdl_vfork_child)))
        return 1;
    return fdl_enter_slow(__builtin_return_address(0));
}

/* ---- stacks of our own (stack.S): fn(a, b) run with %rsp = top (16-aligned), returning its
 * result; libunwind unwinds through it back onto the caller's stack. ---- */
long fdl_stack_call(void *a, long b, void *fn, void *top) FDL_HIDDEN;

/* ---- messages (msg.c): one line on stderr, prefixed "fdleak: " ---- */
void fdl_msg_init(void) FDL_HIDDEN;     /* remembers fd 2 as the process started with it */
int fdl_msg_stderr_ok(void) FDL_HIDDEN; /* fd 2 is still that open file: we may write there */
void fdl_msgv(const char *const *parts) FDL_HIDDEN;
#define fdl_msg(...) fdl_msgv((const char *const[]){__VA_ARGS__, NULL})
void fdl_msg_once(int *done, const char *a, const char *b, const char *c) FDL_HIDDEN;

/* ---- recording (track.c) ---- */
struct fdl_intern;
extern struct fdl_intern fdl_stacks FDL_HIDDEN;
extern struct fdl_intern fdl_paths FDL_HIDDEN;
extern struct fdl_intern fdl_pyframes FDL_HIDDEN; /* Python frames and Python stacks */

void fdl_track(const int *fds, int n, enum fdc_call call, enum fdc_kind kind, const char *path,
               int cloexec) FDL_HIDDEN;
void fdl_track_dup(int newfd, int oldfd, enum fdc_call call, int cloexec) FDL_HIDDEN;
void fdl_track_adopt(int fd, enum fdc_call call, enum fdc_kind kind) FDL_HIDDEN;
/* Releases fd on behalf of `call` made from `caller` (the wrapper's return address, the
 * release site kept for misuse reports). Returns the state the record had: FDL_FREE means
 * the release may be a misuse, to be decided after the real call (fdl_misuse_*). */
int fdl_release(int fd, enum fdc_call call, const void *caller) FDL_HIDDEN;
void fdl_release_range(unsigned lo, unsigned hi, int cloexec_only, enum fdc_call call,
                       const void *caller) FDL_HIDDEN;
/* Marks fd as owned by a FILE* or DIR* (FDL_F_FILE / FDL_F_DIR). */
void fdl_track_owner(int fd, int owner_flag) FDL_HIDDEN;
/* The current stack, interned, for a misuse event by `call` (0 if none), and in a thread
 * running Python code its Python stack (*pystack, else 0). */
uint32_t fdl_track_here(enum fdc_call call, uint32_t *pystack) FDL_HIDDEN;

/* ---- misuse (misuse.c): double close, bad fd, use after close, owned close ---- */
struct fdl_entry;
struct fdl_misuse {
    uint32_t published; /* 1 once every other field is written */
    uint32_t count;     /* identical events merged into this one */
    int32_t fd;
    uint8_t kind, call, closed_call, acquired_call, owner; /* fdc_misuse, fdc_call, fdc_owner */
    uint32_t stack, closed_stack, acquired_stack;
    uint32_t pystack;          /* where, in Python (the C stack then stops at the interpreter) */
    uint32_t acquired_pystack; /* the acquisition's Python stack, 0 = none */
};
void fdl_misuse_init(void) FDL_HIDDEN;
void fdl_misuse_after_fork(void) FDL_HIDDEN;
/* Events in the store (published or being written) and events dropped when it was full. */
size_t fdl_misuse_count(void) FDL_HIDDEN;
const struct fdl_misuse *fdl_misuse_get(size_t i) FDL_HIDDEN; /* NULL until published */
uint64_t fdl_misuse_dropped(void) FDL_HIDDEN;
/* A wrapped call on fd failed with EBADF (errno saved by the caller). */
void fdl_misuse_ebadf(int fd, enum fdc_call call) FDL_HIDDEN;
/* A wrapped call using fd failed (result r < 0): on EBADF, misuse is looked for unless the
 * caller is ours, a vfork or shared-VM child. Returns r with errno as it was. */
long fdl_misuse_failed(long r, int fd, enum fdc_call call, const void *caller) FDL_HIDDEN
    __attribute__((cold));
/* A close-family call (stream or bounded range) about to release fd, whose record is not
 * live: a double close if the program released it and it is not open now. */
void fdl_misuse_reclose(int fd, enum fdc_call call) FDL_HIDDEN;
/* A bounded close_range [lo, hi], before the real call. */
void fdl_misuse_range(unsigned lo, unsigned hi) FDL_HIDDEN;
/* close()/dup2()/dup3() took away a live FILE*'s or DIR*'s descriptor, recorded as *old. */
void fdl_misuse_owned(int fd, enum fdc_call call, const struct fdl_entry *old) FDL_HIDDEN;
/* fclose/closedir/pclose of a stream whose descriptor dup2/dup3 replaced (*cur). */
void fdl_misuse_stolen(int fd, enum fdc_call call, const struct fdl_entry *cur) FDL_HIDDEN;
/* Renders one event with the library's text on stderr (FDLEAK_MISUSE=abort): dump_text.c. */
void fdl_text_misuse_now(const struct fdl_misuse *ev) FDL_HIDDEN;
void fdl_set_cloexec(int fd, int on) FDL_HIDDEN;
void fdl_sync_cloexec(int fd) FDL_HIDDEN;
void fdl_failed(enum fdc_call call, int err) FDL_HIDDEN;
void fdl_track_init(void) FDL_HIDDEN;
void fdl_track_after_fork(void) FDL_HIDDEN;
void fdl_track_inherited(void) FDL_HIDDEN;
#define FDL_STAT_SHARDS 16
struct fdl_stat {
    struct {
        long v;
        char pad[64 - sizeof(long)];
    } shard[FDL_STAT_SHARDS];
};
extern struct fdl_stat fdl_stat_acquired, fdl_stat_released, fdl_stat_unwind_failed FDL_HIDDEN;
void fdl_stat_add(struct fdl_stat *s, long v) FDL_HIDDEN;
uint64_t fdl_stat_sum(const struct fdl_stat *s) FDL_HIDDEN;

/* ---- the peak live count (peak.c), fed by track.c and the inherited scan ---- */
void fdl_peak_acquired(long n) FDL_HIDDEN;
void fdl_peak_released(long n) FDL_HIDDEN;
long fdl_peak_get(uint64_t *time_ns) FDL_HIDDEN; /* highest live count, and when (realtime) */

/* ---- stack capture (capture.c) ---- */
/* Unwinds up to max frames of the caller into the per-thread buffer of nesting level `level`
 * (< FDL_NEST_MAX) and points *ips at it; returns the frame count, 0 if none. Refused (0) while
 * this thread is already unwinding. */
int fdl_capture(int level, int max, const uintptr_t **ips) FDL_HIDDEN;
void fdl_capture_init(void) FDL_HIDDEN;
/* The id of one of the last few level-0 stacks this thread stored, if ips[0..n) is one of
 * them, else 0; and remembering one (with the private stack, not in TLS: see capture.c). */
uint32_t fdl_capture_last_id(const uintptr_t *ips, int n) FDL_HIDDEN;
void fdl_capture_set_last(const uintptr_t *ips, int n, uint32_t id) FDL_HIDDEN;
/* Whether a call returning to `caller` comes from the shim or from libunwind. */
int fdl_capture_is_ours(const void *caller) FDL_HIDDEN;
/* Which stack `addr` is on, as far as this thread's unwinding is concerned. */
int fdl_capture_on_private_stack(uintptr_t addr) FDL_HIDDEN;
/* Undoes this thread's capture state left behind by an abandoned frame. */
void fdl_capture_heal(void) FDL_HIDDEN;
void fdl_capture_fork_prepare(void) FDL_HIDDEN;
void fdl_capture_fork_parent(void) FDL_HIDDEN;
void fdl_capture_fork_child(void) FDL_HIDDEN;

/* ---- Python stacks (python.c) ---- */
void fdl_python_init(void) FDL_HIDDEN;
void fdl_python_embedded(void *handle) FDL_HIDDEN;    /* a libpython the program dlopen()ed */
void *fdl_python_symbol(const char *name) FDL_HIDDEN; /* CPython's, wherever it was found */
void fdl_python_hook_point(void) FDL_HIDDEN; /* may register the audit hook: the GIL is held */
void fdl_python_acquired(int fd, enum fdc_call call, uint32_t pystack) FDL_HIDDEN;
/* The calling thread's Python stack (or, with the audit hook, the pending one if it is this
 * call's); 0 if none. */
uint32_t fdl_python_stack(enum fdc_call call) FDL_HIDDEN;
/* A Python stack is frame ids, innermost first, then (when frames were dropped past
 * FDLEAK_PY_DEPTH) one word FDL_PY_TRUNCATED | count. Its frame ids, how many, and that count. */
#define FDL_PY_TRUNCATED 0x80000000u
const uint32_t *fdl_python_frames(uint32_t pystack, uint32_t *n, uint32_t *dropped) FDL_HIDDEN;

/* ---- CPython's eval loop (pyeval.c): the outer end of a Python acquisition's C stack ---- */
/* Whether _PyEval_EvalFrameDefault's range is known; looks it up on the first call (not from
 * a signal handler: dlsym). */
int fdl_pyeval_known(void) FDL_HIDDEN;
/* The number of frames of ips[0..n) before the first return address into the eval loop (n if
 * none); only after fdl_pyeval_known() said 1. */
int fdl_pyeval_cut(const uintptr_t *ips, int n) FDL_HIDDEN;

/* ---- dumps (dump.c and the modules in dump.h) ---- */
struct fdl_dump_req {
    enum fdc_trigger trigger;
    int signal;         /* fatal-signal / signal */
    int safe;           /* not in a signal handler: dladdr and waiting are allowed */
    int snapshot_token; /* >= 0: write to the snapshot dir for `fdleak snapshot` */
    enum fdc_call call; /* emfile / threshold */
    int err;            /* emfile */
    uint32_t stack;     /* emfile / threshold */
    long threshold;
    struct fdl_api_req *api; /* api: the caller's descriptor and filter (dump.h), else NULL */
};
void fdl_dump(const struct fdl_dump_req *req) FDL_HIDDEN;
void fdl_dump_after_fork(void) FDL_HIDDEN; /* fork child: no dump running, none final yet */
void fdl_dump_init(void) FDL_HIDDEN;
/* The final dump (at exit, or of a fatal signal) is made once per process: 1 for the caller
 * that gets to make it. */
int fdl_dump_final_claim(void) FDL_HIDDEN;
/* From a fatal-signal handler: 1 if a dump this handler interrupted on this thread is to be
 * finished first (the signal is then re-raised when it ends, see fdl_signals_die); a dump on
 * another thread is waited for, bounded, and 0 returned. */
int fdl_dump_defer_fatal(int sig, int synchronous) FDL_HIDDEN;
int fdl_list_fds(void (*fn)(int fd, void *arg), void *arg) FDL_HIDDEN; /* fdlist.c */

/* ---- signals (signals.c) ---- */
void fdl_signals_init(void) FDL_HIDDEN;
void fdl_exit_dump(void) FDL_HIDDEN;
/* Dies of sig as the program would without us: default disposition, resent to this thread. */
void fdl_signals_die(int sig) FDL_HIDDEN;

#endif
