/* JSON for fdleak's own formats. The reader (json_read.cc) parses a whole buffer with simdjson
 * and presents it as a tree of plain C nodes, which is what makes `fdleak report` of a
 * 100,000-descriptor dump finish well under a second. The writer (json_write.c) streams
 * indented JSON to a FILE. */
#ifndef FDT_TOOL_JSON_H
#define FDT_TOOL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

enum fdt_jtype { FDT_J_NULL, FDT_J_FALSE, FDT_J_TRUE, FDT_J_NUM, FDT_J_STR, FDT_J_ARR, FDT_J_OBJ };

struct fdt_jval {
    enum fdt_jtype type;
    bool is_int;           /* FDT_J_NUM without fraction or exponent */
    bool overflow;         /* an integer beyond int64_t: u.i is saturated */
    uint32_t n;            /* elements or members of an array or object */
    const char *key;       /* member name when inside an object */
    struct fdt_jval *next; /* next element or member */
    union {
        int64_t i;             /* FDT_J_NUM (truncated if not an integer) */
        const char *s;         /* FDT_J_STR, NUL-terminated */
        struct fdt_jval *kids; /* FDT_J_ARR, FDT_J_OBJ */
    } u;
};

struct fdt_jdoc;

/* Each value costs ~40 bytes of tree: this bounds the tree at ~1.3 GB whatever the input. */
#define FDT_JSON_MAX_VALUES (32u << 20)
#define FDT_JSON_MAX_VALUES_TEXT "33554432"

/* Parses buf[0..len) (not modified, not referenced afterwards: the document holds its own
 * strings). Containers may nest 64 deep; at most FDT_JSON_MAX_VALUES values. Integers beyond
 * 64 bits are read (as non-integers, overflow set) rather than refused, so that a key a reader
 * ignores cannot make the document unreadable. On error returns NULL with *line, *col (1-based, in
 * bytes; 0 when the error is not at one place) and a static *what; *truncated is set instead when
 * the input ended in the middle of a value. Strings in the tree are NUL-terminated UTF-8 (an
 * escaped U+0000 reads as U+FFFD) and live as long as the document. */
struct fdt_jdoc *fdt_json_parse(char *buf, size_t len, int *line, int *col, const char **what,
                                bool *truncated);
/* The same with flags. FDT_JSON_BYTES (raw dumps): an escape \u0080..\u00ff in a string is
 * the byte 0x80..0xff, not a character (docs/dump-format.md). */
#define FDT_JSON_BYTES 1u
struct fdt_jdoc *fdt_json_parse_flags(char *buf, size_t len, int *line, int *col, const char **what,
                                      bool *truncated, unsigned flags);
const struct fdt_jval *fdt_json_root(const struct fdt_jdoc *doc);
void fdt_json_free(struct fdt_jdoc *doc);

/* Member of an object by name, or NULL (also when o is not an object). */
const struct fdt_jval *fdt_json_get(const struct fdt_jval *o, const char *key);
const char *fdt_json_str(const struct fdt_jval *v); /* NULL unless a string */
bool fdt_json_is_int(const struct fdt_jval *v);

/* Streaming writer. */
struct fdt_jw {
    FILE *f;
    int depth;
    bool first[64];
};
void fdt_jw_init(struct fdt_jw *w, FILE *f);
void fdt_jw_obj(struct fdt_jw *w, const char *key); /* key NULL inside arrays or at top */
void fdt_jw_arr(struct fdt_jw *w, const char *key);
void fdt_jw_end(struct fdt_jw *w, char close);                     /* '}' or ']' */
void fdt_jw_str(struct fdt_jw *w, const char *key, const char *s); /* s NULL writes null */
void fdt_jw_int(struct fdt_jw *w, const char *key, int64_t v);
void fdt_jw_bool(struct fdt_jw *w, const char *key, bool v);
void fdt_jw_null(struct fdt_jw *w, const char *key);
void fdt_jw_double(struct fdt_jw *w, const char *key, double v); /* NaN, infinity: null */

#ifdef __cplusplus
}
#endif

#endif
