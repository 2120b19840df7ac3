/* Fault-free reads of this process's own memory. */
#ifndef FDL_SAFEMEM_H
#define FDL_SAFEMEM_H

#include "fdleak.h"

#include <sys/types.h>

/* Copies n bytes from src (any address, possibly unmapped) to dst without faulting, with
 * process_vm_readv on ourselves. Returns the bytes copied (a short count stops at the first
 * unreadable page) or -1 with errno set (EFAULT: nothing at src). */
ssize_t fdl_safemem_read(void *dst, const void *src, size_t n) FDL_HIDDEN;

#endif
