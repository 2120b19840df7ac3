/* Start-up and per-process state: the constructor, lazy initialization for wrappers that run
 * before it, the inherited-descriptor scan, and the fork child's reset. Start-up does only
 * what every process needs (settings, one getdents of /proc/self/fd, signal handlers) and
 * keeps no descriptor open; libunwind is loaded on the first capture, which /bin/true never
 * makes. */
#include "fdleak.h"
#include "fdtable.h"
#include "wrap.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

__thread struct fdl_thread fdl_tls;
__thread int fdl_vfork_child;
int fdl_ready;
static int init_state; /* 0 not started, 1 running, 2 done */
static pid_t own_pid;  /* this process, for wrappers running in a shared-VM clone child */
static int shared_vm;  /* a clone(CLONE_VM) child was made (see fdl_clone_shared_vm) */

/* A signal handler's frame lies below the frame it interrupted by at least the red zone and
 * the kernel's signal frame (over 1 KiB on x86_64); two wrapper calls made from the same
 * program frame differ by their own frame sizes only (a few hundred bytes). An entry less than
 * this far below the recorded busy frame, on the same stack, cannot be nested in it. */
#define HEAL_SLACK 512

enum stack_id { STACK_THREAD, STACK_ALT, STACK_PRIVATE };

static enum stack_id stack_of(uintptr_t a, const stack_t *alt)
{
    if (fdl_capture_on_private_stack(a))
        return STACK_PRIVATE;
    if (alt && !(alt->ss_flags & SS_DISABLE) && a >= (uintptr_t)alt->ss_sp &&
        a - (uintptr_t)alt->ss_sp < alt->ss_size)
        return STACK_ALT;
    return STACK_THREAD;
}

/* Busy state whose recording frame no longer exists (a signal handler siglongjmp'd out of a
 * wrapped call) is undone here, at the next entry: otherwise tracking would stop for good on
 * this thread. The frame is gone if this entry runs on the same stack no deeper than it, or on
 * the thread's own stack while it was recorded on a signal or private stack (no frame there
 * is live once the thread is back on its own stack). Returns 1 if it undid anything. */
static int heal(void)
{
    uintptr_t f = fdl_tls.busy_frame, here = (uintptr_t)__builtin_frame_address(0);
    if (!f)
        return 0; /* a dump or start-up: short, and never left by a jump we could see */
    stack_t alt;
    int have_alt = syscall(SYS_sigaltstack, NULL, &alt) == 0;
    enum stack_id hs = stack_of(here, have_alt ? &alt : NULL);
    enum stack_id fs = stack_of(f, have_alt ? &alt : NULL);
    int stale = hs == fs ? here + HEAL_SLACK > f : hs == STACK_THREAD;
    if (!stale)
        return 0;
    fdl_tls.busy = 0;
    fdl_tls.busy_frame = 0;
    fdl_tls.nest = 0;
    fdl_tls.in_unwind = 0;
    fdl_capture_heal();
    return 1;
}

uint32_t fdl_tid_slow(void)
{
    fdl_tls.tid = (uint32_t)syscall(SYS_gettid);
    return fdl_tls.tid;
}

/* The kinds fstat tells for sure; the rest (regular files that may be memfd or shm, character
 * devices that may be ptys) are left to the dump, which reads /proc/self/fd. A copy made with
 * dup or F_DUPFD (CPython's _Py_dup of a pipe a spawn child was given) takes this kind. */
static enum fdc_kind inherited_kind(int fd)
{
    struct stat st;
    if (syscall(SYS_fstat, fd, &st) != 0)
        return FDC_KIND_unknown;
    return S_ISFIFO(st.st_mode)   ? FDC_KIND_pipe
           : S_ISSOCK(st.st_mode) ? FDC_KIND_socket
           : S_ISDIR(st.st_mode)  ? FDC_KIND_directory
                                  : FDC_KIND_unknown;
}

static void mark_inherited(int fd, void *arg)
{
    (void)arg;
    struct fdl_entry e = {0};
    e.state = FDL_INHERITED;
    e.kind = (uint8_t)inherited_kind(fd);
    long fl = syscall(SYS_fcntl, fd, F_GETFD);
    e.flags = fl > 0 && (fl & FD_CLOEXEC) ? FDL_F_CLOEXEC : 0;
    if (fdl_table_set(fd, &e) == 0) {
        fdl_track_inherited();
        fdl_peak_acquired(1);
    }
}

/* A fork child, or a raw clone child that copies our memory (wrap_clone.c). */
void fdl_after_fork_child(void)
{
    fdl_tls.tid = 0;
    own_pid = (pid_t)syscall(SYS_getpid);
    /* What the parent held is the child's inheritance, not its leaks: the records keep their
     * acquisition (stack, tid) for --show-inherited. */
    fdl_table_inherit_all();
    fdl_capture_fork_child();
    fdl_dump_after_fork();
    fdl_track_after_fork();
}

void fdl_init(void)
{
    int expect = 0;
    if (!__atomic_compare_exchange_n(&init_state, &expect, 1, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE))
        return; /* done, or running on another thread: that thread's calls pass through */
    int saved_errno = errno; /* may run inside the program's first wrapped call */
    int busy = fdl_busy_begin();
    own_pid = (pid_t)syscall(SYS_getpid);
    fdl_config_load();
    fdl_track_init();
    fdl_list_fds(mark_inherited, NULL); /* everything open now was inherited */
    fdl_dump_init();
    fdl_signals_init();
    fdl_capture_init();
    pthread_atfork(fdl_capture_fork_prepare, fdl_capture_fork_parent, fdl_after_fork_child);
    if (fdl_cfg.python)
        fdl_python_init();
    fdl_busy_end(busy);
    __atomic_store_n(&init_state, 2, __ATOMIC_RELEASE);
    __atomic_store_n(
        &fdl_ready, __atomic_load_n(&shared_vm, __ATOMIC_ACQUIRE) ? FDL_READY_SHARED_VM : FDL_READY,
        __ATOMIC_RELEASE);
    errno = saved_errno;
}

int fdl_enter_slow(const void *caller)
{
    if (fdl_vfork_child)
        return 0;
    int ready = __atomic_load_n(&fdl_ready, __ATOMIC_ACQUIRE);
    if (ready == FDL_READY_SHARED_VM && (pid_t)syscall(SYS_getpid) != own_pid)
        return 0; /* a clone(CLONE_VM) child: it shares our memory, not our descriptors */
    if (!ready) {
        if (fdl_tls.busy)
            return 0;
        fdl_init();
        return __atomic_load_n(&fdl_ready, __ATOMIC_ACQUIRE) && !fdl_tls.busy;
    }
    if (!fdl_tls.busy || heal())
        return 1;
    /* Inside the shim on this thread: either our own code (libunwind's calls, the dump's) or a
     * signal handler of the program that interrupted us, whose acquisitions are the program's
     * and are recorded (nested; without a stack if libunwind was interrupted). */
    return !fdl_capture_is_ours(caller);
}

int fdl_borrowed_memory(void)
{
    return fdl_vfork_child ||
           (__atomic_load_n(&fdl_ready, __ATOMIC_RELAXED) == FDL_READY_SHARED_VM &&
            (pid_t)syscall(SYS_getpid) != own_pid);
}

/* Never undone: the child may outlive any call we could see. Costs a getpid per wrapped call
 * from then on, in this process only (a fork child inherits it, harmlessly). */
void fdl_clone_shared_vm(void)
{
    __atomic_store_n(&shared_vm, 1, __ATOMIC_RELEASE);
    int expect = FDL_READY;
    __atomic_compare_exchange_n(&fdl_ready, &expect, FDL_READY_SHARED_VM, 0, __ATOMIC_ACQ_REL,
                                __ATOMIC_ACQUIRE);
}

/* The real _Fork runs no pthread_atfork handlers, so its child is reset here. */
FDL_EXPORT pid_t _Fork(void)
{
    fdl_capture_fork_prepare();
    pid_t p = REAL(_Fork)();
    int err = errno;
    if (p == 0)
        fdl_after_fork_child();
    else
        fdl_capture_fork_parent();
    errno = err;
    return p;
}

/* Error return of the vfork trampoline (vfork.S), which jumps here with the errno value. */
int fdl_vfork_error(int err) FDL_HIDDEN;
int fdl_vfork_error(int err)
{
    errno = err;
    return -1;
}

__attribute__((constructor)) static void fdl_constructor(void)
{
    fdl_init();
}

__attribute__((destructor)) static void fdl_destructor(void)
{
    fdl_exit_dump();
}
