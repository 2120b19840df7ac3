/* The command's report model: one process's dump with its leaked descriptors grouped by
 * (stack, Python stack, call), largest group first and ties by lowest fd, kind "mixed" when
 * a group's descriptors differ, the inherited and unknown-origin lists, and each stack
 * symbolized once (inlined frames expanded) for every renderer that asks. The same grouping
 * rule as the library's own text report (shim/dump_text.c). */
#ifndef FDT_TOOL_MODEL_H
#define FDT_TOOL_MODEL_H

#include "dumpfile.h"
#include "symbolize.h"

#include <stdbool.h>

struct fdt_group {
    const char *call, *kind; /* kind is "mixed" if the fds differ */
    uint32_t stack, pystack;
    size_t count;
    size_t *fds; /* indices into dump->fds, ascending fd */
};

struct fdt_stack_frames; /* symbolized stacks, per index of dump->stacks */

/* What one suppression rule left out of a proc (suppress.c). */
struct fdt_supp_hit {
    const char *rule;
    size_t count, groups;
};

struct fdt_proc {
    struct fdt_dump *dump;
    struct fdt_sym *sym;
    size_t ngroups, leaked, ninherited, nunknown;
    struct fdt_group *groups;    /* largest first, ties by first fd */
    size_t *inherited, *unknown; /* indices into dump->fds */
    bool truncated;              /* the library could not list every descriptor */
    size_t nearlier;
    const struct fdt_dump **earlier; /* earlier dumps of the same process (fdleak run) */
    bool shown_as_earlier;           /* fdleak run: an earlier dump shown because it held more */
    struct fdt_stack_frames *frames;
    size_t nsuppressed, nsupp_groups, nhits; /* left out by suppressions */
    struct fdt_supp_hit *hits;               /* per rule that matched, in the rules' order */
};

/* Groups the descriptors of d (which the proc then owns, with its symbolizer). */
void fdt_proc_init(struct fdt_proc *p, struct fdt_dump *d);
/* Frees everything the proc owns, its dump included (not the earlier dumps). */
void fdt_proc_fini(struct fdt_proc *p);

/* The symbolized frames of a stack, innermost first, inlined frames expanded: sets *frames to
 * an array owned by the proc (valid until fdt_proc_fini) and returns its length; 0 for an
 * unknown or empty stack. */
size_t fdt_proc_frames(struct fdt_proc *p, uint32_t stack, const struct fdt_frame *const **frames);

/* One frame of a group's whole stack, as suppressions and flame graphs see it: either a C
 * frame or a Python frame. */
struct fdt_xframe {
    const struct fdt_frame *c;
    const struct fdt_dpyframe *py;
};

/* The whole stack of group g, innermost first: its C frames (inlined frames expanded, the
 * start-up frames trimmed, and below a Python stack cut where the interpreter's eval loop
 * begins, as the text report shows them), then its Python frames. Returns the count and a
 * malloc'd array in *out (NULL when empty). */
size_t fdt_proc_xstack(struct fdt_proc *p, const struct fdt_group *g, struct fdt_xframe **out);

/* Takes the descriptors marked in removed (indexed like dump->fds) out of the groups: groups
 * left empty go, counts and kinds are recomputed, the order is restored, leaked updated. */
void fdt_proc_remove_fds(struct fdt_proc *p, const bool *removed);

#endif
