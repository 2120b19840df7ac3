/* Turning a dump's instruction pointers into functions, files and lines with elfutils (libdwfl),
 * using the dump's module map and build-ids. One symbolizer per dump, but the module files and
 * their results are shared by all symbolizers of the process: each distinct frame of a module
 * is looked up once however many descriptors and dumps share it. */
#ifndef FDT_TOOL_SYMBOLIZE_H
#define FDT_TOOL_SYMBOLIZE_H

#include "dumpfile.h"

#include <stdbool.h>
#include <stdint.h>

struct fdt_frame {
    uint64_t ip;          /* as in the dump (a return address) */
    const char *module;   /* path from the module map, "" if no module holds ip */
    uint64_t offset;      /* ip - 1 - module base: the call's address in the file */
    const char *function; /* NULL if unknown */
    const char *file;     /* NULL if unknown */
    int line;             /* 0 if unknown */
    bool inlined;         /* this frame was inlined into the next (outer) one */
};

struct fdt_sym;

/* Sets up symbolization for the modules of d; warns once per module file (per process) that is
 * missing, not a regular file, or has a different build-id than the dump says (its frames then
 * show module+offset). Files are opened on the first fdt_sym_ip that needs them. */
struct fdt_sym *fdt_sym_new(const struct fdt_dump *d);
void fdt_sym_free(struct fdt_sym *s);

/* Symbolizes one ip: sets *frames to 1 or more frames, innermost (inlined) first, valid until
 * fdt_sym_free. Returns the number of frames. */
size_t fdt_sym_ip(struct fdt_sym *s, uint64_t ip, const struct fdt_frame **frames);

#endif
