/* The contract between libfdleak.so and the fdleak command, defined once: the dump format and
 * its version, the snapshot request (signal, magic value, directory and file names), the
 * default and maximum stack depth, and the names of origins, triggers, calls and kinds as they
 * appear in dumps. Compiled into both components (the .c files of common/); tests read the
 * #defines of this file (tests/lib.py, contract()). Everything here is async-signal-safe and
 * allocation-free, because the library uses it in signal handlers. */
#ifndef FDC_CONTRACT_H
#define FDC_CONTRACT_H

#include <stddef.h>

/* ---- formats ---- */
#define FDC_DUMP_FORMAT "fdleak-dump" /* raw dump: docs/dump-format.md */
#define FDC_DUMP_VERSION 1
#define FDC_REPORT_FORMAT "fdleak-report" /* fdleak --json: README.md, "JSON report" */
#define FDC_REPORT_VERSION 1
#define FDC_DIFF_FORMAT "fdleak-diff" /* fdleak diff --json: README.md, "fdleak diff" */
#define FDC_DIFF_VERSION 1
#define FDC_WATCH_FORMAT "fdleak-watch" /* fdleak watch --json: README.md, "fdleak watch" */
#define FDC_WATCH_VERSION 1

/* ---- peak dumps (FDLEAK_PEAK=1, fdleak run --peak): the first at FDC_PEAK_FIRST live
 * descriptors, then each time the count passes FDC_PEAK_FACTOR times the last one, so a
 * process growing to N descriptors writes O(log N) of them. ---- */
#define FDC_PEAK_FIRST 64
#define FDC_PEAK_FACTOR 2

/* ---- stacks ---- */
#define FDC_DEPTH_DEFAULT 16 /* C frames per acquisition (FDLEAK_DEPTH, --depth) */
#define FDC_DEPTH_MAX 128

/* ---- text reports ---- */
#define FDC_TEXT_FDS_PER_GROUP 20 /* descriptors listed per group (fdleak --fds) */

/* ---- snapshots: `fdleak snapshot PID` sigqueue()s the dump signal with
 * sival_int = FDC_SNAPSHOT_MAGIC | token; the library writes
 * <snapshot dir>/snapshot.<pid>.<token>.json (via a .tmp file renamed into place). ---- */
#define FDC_SNAPSHOT_MAGIC 0x46440000u /* "FD" << 16 */
#define FDC_SNAPSHOT_MAGIC_MASK 0xffff0000u
#define FDC_SNAPSHOT_TOKEN_MASK 0x0000ffffu
#define FDC_SNAPSHOT_DIR_PREFIX "/tmp/fdleak-" /* + effective uid, unless FDLEAK_SNAPSHOT_DIR */
#define FDC_SNAPSHOT_FILE_PREFIX "snapshot."
#define FDC_SNAPSHOT_FILE_SUFFIX ".json"
#define FDC_SIGNAL_DEFAULT_NAME "RTMAX-3" /* FDLEAK_SIGNAL default */
#define FDC_SIGNAL_DEFAULT_RTMAX_OFFSET 3

/* ---- `fdleak run`: dumps are <dir>/fdleak.<pid>.<seq>.json. With FDLEAK_RUN_DIR=<dir> set,
 * the library also creates <dir>/started.<pid> (content: the executable's path) when a process
 * starts tracking, so that the command can name every process that wrote no dump. ---- */
#define FDC_RUN_FILE_PREFIX "fdleak."
#define FDC_RUN_STARTED_PREFIX "started."
#define FDC_RUN_DIR_ENV "FDLEAK_RUN_DIR"

/* ---- names in dumps ---- */
enum fdc_origin { FDC_ORIGIN_TRACKED, FDC_ORIGIN_INHERITED, FDC_ORIGIN_UNKNOWN, FDC_ORIGIN_COUNT };

enum fdc_trigger {
    FDC_TRIG_EXIT,
    FDC_TRIG_FATAL,
    FDC_TRIG_SIGNAL,
    FDC_TRIG_EMFILE,
    FDC_TRIG_THRESHOLD,
    FDC_TRIG_PEAK, /* FDLEAK_PEAK: the live count passed FDC_PEAK_FACTOR x the last peak dump */
    FDC_TRIG_API,  /* fdleak_report_since (include/fdleak.h), into the caller's descriptor */
    FDC_TRIG_COUNT
};

/* Acquiring and releasing calls, then (from read on) the calls checked for use after close,
 * under the name the programmer wrote: fortified variants (__open_2) report as open. The order is
 * the dump's; append only. */
/* clang-format off */
#define FDC_CALLS(X)                                                                       \
    X(none, "")                                                                            \
    X(open, "open") X(open64, "open64") X(openat, "openat") X(openat64, "openat64")        \
    X(creat, "creat") X(creat64, "creat64")                                                \
    X(fopen, "fopen") X(fopen64, "fopen64") X(freopen, "freopen") X(freopen64, "freopen64") \
    X(fdopen, "fdopen") X(opendir, "opendir") X(fdopendir, "fdopendir")                    \
    X(tmpfile, "tmpfile") X(tmpfile64, "tmpfile64")                                        \
    X(mkstemp, "mkstemp") X(mkostemp, "mkostemp") X(mkstemps, "mkstemps")                  \
    X(mkostemps, "mkostemps") X(mkstemp64, "mkstemp64") X(mkostemp64, "mkostemp64")        \
    X(mkstemps64, "mkstemps64") X(mkostemps64, "mkostemps64")                              \
    X(popen, "popen")                                                                      \
    X(socket, "socket") X(socketpair, "socketpair") X(accept, "accept") X(accept4, "accept4") \
    X(pipe, "pipe") X(pipe2, "pipe2")                                                      \
    X(dup, "dup") X(dup2, "dup2") X(dup3, "dup3") X(fcntl, "fcntl") X(fcntl64, "fcntl64")  \
    X(eventfd, "eventfd") X(timerfd_create, "timerfd_create") X(signalfd, "signalfd")      \
    X(epoll_create, "epoll_create") X(epoll_create1, "epoll_create1")                      \
    X(inotify_init, "inotify_init") X(inotify_init1, "inotify_init1")                      \
    X(fanotify_init, "fanotify_init") X(memfd_create, "memfd_create")                      \
    X(posix_openpt, "posix_openpt") X(getpt, "getpt") X(openpty, "openpty")                \
    X(forkpty, "forkpty") X(shm_open, "shm_open") X(mq_open, "mq_open")                    \
    X(pidfd_open, "pidfd_open") X(pidfd_getfd, "pidfd_getfd")                              \
    X(open_by_handle_at, "open_by_handle_at") X(recvmsg, "recvmsg") X(recvmmsg, "recvmmsg") \
    X(fsopen, "fsopen") X(fsmount, "fsmount") X(fspick, "fspick") X(open_tree, "open_tree") \
    X(close, "close") X(fclose, "fclose") X(closedir, "closedir") X(pclose, "pclose")      \
    X(mq_close, "mq_close") X(close_range, "close_range") X(closefrom, "closefrom")      \
    X(read, "read") X(write, "write") X(pread, "pread") X(pread64, "pread64")              \
    X(pwrite, "pwrite") X(pwrite64, "pwrite64") X(readv, "readv") X(writev, "writev")      \
    X(send, "send") X(recv, "recv") X(sendto, "sendto") X(recvfrom, "recvfrom")            \
    X(sendmsg, "sendmsg") X(fstat, "fstat") X(fstat64, "fstat64") X(lseek, "lseek")        \
    X(lseek64, "lseek64") X(ioctl, "ioctl") X(mmap, "mmap") X(mmap64, "mmap64")            \
    X(epoll_ctl, "epoll_ctl")

#define FDC_KINDS(X)                                                                       \
    X(unknown, "unknown") X(file, "file") X(directory, "directory") X(pipe, "pipe")        \
    X(socket, "socket") X(eventfd, "eventfd") X(epoll, "epoll") X(timerfd, "timerfd")      \
    X(signalfd, "signalfd") X(inotify, "inotify") X(fanotify, "fanotify") X(memfd, "memfd") \
    X(pty, "pty") X(shm, "shm") X(mqueue, "mqueue") X(pidfd, "pidfd")
/* clang-format on */

/* Descriptor misuse (issue 9), as named in dumps and reports: a close of a descriptor already
 * released and not open, a negative or never-opened descriptor, a call failing with EBADF on a
 * released one, a close (or dup2/dup3 onto) of a descriptor a live FILE* or DIR* owns. */
#define FDC_MISUSES(X)                                                                             \
    X(double_close, "double_close")                                                                \
    X(bad_fd, "bad_fd") X(use_after_close, "use_after_close") X(owned_close, "owned_close")
/* Owners of a descriptor, for owned_close: "" when none. */
enum fdc_owner { FDC_OWNER_none, FDC_OWNER_FILE, FDC_OWNER_DIR, FDC_OWNER_COUNT };
/* Misuse events kept per process (library: a fixed array; identical events are merged). */
#define FDC_MISUSE_MAX 256

#define FDC_ENUM_CALL(id, name) FDC_CALL_##id,
#define FDC_ENUM_KIND(id, name) FDC_KIND_##id,
enum fdc_call { FDC_CALLS(FDC_ENUM_CALL) FDC_CALL_COUNT };
enum fdc_kind { FDC_KINDS(FDC_ENUM_KIND) FDC_KIND_COUNT };
#define FDC_ENUM_MISUSE(id, name) FDC_MISUSE_##id,
enum fdc_misuse { FDC_MISUSES(FDC_ENUM_MISUSE) FDC_MISUSE_COUNT };

/* Names as written in dumps; out-of-range values read as "" (call), "unknown" (kind). */
const char *fdc_call_name(unsigned call);
const char *fdc_kind_name(unsigned kind);
const char *fdc_origin_name(unsigned origin);
const char *fdc_misuse_name(unsigned misuse); /* "" when out of range */
const char *fdc_owner_name(unsigned owner);   /* "FILE", "DIR" or "" */
const char *fdc_trigger_name(unsigned trigger);
/* Reverse lookups for readers of dumps: -1 if the name is not known. */
int fdc_origin_from_name(const char *name);
int fdc_trigger_from_name(const char *name);
int fdc_misuse_from_name(const char *name);
int fdc_owner_from_name(const char *name);
int fdc_call_from_name(const char *name);

#endif
