/* Streaming JSON writer for fdleak's report format (`--json`): indented output straight to a
 * FILE, strings escaped. Reading is json_read.cc (simdjson). */
#include "json.h"

#include "utf8.h"

void fdt_jw_init(struct fdt_jw *w, FILE *f)
{
    w->f = f;
    w->depth = 0;
    w->first[0] = true;
}

/* Always valid JSON, whatever bytes a program put in a path or a name: control characters,
 * DEL, C1 controls and bidirectional overrides are written as \uXXXX escapes of themselves
 * (they round-trip and never reach a terminal raw); each byte that is not part of well-formed
 * UTF-8 becomes U+FFFD, written as \ufffd (the text report shows it as \xNN instead). */
static void fdt_jw_quoted(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        uint32_t cp;
        size_t n;
        if (*p == '"' || *p == '\\') {
            fputc('\\', f);
            fputc(*p, f);
        } else if (*p == '\n') {
            fputs("\\n", f);
        } else if (*p == '\t') {
            fputs("\\t", f);
        } else if (*p < 0x20 || *p == 0x7f) {
            fprintf(f, "\\u%04x", *p);
        } else if (*p < 0x80) {
            fputc(*p, f);
        } else if ((n = fdc_utf8_seq((const char *)p, &cp)) == 0) {
            fputs("\\ufffd", f);
        } else {
            if (fdc_utf8_unsafe(cp))
                fprintf(f, "\\u%04x", (unsigned)cp);
            else
                fwrite(p, 1, n, f);
            p += n - 1;
        }
    }
    fputc('"', f);
}

static void fdt_jw_sep(struct fdt_jw *w, const char *key)
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
        fdt_jw_quoted(w->f, key);
        fputs(": ", w->f);
    }
}

static void fdt_jw_open(struct fdt_jw *w, const char *key, char c)
{
    fdt_jw_sep(w, key);
    fputc(c, w->f);
    if (w->depth < 63)
        w->depth++;
    w->first[w->depth] = true;
}

void fdt_jw_obj(struct fdt_jw *w, const char *key)
{
    fdt_jw_open(w, key, '{');
}

void fdt_jw_arr(struct fdt_jw *w, const char *key)
{
    fdt_jw_open(w, key, '[');
}

void fdt_jw_end(struct fdt_jw *w, char close)
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

void fdt_jw_str(struct fdt_jw *w, const char *key, const char *s)
{
    fdt_jw_sep(w, key);
    if (s)
        fdt_jw_quoted(w->f, s);
    else
        fputs("null", w->f);
}

void fdt_jw_int(struct fdt_jw *w, const char *key, int64_t v)
{
    fdt_jw_sep(w, key);
    fprintf(w->f, "%lld", (long long)v);
}

void fdt_jw_bool(struct fdt_jw *w, const char *key, bool v)
{
    fdt_jw_sep(w, key);
    fputs(v ? "true" : "false", w->f);
}

void fdt_jw_null(struct fdt_jw *w, const char *key)
{
    fdt_jw_sep(w, key);
    fputs("null", w->f);
}

void fdt_jw_double(struct fdt_jw *w, const char *key, double v)
{
    fdt_jw_sep(w, key);
    if (v != v || v > 1e300 || v < -1e300) /* JSON has no NaN or infinity */
        fputs("null", w->f);
    else
        fprintf(w->f, "%.6g", v);
}
