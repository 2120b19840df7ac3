/* JSON for fdleak's own formats. The reader (json_read.cc) parses a whole buffer with simdjson
 * and presents it as a tree of plain C nodes, which is what makes `fdleak report` of a
 * 100,000-descriptor dump finish well under a second. The writer (json_write.c) streams
 * indented JSON to a FILE. */
#ifndef FDL_TOOL_JSON_H
#define FDL_TOOL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

enum fdl_jtype { FDL_J_NULL, FDL_J_FALSE, FDL_J_TRUE, FDL_J_NUM, FDL_J_STR, FDL_J_ARR, FDL_J_OBJ };

struct fdl_jval {
    enum fdl_jtype type;
    bool is_int;           /* FDL_J_NUM without fraction or exponent */
    uint32_t n;            /* elements or members of an array or object */
    const char *key;       /* member name when inside an object */
    struct fdl_jval *next; /* next element or member */
    union {
        int64_t i;             /* FDL_J_NUM (truncated if not an integer) */
        const char *s;         /* FDL_J_STR, NUL-terminated */
        struct fdl_jval *kids; /* FDL_J_ARR, FDL_J_OBJ */
    } u;
};

struct fdl_jdoc;

/* Parses buf[0..len) (not modified, not referenced afterwards: the document holds its own
 * strings). Containers may nest 64 deep. On error returns NULL with *line, *col (1-based, in
 * bytes) and a static *what; *truncated is set instead when the input ended in the middle of a
 * value. Strings in the tree are NUL-terminated UTF-8 (an escaped U+0000 reads as U+FFFD) and
 * live as long as the document. */
struct fdl_jdoc *fdl_json_parse(char *buf, size_t len, int *line, int *col, const char **what,
                                bool *truncated);
const struct fdl_jval *fdl_json_root(const struct fdl_jdoc *doc);
void fdl_json_free(struct fdl_jdoc *doc);

/* Member of an object by name, or NULL (also when o is not an object). */
const struct fdl_jval *fdl_json_get(const struct fdl_jval *o, const char *key);
const char *fdl_json_str(const struct fdl_jval *v); /* NULL unless a string */
bool fdl_json_is_int(const struct fdl_jval *v);

/* Streaming writer. */
struct fdl_jw {
    FILE *f;
    int depth;
    bool first[64];
};
void fdl_jw_init(struct fdl_jw *w, FILE *f);
void fdl_jw_obj(struct fdl_jw *w, const char *key); /* key NULL inside arrays or at top */
void fdl_jw_arr(struct fdl_jw *w, const char *key);
void fdl_jw_end(struct fdl_jw *w, char close);                     /* '}' or ']' */
void fdl_jw_str(struct fdl_jw *w, const char *key, const char *s); /* s NULL writes null */
void fdl_jw_int(struct fdl_jw *w, const char *key, int64_t v);
void fdl_jw_bool(struct fdl_jw *w, const char *key, bool v);
void fdl_jw_null(struct fdl_jw *w, const char *key);

#ifdef __cplusplus
}
#endif

#endif
