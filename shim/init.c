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
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

__thread struct fdl_thread fdl_tls;
__thread int fdl_vfork_child;
int fdl_ready;
static int init_state; /* 0 not started, 1 running, 2 done */

uint32_t fdl_tid_slow(void)
{
    fdl_tls.tid = (uint32_t)syscall(SYS_gettid);
    return fdl_tls.tid;
}

static void mark_inherited(int fd, void *arg)
{
    (void)arg;
    struct fdl_entry e = {0};
    e.state = FDL_INHERITED;
    e.kind = FDC_KIND_unknown;
    long fl = syscall(SYS_fcntl, fd, F_GETFD);
    e.flags = fl > 0 && (fl & FD_CLOEXEC) ? FDL_F_CLOEXEC : 0;
    if (fdl_table_set(fd, &e) == 0) {
        fdl_live++;
        fdl_peak_acquired(1);
    }
}

static void after_fork_child(void)
{
    fdl_tls.tid = 0;
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
    fdl_tls.busy++;
    fdl_config_load();
    fdl_track_init();
    fdl_list_fds(mark_inherited, NULL); /* everything open now was inherited */
    fdl_dump_init();
    fdl_signals_init();
    fdl_capture_init();
    pthread_atfork(fdl_capture_fork_prepare, fdl_capture_fork_parent, after_fork_child);
    if (fdl_cfg.python)
        fdl_python_init();
    fdl_tls.busy--;
    __atomic_store_n(&init_state, 2, __ATOMIC_RELEASE);
    __atomic_store_n(&fdl_ready, 1, __ATOMIC_RELEASE);
    errno = saved_errno;
}

int fdl_enter_slow(void)
{
    if (fdl_tls.busy || fdl_vfork_child)
        return 0;
    fdl_init();
    return __atomic_load_n(&fdl_ready, __ATOMIC_ACQUIRE) && !fdl_tls.busy;
}

/* The real _Fork runs no pthread_atfork handlers, so its child is reset here. */
FDL_EXPORT pid_t _Fork(void)
{
    fdl_capture_fork_prepare();
    pid_t p = REAL(_Fork)();
    int err = errno;
    if (p == 0)
        after_fork_child();
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
