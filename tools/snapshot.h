/* Taking a snapshot of a live process under libfdleak.so, for `fdleak snapshot` (one) and
 * `fdleak watch` (one every interval): the pidfd that pins the process, the checks made before
 * every signal (libfdleak.so mapped, the dump signal caught in SigCgt, not ignored, not blocked
 * in every thread, a safe snapshot directory) and the bounded, non-blocking wait for the answer
 * (cmd_snapshot.c). */
#ifndef FDT_TOOL_SNAPSHOT_H
#define FDT_TOOL_SNAPSHOT_H

#include "dumpfile.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* What /proc tells about the target. */
struct fdt_target {
    long pid;
    int pidfd; /* pins the process: the pid cannot be reused while we hold it; -1 if no pidfd */
    uid_t euid;
    uint64_t caught, ignored, blocked_all; /* blocked_all: blocked in every thread */
    /* where the memory map, environment and current directory are read: /proc/PID, or a live
     * thread's /proc/PID/task/TID once the main thread has ended (the process lives on) */
    char view[64];
};

/* Pins pid. 0, or 1 after "no process PID". */
int fdt_target_open(struct fdt_target *t, long pid);
void fdt_target_close(struct fdt_target *t);
/* true while the pinned process has not exited. */
bool fdt_target_alive(const struct fdt_target *t);
/* Waits up to ms for the process to exit or the time to pass (a signal to us ends it early).
 * Returns true if it exited. */
bool fdt_target_wait_exit(const struct fdt_target *t, int ms);

/* Checks the target again (its handler, masks and directory may have changed since the last
 * time), asks it for a dump and waits up to timeout_s for it. Returns the dump, or NULL after
 * one line; *exited is set when the process was gone (before or during the wait). */
struct fdt_dump *fdt_snapshot_take(struct fdt_target *t, long timeout_s, bool *exited);

#endif
