/* Interning stores: each distinct byte string (an acquisition stack of instruction pointers,
 * a path, a Python frame) is stored once and named by a small integer id. Insertion is
 * lock-free (one CAS per new entry), never allocates with malloc, and never moves stored data,
 * so a dump running in a signal handler can read any published id while other threads insert.
 * Memory is reserved with mmap at init and committed by the kernel as it is touched. */
#ifndef FDL_INTERN_H
#define FDL_INTERN_H

#include <stddef.h>
#include <stdint.h>

struct fdl_intern {
    uint64_t *slots; /* (hash32 << 32) | id; 0 = empty */
    uint64_t mask;   /* slots - 1 */
    char *arena;     /* records: u32 len, u32 hash, bytes, 8-aligned */
    uint64_t arena_size;
    uint64_t used;  /* bytes of arena handed out; ids are offset/8 + 1 */
    uint32_t count; /* distinct entries stored */
    uint32_t full;  /* insertions refused because arena or table was full */
};

/* Reserves room for about `max_entries` entries of `arena_bytes` in total. 0 or -1. */
int fdl_intern_init(struct fdl_intern *s, uint32_t max_entries, uint64_t arena_bytes);

/* Returns the id of the bytes, inserting them if new; 0 if the store is full or unset. */
uint32_t fdl_intern_put(struct fdl_intern *s, const void *data, uint32_t len);

/* Bytes of a published id (and their length), or NULL for 0 / an invalid id. */
const void *fdl_intern_get(const struct fdl_intern *s, uint32_t id, uint32_t *len);

/* 64-bit hash of `len` bytes (word-wise; stacks are arrays of words). */
uint64_t fdl_hash(const void *data, size_t len);

#endif
