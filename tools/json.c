/* JSON reading (in place, arena-allocated tree, recursion bounded at 64 levels) and streaming
 * writing for fdleak's dump and report formats. */
#include "json.h"

#include "util.h"

#include <stdlib.h>
#include <string.h>

#define FDL_JSON_MAX_DEPTH 64
#define FDL_JSON_CHUNK 8192

struct fdl_jchunk {
    struct fdl_jchunk *prev;
    size_t used;
    struct fdl_jval vals[FDL_JSON_CHUNK];
};

struct fdl_jdoc {
    struct fdl_jchunk *chunks;
    struct fdl_jval *root;
};

struct fdl_jparse {
    char *p, *end, *start;
    struct fdl_jdoc *doc;
    const char *what;
    char *errpos;
    bool truncated;
};

static struct fdl_jval *fdl_jnew(struct fdl_jparse *ps)
{
    struct fdl_jchunk *c = ps->doc->chunks;
    if (!c || c->used == FDL_JSON_CHUNK) {
        c = fdl_xmalloc(sizeof *c);
        c->prev = ps->doc->chunks;
        c->used = 0;
        ps->doc->chunks = c;
    }
    struct fdl_jval *v = &c->vals[c->used++];
    memset(v, 0, sizeof *v);
    return v;
}

static int fdl_jfail(struct fdl_jparse *ps, const char *what)
{
    if (!ps->what) {
        ps->what = what;
        ps->errpos = ps->p;
        if (ps->p >= ps->end)
            ps->truncated = true;
    }
    return -1;
}

static void fdl_jws(struct fdl_jparse *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\t' || *ps->p == '\r'))
        ps->p++;
}

static int fdl_hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static char *fdl_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xc0 | (cp >> 6));
        *o++ = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xe0 | (cp >> 12));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *o++ = (char)(0x80 | (cp & 0x3f));
    } else {
        *o++ = (char)(0xf0 | (cp >> 18));
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3f));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *o++ = (char)(0x80 | (cp & 0x3f));
    }
    return o;
}

/* Parses a string at ps->p (the opening quote), unescaping in place. */
static int fdl_jstring(struct fdl_jparse *ps, const char **out)
{
    char *o = ++ps->p, *begin = o;
    for (;;) {
        if (ps->p >= ps->end)
            return fdl_jfail(ps, "unterminated string");
        char c = *ps->p;
        if (c == '"')
            break;
        if ((unsigned char)c < 0x20)
            return fdl_jfail(ps, "control character in string");
        if (c != '\\') {
            *o++ = c;
            ps->p++;
            continue;
        }
        if (ps->end - ps->p < 2)
            return fdl_jfail(ps, "unterminated string");
        c = ps->p[1];
        ps->p += 2;
        switch (c) {
        case '"':
            *o++ = '"';
            break;
        case '\\':
            *o++ = '\\';
            break;
        case '/':
            *o++ = '/';
            break;
        case 'b':
            *o++ = '\b';
            break;
        case 'f':
            *o++ = '\f';
            break;
        case 'n':
            *o++ = '\n';
            break;
        case 'r':
            *o++ = '\r';
            break;
        case 't':
            *o++ = '\t';
            break;
        case 'u': {
            unsigned cp, lo;
            if (ps->end - ps->p < 4)
                return fdl_jfail(ps, "unterminated string");
            if (fdl_hex4(ps->p, &cp))
                return fdl_jfail(ps, "bad \\u escape");
            ps->p += 4;
            if (cp >= 0xd800 && cp < 0xdc00 && ps->end - ps->p >= 6 && ps->p[0] == '\\' &&
                ps->p[1] == 'u' && fdl_hex4(ps->p + 2, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                ps->p += 6;
            }
            if (cp == 0)
                cp = 0xfffd; /* keep strings NUL-terminated */
            o = fdl_utf8(o, cp);
            break;
        }
        default:
            ps->p -= 2;
            return fdl_jfail(ps, "bad escape in string");
        }
    }
    *o = 0; /* o <= ps->p, which holds the closing quote */
    ps->p++;
    *out = begin;
    return 0;
}

static int fdl_jvalue(struct fdl_jparse *ps, struct fdl_jval *v, int depth);

static int fdl_jnumber(struct fdl_jparse *ps, struct fdl_jval *v)
{
    char *s = ps->p;
    bool is_int = true;
    if (s < ps->end && *s == '-')
        s++;
    if (s >= ps->end)
        return fdl_jfail(ps, "bad number");
    if (*s < '0' || *s > '9')
        return fdl_jfail(ps, "unexpected character");
    while (s < ps->end && *s >= '0' && *s <= '9')
        s++;
    if (s < ps->end && *s == '.') {
        is_int = false;
        s++;
        while (s < ps->end && *s >= '0' && *s <= '9')
            s++;
    }
    if (s < ps->end && (*s == 'e' || *s == 'E')) {
        is_int = false;
        s++;
        if (s < ps->end && (*s == '+' || *s == '-'))
            s++;
        while (s < ps->end && *s >= '0' && *s <= '9')
            s++;
    }
    if (s >= ps->end)
        return fdl_jfail(ps, "premature end of input");
    char save = *s;
    *s = 0;
    v->type = FDL_J_NUM;
    v->is_int = is_int;
    v->u.i = is_int ? strtoll(ps->p, NULL, 10) : (int64_t)strtod(ps->p, NULL);
    *s = save;
    ps->p = s;
    return 0;
}

static int fdl_jword(struct fdl_jparse *ps, const char *w, enum fdl_jtype t, struct fdl_jval *v)
{
    size_t n = strlen(w);
    if ((size_t)(ps->end - ps->p) < n)
        return strncmp(ps->p, w, (size_t)(ps->end - ps->p)) == 0
                   ? (ps->p = ps->end, fdl_jfail(ps, "premature end of input"))
                   : fdl_jfail(ps, "unexpected word");
    if (strncmp(ps->p, w, n) != 0)
        return fdl_jfail(ps, "unexpected word");
    ps->p += n;
    v->type = t;
    return 0;
}

static int fdl_jcontainer(struct fdl_jparse *ps, struct fdl_jval *v, int depth, bool obj)
{
    if (depth >= FDL_JSON_MAX_DEPTH)
        return fdl_jfail(ps, "nested too deeply");
    char close = obj ? '}' : ']';
    struct fdl_jval **tail = &v->u.kids;
    v->type = obj ? FDL_J_OBJ : FDL_J_ARR;
    ps->p++;
    fdl_jws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return 0;
    }
    for (;;) {
        struct fdl_jval *kid = fdl_jnew(ps);
        fdl_jws(ps);
        if (obj) {
            if (ps->p >= ps->end)
                return fdl_jfail(ps, "premature end of input");
            if (*ps->p != '"')
                return fdl_jfail(ps, "expected a member name");
            if (fdl_jstring(ps, &kid->key))
                return -1;
            fdl_jws(ps);
            if (ps->p >= ps->end)
                return fdl_jfail(ps, "premature end of input");
            if (*ps->p != ':')
                return fdl_jfail(ps, "expected ':'");
            ps->p++;
        }
        if (fdl_jvalue(ps, kid, depth + 1))
            return -1;
        *tail = kid;
        tail = &kid->next;
        v->n++;
        fdl_jws(ps);
        if (ps->p >= ps->end)
            return fdl_jfail(ps, "premature end of input");
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p == close) {
            ps->p++;
            return 0;
        }
        return fdl_jfail(ps, obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static int fdl_jvalue(struct fdl_jparse *ps, struct fdl_jval *v, int depth)
{
    fdl_jws(ps);
    if (ps->p >= ps->end)
        return fdl_jfail(ps, "premature end of input");
    switch (*ps->p) {
    case '{':
        return fdl_jcontainer(ps, v, depth, true);
    case '[':
        return fdl_jcontainer(ps, v, depth, false);
    case '"':
        v->type = FDL_J_STR;
        return fdl_jstring(ps, &v->u.s);
    case 't':
        return fdl_jword(ps, "true", FDL_J_TRUE, v);
    case 'f':
        return fdl_jword(ps, "false", FDL_J_FALSE, v);
    case 'n':
        return fdl_jword(ps, "null", FDL_J_NULL, v);
    default:
        return fdl_jnumber(ps, v);
    }
}

struct fdl_jdoc *fdl_json_parse(char *buf, size_t len, int *line, int *col, const char **what,
                                bool *truncated)
{
    struct fdl_jdoc *doc = fdl_xcalloc(1, sizeof *doc);
    struct fdl_jparse ps = {.p = buf, .end = buf + len, .start = buf, .doc = doc};
    doc->root = fdl_jnew(&ps);
    if (fdl_jvalue(&ps, doc->root, 0) == 0) {
        fdl_jws(&ps);
        if (ps.p == ps.end)
            return doc;
        fdl_jfail(&ps, "text after the end of the document");
    }
    *what = ps.what;
    *truncated = ps.truncated;
    *line = 1;
    *col = 1;
    for (char *c = buf; c < ps.errpos && c < ps.end; c++) {
        if (*c == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
    fdl_json_free(doc);
    return NULL;
}

const struct fdl_jval *fdl_json_root(const struct fdl_jdoc *doc)
{
    return doc->root;
}

void fdl_json_free(struct fdl_jdoc *doc)
{
    if (!doc)
        return;
    for (struct fdl_jchunk *c = doc->chunks, *prev; c; c = prev) {
        prev = c->prev;
        free(c);
    }
    free(doc);
}

const struct fdl_jval *fdl_json_get(const struct fdl_jval *o, const char *key)
{
    if (!o || o->type != FDL_J_OBJ)
        return NULL;
    for (const struct fdl_jval *k = o->u.kids; k; k = k->next)
        if (!strcmp(k->key, key))
            return k;
    return NULL;
}

const char *fdl_json_str(const struct fdl_jval *v)
{
    return v && v->type == FDL_J_STR ? v->u.s : NULL;
}

bool fdl_json_is_int(const struct fdl_jval *v)
{
    return v && v->type == FDL_J_NUM && v->is_int;
}

/* ---------------------------------------------------------------------------------- writer */

void fdl_jw_init(struct fdl_jw *w, FILE *f)
{
    w->f = f;
    w->depth = 0;
    w->first[0] = true;
}

static void fdl_jw_quoted(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            fputc('\\', f);
            fputc(*p, f);
        } else if (*p == '\n') {
            fputs("\\n", f);
        } else if (*p == '\t') {
            fputs("\\t", f);
        } else if (*p < 0x20 || *p == 0x7f) {
            fprintf(f, "\\u%04x", *p);
        } else {
            fputc(*p, f);
        }
    }
    fputc('"', f);
}

static void fdl_jw_sep(struct fdl_jw *w, const char *key)
{
    if (w->depth > 0) {
        if (!w->first[w->depth])
            fputc(',', w->f);
        fputc('\n', w->f);
        for (int i = 0; i < w->depth; i++)
            fputs("  ", w->f);
    }
    w->first[w->depth] = false;
    if (key) {
        fdl_jw_quoted(w->f, key);
        fputs(": ", w->f);
    }
}

static void fdl_jw_open(struct fdl_jw *w, const char *key, char c)
{
    fdl_jw_sep(w, key);
    fputc(c, w->f);
    if (w->depth < 63)
        w->depth++;
    w->first[w->depth] = true;
}

void fdl_jw_obj(struct fdl_jw *w, const char *key)
{
    fdl_jw_open(w, key, '{');
}

void fdl_jw_arr(struct fdl_jw *w, const char *key)
{
    fdl_jw_open(w, key, '[');
}

void fdl_jw_end(struct fdl_jw *w, char close)
{
    bool empty = w->first[w->depth];
    w->depth--;
    if (!empty) {
        fputc('\n', w->f);
        for (int i = 0; i < w->depth; i++)
            fputs("  ", w->f);
    }
    fputc(close, w->f);
    if (w->depth == 0)
        fputc('\n', w->f);
}

void fdl_jw_str(struct fdl_jw *w, const char *key, const char *s)
{
    fdl_jw_sep(w, key);
    if (s)
        fdl_jw_quoted(w->f, s);
    else
        fputs("null", w->f);
}

void fdl_jw_int(struct fdl_jw *w, const char *key, int64_t v)
{
    fdl_jw_sep(w, key);
    fprintf(w->f, "%lld", (long long)v);
}

void fdl_jw_bool(struct fdl_jw *w, const char *key, bool v)
{
    fdl_jw_sep(w, key);
    fputs(v ? "true" : "false", w->f);
}

void fdl_jw_null(struct fdl_jw *w, const char *key)
{
    fdl_jw_sep(w, key);
    fputs("null", w->f);
}
