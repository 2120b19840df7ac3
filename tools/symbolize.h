/* Turning a dump's instruction pointers into functions, files and lines with elfutils (libdwfl),
 * using the dump's module map and build-ids. One symbolizer per dump; results are cached per
 * address, so each distinct frame is looked up once however many descriptors share it. */
#ifndef FDL_TOOL_SYMBOLIZE_H
#define FDL_TOOL_SYMBOLIZE_H

#include "dump.h"

#include <stdbool.h>
#include <stdint.h>

struct fdl_frame {
    uint64_t ip;          /* as in the dump (a return address) */
    const char *module;   /* path from the module map, "" if no module holds ip */
    uint64_t offset;      /* ip - 1 - module base: the call's address in the file */
    const char *function; /* NULL if unknown */
    const char *file;     /* NULL if unknown */
    int line;             /* 0 if unknown */
    bool inlined;         /* this frame was inlined into the next (outer) one */
};

struct fdl_sym;

/* Sets up symbolization for the modules of d; warns once per module whose file is missing or
 * has a different build-id than the dump says (its frames then show module+offset). */
struct fdl_sym *fdl_sym_new(const struct fdl_dump *d);
void fdl_sym_free(struct fdl_sym *s);

/* Symbolizes one ip: sets *frames to 1 or more frames, innermost (inlined) first, valid until
 * fdl_sym_free. Returns the number of frames. */
size_t fdl_sym_ip(struct fdl_sym *s, uint64_t ip, const struct fdl_frame **frames);

#endif
