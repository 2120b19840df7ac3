/* Reading our own process's memory without ever faulting (safemem.c). */
#ifndef FDL_SAFEMEM_H
#define FDL_SAFEMEM_H

#include "fdleak.h"

#include <sys/types.h>

/* Copies up to n bytes at src into dst through the kernel (process_vm_readv on our own pid):
 * an unmapped page, or a mapped file truncated under the mapping, ends the copy with an error
 * instead of SIGSEGV/SIGBUS. Returns the bytes copied (fewer than n when the range runs into
 * such a page), or -1 with errno set: EFAULT when the first byte cannot be read, ENOSYS or
 * EPERM when the kernel or a seccomp filter refuses the call (see fdl_safemem_usable).
 * Async-signal-safe; errno is set only on failure. */
ssize_t fdl_safemem_read(void *dst, const void *src, size_t n) FDL_HIDDEN;

/* 0 once process_vm_readv was refused as a whole (ENOSYS, EPERM): callers then do without
 * the memory rather than read it directly. */
int fdl_safemem_usable(void) FDL_HIDDEN;

#endif
