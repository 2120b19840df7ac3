/* A dump, in order: one at a time (the dump lock), the process header, the open descriptors
 * (fdlist.c) with their records, the destination (dest.c), then the raw JSON dump
 * (docs/dump-format.md) or the text report on stderr. Also which dump is the process's final
 * one, and what happens when a fatal signal arrives while a dump is being written. This runs
 * at exit, in signal handlers, and inside a wrapper whose call just failed with EMFILE, so it
 * uses only raw syscalls, static buffers and mmap: no malloc, no stdio, no lock another thread
 * may hold, and no descriptor kept between dumps. */
#include "dump.h"
#include "dump_text.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Polls of the lock (or of a dump on another thread) and their interval: an exit or a fatal
 * signal waits up to LOCK_TRIES * LOCK_POLL_NS for a dump in progress elsewhere. */
#define LOCK_TRIES 400
#define LOCK_POLL_NS 5000000L
/* A fatal signal waits longer for a dump another thread is writing: it would be cut off. */
#define FATAL_WAIT_TRIES 2000
/* poll(2) accepts at most the soft limit of descriptors, and batches of this size are cheap. */
#define SWEEP_BATCH_MAX 1024

static uint32_t dump_owner; /* tid of the thread dumping, 0 = none */
static unsigned dump_seq;
static int final_claimed;
static int pending_sig; /* a fatal signal that arrived during this thread's dump */
static struct fdl_out out;
static char exe[1024];
static char cmdline[4096];
static size_t cmdline_len;

static uint64_t clock_ns(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void nap(void)
{
    struct timespec ts = {0, LOCK_POLL_NS};
    syscall(SYS_nanosleep, &ts, NULL);
}

static void read_process_info(void)
{
    long n = syscall(SYS_readlinkat, AT_FDCWD, FDL_PROC_SELF "/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = 0;
    cmdline_len = fdl_dest_read_proc(FDL_PROC_SELF "/cmdline", cmdline, sizeof(cmdline), NULL);
}

static int dump_lock(const struct fdl_dump_req *req)
{
    uint32_t me = fdl_tid(), expect = 0;
    /* An exit or a fatal signal waits (bounded) for a dump in progress on another thread;
     * on demand and threshold dumps simply skip. The same thread never waits on itself. */
    int wait = req->trigger == FDC_TRIG_EXIT || req->trigger == FDC_TRIG_FATAL ||
               req->trigger == FDC_TRIG_API;
    for (int i = 0; i < LOCK_TRIES; i++) {
        expect = 0;
        if (__atomic_compare_exchange_n(&dump_owner, &expect, me, 0, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED))
            return 1;
        if (!wait || expect == me)
            return 0;
        nap();
    }
    return 0;
}

int fdl_dump_final_claim(void)
{
    return !__atomic_exchange_n(&final_claimed, 1, __ATOMIC_ACQ_REL);
}

int fdl_dump_defer_fatal(int sig, int synchronous)
{
    uint32_t owner = __atomic_load_n(&dump_owner, __ATOMIC_ACQUIRE);
    if (!owner)
        return 0;
    if (owner == fdl_tid()) {
        /* A fault in the dump itself would only recur on return: die now. */
        if (synchronous)
            return 0;
        int expect = 0;
        __atomic_compare_exchange_n(&pending_sig, &expect, sig, 0, __ATOMIC_RELEASE,
                                    __ATOMIC_RELAXED);
        __atomic_store_n(&out.stop, 1, __ATOMIC_RELAXED);
        return 1;
    }
    for (int i = 0; i < FATAL_WAIT_TRIES && __atomic_load_n(&dump_owner, __ATOMIC_ACQUIRE); i++)
        nap();
    return 0;
}

void fdl_dump_after_fork(void)
{
    dump_owner = 0;
    dump_seq = 0;
    final_claimed = 0;
    pending_sig = 0;
    out.stop = 0;
    fdl_dest_after_fork();
}

/* A text report is for a person reading the program's stderr, which programs also parse: a
 * process that ends with nothing leaked and nothing of unknown origin says nothing, as
 * LeakSanitizer does. Asked-for reports (signal, snapshot) and exhaustion reports always
 * print. */
static int worth_a_text_report(const struct fdl_dump_req *req, const struct fdl_scratch *s)
{
    if (req->trigger != FDC_TRIG_EXIT && req->trigger != FDC_TRIG_FATAL)
        return 1;
    return s->truncated || !fdl_text_nothing_to_report(s);
}

void fdl_dump(const struct fdl_dump_req *req)
{
    if (fdl_borrowed_memory())
        return;
    int saved_errno = errno, sig = 0;
    int busy = fdl_busy_begin();
    if (!dump_lock(req))
        goto out_busy;
    /* A dump into the program's descriptor is not one of the process's numbered dumps. */
    if (!req->api)
        dump_seq++;

    struct fdl_dump_ctx h = {.req = req, .exe = exe, .cmdline = cmdline};
    syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &h.rl);
    h.now_coarse = clock_ns(CLOCK_MONOTONIC_COARSE);
    fdl_maps_read();
    read_process_info();
    h.seq = req->api ? dump_seq + 1 : dump_seq;
    h.cmdline_len = cmdline_len;

    long limit = (long)h.rl.rlim_cur;
    if (limit > FDL_TABLE_MAX_FD)
        limit = FDL_TABLE_MAX_FD;
    if (fdl_table_limit() > limit)
        limit = fdl_table_limit();
    struct fdl_scratch s = {0};
    long soft = h.rl.rlim_cur < SWEEP_BATCH_MAX ? (long)h.rl.rlim_cur : SWEEP_BATCH_MAX;
    fdl_fdlist_collect(&s, limit, soft);
    h.open_fds = s.n;
    if (req->api) {
        fdl_api_filter(&s, req->api);
        req->api->count = (int)s.n;
        if (req->api->count_only)
            goto done;
    }

    int fd = req->api ? req->api->fd : fdl_dest_open(req, dump_seq);
    if (fd == FDL_DEST_NONE)
        goto done;
    int text = fd == FDL_DEST_TEXT;
    if (text && (!worth_a_text_report(req, &s) || !fdl_msg_stderr_ok()))
        goto done;
    fdl_out_start(&out, text ? 2 : fd);
    if (text)
        fdl_write_text(&out, &s, &h);
    else
        fdl_write_json(&out, &s, &h);
    fdl_out_flush(&out);
    if (req->api)
        req->api->err = out.failed ? (out.err ? out.err : EIO) : 0;
    else if (!text)
        fdl_dest_finish(fd, &out);
done:
    fdl_fdlist_release(&s);
    __atomic_store_n(&dump_owner, 0, __ATOMIC_RELEASE);
    sig = __atomic_exchange_n(&pending_sig, 0, __ATOMIC_ACQ_REL);
out_busy:
    fdl_busy_end(busy);
    errno = saved_errno;
    /* A fatal signal came while this thread was dumping: the dump is complete, now die of it
     * (its handler ran and returned, so the signal is not blocked here). */
    if (sig)
        fdl_signals_die(sig);
}

void fdl_dump_init(void)
{
    fdl_msg_init();
    fdl_dest_init();
}
