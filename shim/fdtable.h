/* The fd table: one 32-byte record per descriptor number, in a two-level array indexed by fd
 * (chunks of 1024 records mapped on first use, never freed), so lookups take no lock and a
 * million live descriptors cost 32 MiB. Each record is guarded by its own sequence counter:
 * writers make it odd while they change the record, readers (the dump, possibly in a signal
 * handler that interrupted a writer) retry a bounded number of times. Shared fields are
 * accessed only through __atomic builtins. */
#ifndef FDL_FDTABLE_H
#define FDL_FDTABLE_H

#include <stdint.h>

enum fdl_state {
    FDL_FREE = 0,
    FDL_TRACKED,   /* acquired through a wrapped call */
    FDL_INHERITED, /* open when the shim started */
};

#define FDL_F_CLOEXEC 0x1
#define FDL_F_FILE 0x2     /* owned by a live FILE* (fopen, fdopen, popen, tmpfile, freopen) */
#define FDL_F_DIR 0x4      /* owned by a live DIR* (opendir, fdopendir) */
#define FDL_F_RELEASED 0x8 /* a free record the program released: rstack/rcall say where */
#define FDL_F_STOLEN 0x10  /* dup2/dup3 replaced a stream's descriptor: its fclose is misuse */

struct fdl_entry {
    uint32_t seq; /* odd while a writer is changing the record */
    /* The acquisition's stacks, kept after a release for misuse reports. */
    uint32_t stack;   /* stack id, 0 = none */
    uint32_t pystack; /* Python stack id, 0 = none */
    uint32_t path;    /* path id, 0 = none */
    union {
        uint32_t tid;    /* live: the acquiring thread */
        uint32_t rstack; /* FDL_F_RELEASED: the stack id of the release */
    };
    uint8_t state; /* enum fdl_state */
    uint8_t call;  /* enum fdc_call */
    union {
        uint8_t kind;  /* live: enum fdc_kind */
        uint8_t rcall; /* FDL_F_RELEASED: the releasing call */
    };
    uint8_t flags;    /* FDL_F_* */
    uint64_t time_ns; /* CLOCK_MONOTONIC_COARSE at acquisition */
};

#define FDL_TABLE_CHUNK 1024
#define FDL_TABLE_MAX_FD (1 << 30)

/* Writes the record of fd (allocating its chunk if needed). Returns the state the record had
 * (FDL_FREE if none), or -1 if fd is out of range or the chunk could not be mapped. */
int fdl_table_set(int fd, const struct fdl_entry *e);

/* Marks fd free; returns the state it had. */
int fdl_table_clear(int fd);

/* Copies a consistent record of fd into *out; returns its state (FDL_FREE if none). The copy
 * is taken as it is after a bounded number of retries (a signal handler must not spin on a
 * writer it interrupted): such reads are counted in fdl_table_reads_given_up. */
int fdl_table_get(int fd, struct fdl_entry *out);
extern unsigned long fdl_table_reads_given_up;

/* Marks a live fd free and released by rcall at rstack, keeping its acquisition stack and
 * call for misuse reports; *old_flags gets the flags it had. Returns the state it had; a free
 * record is left as it is. */
int fdl_table_release(int fd, uint32_t rstack, uint8_t rcall, uint8_t *old_flags);

/* Changes only the flags of a live record (F_SETFD, close_range(CLOEXEC)). */
void fdl_table_set_flags(int fd, uint8_t set, uint8_t clear);

/* Sets the Python stack of a live tracked record that has none (attached after the fact). */
void fdl_table_set_pystack(int fd, uint32_t pystack);

/* The fork child's reset: every tracked record becomes inherited (acquisition kept), so the
 * child reports only what it acquires itself. Work proportional to the chunks mapped. */
void fdl_table_inherit_all(void);

/* One past the highest fd whose chunk exists: every live record is below it. */
int fdl_table_limit(void);

/* Calls fn for every non-free record with fd in [lo, hi]; stops if fn returns non-zero. */
int fdl_table_each(int lo, int hi, int (*fn)(int fd, const struct fdl_entry *e, void *arg),
                   void *arg);

#endif
