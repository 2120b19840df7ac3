/* Leaked descriptors as a flame graph: folded stacks (flamegraph.pl's and speedscope's input,
 * "outer;...;inner;call() count") and a self-contained SVG drawn from them. */
#ifndef FDT_TOOL_FLAME_H
#define FDT_TOOL_FLAME_H

#include "model.h"

#include <stdio.h>

struct fdt_flame;

struct fdt_flame *fdt_flame_new(const char *cwd);
void fdt_flame_free(struct fdt_flame *f);
/* Adds every leaked group of p, one stack each, counted by its descriptors. */
void fdt_flame_add(struct fdt_flame *f, struct fdt_proc *p);
/* One line per distinct stack, sorted, identical stacks of several processes summed. */
void fdt_flame_folded(struct fdt_flame *f, FILE *out);
/* Writes the SVG to path. 0, or -1 after a message. */
int fdt_flame_svg(struct fdt_flame *f, const char *path, const char *title);

#endif
