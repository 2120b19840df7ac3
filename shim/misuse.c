/* Descriptor misuse (issue 9): double close, bad descriptors, use after close, and closing
 * what a FILE* or DIR* owns. Everything here runs on failure paths only (a call failed with
 * EBADF, or a record was not live where a close expected it), so the wrappers' success paths
 * stay as they were. Events go to a fixed array mmap'd at start-up: claimed with one atomic
 * add, published with a flag, merged with an atomic count when kind, call and stack repeat;
 * no lock, so a signal handler may report while the thread it interrupted was reporting, and
 * a dump (possibly in a signal handler) reads only published events. */
#include "fdleak.h"
#include "fdtable.h"
#include "wrap.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static struct fdl_misuse *events;
static uint32_t claimed; /* slots handed out; may pass FDC_MISUSE_MAX (then dropped) */
static uint64_t dropped;

void fdl_misuse_init(void)
{
    void *m = mmap(NULL, sizeof(struct fdl_misuse) * FDC_MISUSE_MAX, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    events = m == MAP_FAILED ? NULL : m;
}

/* The child reports its own misuse; the parent's events stay in the parent's dump. */
void fdl_misuse_after_fork(void)
{
    if (events)
        for (uint32_t i = 0; i < FDC_MISUSE_MAX; i++)
            events[i].published = 0;
    claimed = 0;
    dropped = 0;
}

size_t fdl_misuse_count(void)
{
    uint32_t n = __atomic_load_n(&claimed, __ATOMIC_ACQUIRE);
    return events ? (n < FDC_MISUSE_MAX ? n : FDC_MISUSE_MAX) : 0;
}

const struct fdl_misuse *fdl_misuse_get(size_t i)
{
    if (!events || i >= FDC_MISUSE_MAX || !__atomic_load_n(&events[i].published, __ATOMIC_ACQUIRE))
        return NULL;
    return &events[i];
}

uint64_t fdl_misuse_dropped(void)
{
    return __atomic_load_n(&dropped, __ATOMIC_RELAXED);
}

/* Whether fd is open now, asked of the kernel directly (the wrappers must not see it). */
static int open_now(int fd)
{
    return fd >= 0 && syscall(SYS_fcntl, fd, F_GETFD) >= 0;
}

static void store(struct fdl_misuse *ev);

static void add(struct fdl_misuse *ev)
{
    if (fdl_cfg.misuse == FDL_MISUSE_OFF || fdl_borrowed_memory())
        return;
    int busy = fdl_busy_begin(); /* our own calls (stderr, dladdr) pass through */
    store(ev);
    fdl_busy_end(busy);
}

/* Merged when kind, call and stacks repeat (under Python the C stack stops at the interpreter:
 * the Python stack tells the lines apart); a bounded close_range names each number it closed
 * twice, so there the number is part of the key. */
static void store(struct fdl_misuse *ev)
{
    ev->stack = fdl_track_here((enum fdc_call)ev->call, &ev->pystack);
    ev->count = 1;
    if (fdl_cfg.misuse == FDL_MISUSE_ABORT) {
        fdl_text_misuse_now(ev);
        abort();
    }
    if (!events) {
        __atomic_fetch_add(&dropped, 1, __ATOMIC_RELAXED);
        return;
    }
    uint32_t n = __atomic_load_n(&claimed, __ATOMIC_ACQUIRE);
    for (uint32_t i = 0; i < n && i < FDC_MISUSE_MAX; i++) {
        struct fdl_misuse *e = &events[i];
        if (__atomic_load_n(&e->published, __ATOMIC_ACQUIRE) && e->kind == ev->kind &&
            e->call == ev->call && e->stack == ev->stack && e->pystack == ev->pystack &&
            (e->fd == ev->fd || ev->call != FDC_CALL_close_range)) {
            __atomic_fetch_add(&e->count, 1, __ATOMIC_RELAXED);
            return;
        }
    }
    uint32_t i = __atomic_fetch_add(&claimed, 1, __ATOMIC_ACQ_REL);
    if (i >= FDC_MISUSE_MAX) {
        __atomic_fetch_add(&dropped, 1, __ATOMIC_RELAXED);
        return;
    }
    struct fdl_misuse *e = &events[i];
    *e = *ev;
    e->published = 0;
    __atomic_store_n(&e->published, 1, __ATOMIC_RELEASE);
}

static int close_family(enum fdc_call call)
{
    return call == FDC_CALL_close || call == FDC_CALL_fclose || call == FDC_CALL_closedir ||
           call == FDC_CALL_pclose || call == FDC_CALL_close_range || call == FDC_CALL_closefrom;
}

static void from_released(struct fdl_misuse *ev, const struct fdl_entry *r)
{
    ev->closed_call = r->rcall;
    ev->closed_stack = r->rstack;
    ev->acquired_call = r->call;
    ev->acquired_stack = r->stack;
    ev->acquired_pystack = r->pystack;
}

void fdl_misuse_ebadf(int fd, enum fdc_call call)
{
    struct fdl_misuse ev = {.fd = fd, .call = (uint8_t)call};
    struct fdl_entry r;
    int st = fdl_table_get(fd, &r);
    /* Open again by now (another thread), or open behind our back (a raw syscall) while the
     * call failed for another argument (dup2's newfd past the limit): nothing certain. */
    if (st != FDL_FREE || open_now(fd))
        return;
    if (fd >= 0 && (r.flags & FDL_F_RELEASED)) {
        ev.kind = close_family(call) ? FDC_MISUSE_double_close : FDC_MISUSE_use_after_close;
        from_released(&ev, &r);
    } else {
        ev.kind = FDC_MISUSE_bad_fd;
    }
    add(&ev);
}

/* The failure path of the use wrappers (wrap_io.c, recvmsg, ioctl): out of line, so that
 * their success path is the real call and one compare. libunwind's drain read() of its
 * virtual pipe (unwind_io.c) fails with EBADF by design: not the program's. */
long fdl_misuse_failed(long r, int fd, enum fdc_call call, const void *caller)
{
    int err = errno;
    if (err == EBADF && !fdl_vfd(fd)) {
        int ok = likely(fdl_ready == FDL_READY && !(fdl_tls.busy | fdl_vfork_child)) ||
                 fdl_enter_slow(caller);
        if (ok)
            fdl_misuse_ebadf(fd, call);
    }
    errno = err;
    return r;
}

void fdl_misuse_reclose(int fd, enum fdc_call call)
{
    struct fdl_entry r;
    if (fdl_table_get(fd, &r) != FDL_FREE || !(r.flags & FDL_F_RELEASED) || open_now(fd))
        return;
    struct fdl_misuse ev = {.fd = fd, .call = (uint8_t)call, .kind = FDC_MISUSE_double_close};
    from_released(&ev, &r);
    add(&ev);
}

/* Only numbers the table has a chunk for can have been released. A range reaching the top
 * (closefrom, close_range(n, ~0U)) is the daemon idiom "close whatever is open": silent. */
void fdl_misuse_range(unsigned lo, unsigned hi)
{
    unsigned lim = (unsigned)fdl_table_limit();
    if (hi >= INT_MAX || lo >= lim)
        return;
    if (hi >= lim)
        hi = lim - 1;
    for (unsigned fd = lo; fd <= hi; fd++)
        fdl_misuse_reclose((int)fd, FDC_CALL_close_range);
}

void fdl_misuse_owned(int fd, enum fdc_call call, const struct fdl_entry *old)
{
    struct fdl_misuse ev = {.fd = fd,
                            .call = (uint8_t)call,
                            .kind = FDC_MISUSE_owned_close,
                            .acquired_call = old->call,
                            .acquired_stack = old->stack,
                            .acquired_pystack = old->pystack,
                            .owner = (old->flags & FDL_F_DIR) ? FDC_OWNER_DIR : FDC_OWNER_FILE};
    add(&ev);
}

void fdl_misuse_stolen(int fd, enum fdc_call call, const struct fdl_entry *cur)
{
    /* The stream closes the descriptor dup2/dup3 put on its number: the stream's own was
     * closed by that call, whose stack is the record's acquisition. */
    struct fdl_misuse ev = {.fd = fd,
                            .call = (uint8_t)call,
                            .kind = FDC_MISUSE_double_close,
                            .closed_call = cur->call,
                            .closed_stack = cur->stack};
    add(&ev);
}
