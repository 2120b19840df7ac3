/* Buffered output for reports: a fixed buffer flushed with write(2), number and JSON string
 * formatting by hand, and the one way the library writes to a descriptor (fdl_out_write).
 * No allocation, no stdio, no locale: safe in a signal handler. */
#ifndef FDL_OUT_H
#define FDL_OUT_H

#include <stddef.h>
#include <stdint.h>

struct fdl_out {
    int fd;
    int failed; /* a write failed (disk full, closed pipe): the rest is dropped */
    int err;
    int stop; /* set from a fatal-signal handler: give up on a write the signal interrupted */
    size_t n;
    char buf[1 << 16];
};

/* write(2) that never raises a signal in the host: SIGPIPE is blocked around the call and,
 * if the write failed with EPIPE, the SIGPIPE it raised is consumed (one already pending
 * before is left alone). errno as write(2) leaves it. */
long fdl_out_write(int fd, const void *buf, size_t n);

void fdl_out_start(struct fdl_out *o, int fd);
void fdl_out_flush(struct fdl_out *o);
void fdl_out_mem(struct fdl_out *o, const char *s, size_t len);
void fdl_out_str(struct fdl_out *o, const char *s);
void fdl_out_u64(struct fdl_out *o, uint64_t v);
void fdl_out_i64(struct fdl_out *o, int64_t v);
void fdl_out_hex(struct fdl_out *o, uint64_t v);                 /* 0x... */
void fdl_out_json(struct fdl_out *o, const char *s, size_t len); /* quoted, escaped */
void fdl_out_jstr(struct fdl_out *o, const char *s);             /* quoted, NUL-terminated */
/* Small helpers to format into a caller's buffer. */
size_t fdl_fmt_u64(char *dst, uint64_t v);

#endif
