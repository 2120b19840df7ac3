/* Suppression files (README.md, "Suppressions"): reading them, matching their entries against
 * each leaked descriptor's symbolized stack, call, kind and path, counting what each entry left
 * out, and writing ready entries for the groups that remain (--gen-suppressions). */
#ifndef FDT_TOOL_SUPPRESS_H
#define FDT_TOOL_SUPPRESS_H

#include "model.h"

#include <stdbool.h>
#include <stdio.h>

struct fdt_supp;

/* Reads the files in order (the default file, if any, first). On a file that cannot be read or
 * does not parse, prints one line naming FILE:LINE and returns NULL. Returns an empty set for
 * no files. */
struct fdt_supp *fdt_supp_load(const char *const *files, size_t nfiles);
void fdt_supp_free(struct fdt_supp *s);

/* Takes the descriptors of p that an entry matches out of its groups (the first matching entry
 * in file order takes a descriptor) and records per entry what it took (p->hits). */
void fdt_supp_apply(struct fdt_supp *s, struct fdt_proc *p);

/* Prints "fdleak: unused suppression NAME (FILE:LINE)" to out for every entry that matched
 * nothing in any process so far. */
void fdt_supp_print_unused(const struct fdt_supp *s, FILE *out);

/* Names given to generated entries, kept across processes so that names stay unique and the
 * same leak in several processes is written once. */
struct fdt_supp_gen;
struct fdt_supp_gen *fdt_supp_gen_new(void);
void fdt_supp_gen_free(struct fdt_supp_gen *g);

/* The entry for group g of p (malloc'd text, "{\n...}\n"), with a name unique within gen.
 * *dup is set when gen already produced the same entry (under the same name). */
char *fdt_supp_gen_entry(struct fdt_supp_gen *gen, struct fdt_proc *p, const struct fdt_group *g,
                         bool *dup);

#endif
