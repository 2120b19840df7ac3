/* fdleak's public C API: leak checks inside a program's own tests, for a process running under
 * libfdleak.so (LD_PRELOAD, or `fdleak run`). Take a checkpoint before a test, and after it ask
 * which descriptors were acquired since and are still open:
 *
 *     #include <fdleak.h>
 *     uint64_t cp = fdleak_begin();            // 0: the library is not loaded
 *     run_one_test();
 *     int n = fdleak_leaks_since(cp, out_fd, 0); // raw dump of the leaked ones into out_fd
 *
 * The functions are declared weak, so a test binary links and runs without the library: its
 * calls are then NULL, and the inline wrappers below return "not available" (0, or -1 with
 * errno ENOSYS) instead of crashing. Build with -I include; nothing to link. The references are
 * resolved when the program is loaded, through its GOT: true of PIE executables (the default
 * on Debian) and shared objects; in a non-PIE executable, compile the calling files with -fPIE
 * (or -fPIC), else the linker resolves them to NULL for good.
 *
 * The dump written is a raw dump (docs/dump-format.md, trigger "api"); render it with
 * `fdleak report FILE` (a file, not a pipe). These calls run in normal context, not in a
 * signal handler. */
#ifndef FDLEAK_H
#define FDLEAK_H

#include <errno.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Flags of fdleak_report_since. */
#define FDLEAK_COUNT_ONLY 0x1u /* write nothing (out_fd is ignored): only count */

/* A checkpoint: a value that orders this call after every acquisition that completed before it
 * and before every acquisition that starts after it returns (nonzero). It may wait for the next
 * tick of the coarse clock (a few ms) when a descriptor acquired in the current tick is open. */
uint64_t fdleak_checkpoint(void) __attribute__((weak));

/* Writes a raw dump of the descriptors acquired through a tracked call after `checkpoint` and
 * open now into out_fd (which is left open and itself left out of the dump), at its current
 * offset. checkpoint 0 means every open descriptor, inherited and unknown ones included.
 * Returns how many descriptors the dump lists, or -1 with errno: EBADF (out_fd < 0), EAGAIN
 * (the library is not ready yet, or another dump held it too long), EIO or the write's errno. */
int fdleak_report_since(uint64_t checkpoint, int out_fd, unsigned flags) __attribute__((weak));

/* Whether libfdleak.so is loaded in this process. */
static inline int fdleak_available(void)
{
    return fdleak_checkpoint != 0 && fdleak_report_since != 0;
}

/* fdleak_checkpoint, or 0 when the library is not loaded. */
static inline uint64_t fdleak_begin(void)
{
    return fdleak_available() ? fdleak_checkpoint() : 0;
}

/* fdleak_report_since, or -1 with errno ENOSYS when the library is not loaded (or when
 * checkpoint is 0 from fdleak_begin without it). */
static inline int fdleak_leaks_since(uint64_t checkpoint, int out_fd, unsigned flags)
{
    if (!fdleak_available()) {
        errno = ENOSYS;
        return -1;
    }
    return fdleak_report_since(checkpoint, out_fd, flags);
}

#ifdef __cplusplus
}
#endif

#endif
