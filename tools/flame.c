/* Folded stacks and the SVG flame graph (flame.h). Frames are the report's (fdt_proc_xstack),
 * outermost first, and end with the acquiring call ("open()"). Every frame comes from a dump,
 * so it is escaped as the text report escapes it, with ';' (the folded separator) as \x3b;
 * the SVG escapes that text again for XML. The SVG is drawn like flamegraph.pl's: the root at
 * the bottom, one bar per frame, widths proportional to descriptors, no script. */
#include "flame.h"

#include "report_text.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct fdt_fline {
    char *key; /* frames joined by ';' */
    size_t count;
};

struct fdt_flame {
    const char *cwd;
    size_t n;
    struct fdt_fline *lines;
    bool merged;
};

struct fdt_flame *fdt_flame_new(const char *cwd)
{
    struct fdt_flame *f = fdt_xcalloc(1, sizeof *f);
    f->cwd = cwd;
    return f;
}

void fdt_flame_free(struct fdt_flame *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++)
        free(f->lines[i].key);
    free(f->lines);
    free(f);
}

/* fdc_report_escape's output, with ';' escaped too. */
static void fdt_fold_sink(void *arg, const char *s, size_t n)
{
    FILE *out = arg;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ';')
            fputs("\\x3b", out);
        else
            fputc(s[i], out);
    }
}

static void fdt_fold_put(FILE *out, const char *s)
{
    fdc_report_escape(s ? s : "", fdt_fold_sink, out);
}

static void fdt_fold_frame(const struct fdt_flame *fl, FILE *out, const struct fdt_xframe *x)
{
    if (x->py) {
        const char *file = x->py->file;
        size_t n = fl->cwd ? strlen(fl->cwd) : 0;
        if (n > 1 && !strncmp(file, fl->cwd, n) && file[n] == '/')
            file += n + 1;
        fdt_fold_put(out, file);
        fputc(':', out);
        fdt_fold_put(out, x->py->function);
        fprintf(out, ":%ld", x->py->line);
    } else if (x->c->function && *x->c->function) {
        fdt_fold_put(out, x->c->function);
    } else if (*x->c->module) {
        const char *b = strrchr(x->c->module, '/');
        fdt_fold_put(out, b ? b + 1 : x->c->module);
        fprintf(out, "+0x%llx", (unsigned long long)x->c->offset);
    } else {
        fprintf(out, "0x%llx", (unsigned long long)x->c->ip);
    }
}

void fdt_flame_add(struct fdt_flame *fl, struct fdt_proc *p)
{
    for (size_t gi = 0; gi < p->ngroups; gi++) {
        const struct fdt_group *g = &p->groups[gi];
        struct fdt_xframe *x;
        size_t n = fdt_proc_xstack(p, g, &x), len;
        char *key = NULL;
        FILE *out = open_memstream(&key, &len);
        if (!out)
            abort();
        for (size_t i = n; i-- > 0;) {
            fdt_fold_frame(fl, out, &x[i]);
            fputc(';', out);
        }
        fdt_fold_put(out, *g->call ? g->call : "?");
        fputs("()", out);
        fclose(out);
        free(x);
        fl->lines = fdt_xrealloc(fl->lines, (fl->n + 1) * sizeof *fl->lines);
        fl->lines[fl->n++] = (struct fdt_fline){key, g->count};
        fl->merged = false;
    }
}

static int fdt_cmp_fline(const void *a, const void *b)
{
    return strcmp(((const struct fdt_fline *)a)->key, ((const struct fdt_fline *)b)->key);
}

static void fdt_flame_merge(struct fdt_flame *fl)
{
    if (fl->merged)
        return;
    if (fl->n) /* lines is NULL when nothing leaked, and qsort's base must not be */
        qsort(fl->lines, fl->n, sizeof *fl->lines, fdt_cmp_fline);
    size_t m = 0;
    for (size_t i = 0; i < fl->n; i++) {
        if (m && !strcmp(fl->lines[m - 1].key, fl->lines[i].key)) {
            fl->lines[m - 1].count += fl->lines[i].count;
            free(fl->lines[i].key);
        } else {
            fl->lines[m++] = fl->lines[i];
        }
    }
    fl->n = m;
    fl->merged = true;
}

void fdt_flame_folded(struct fdt_flame *fl, FILE *out)
{
    fdt_flame_merge(fl);
    for (size_t i = 0; i < fl->n; i++)
        fprintf(out, "%s %zu\n", fl->lines[i].key, fl->lines[i].count);
}

/* ------------------------------------------------------------------------------------ SVG */

struct fdt_node {
    char *name;
    size_t count;
    size_t nkids;
    struct fdt_node *kids;
};

static struct fdt_node *fdt_node_kid(struct fdt_node *n, const char *name, size_t len)
{
    for (size_t i = 0; i < n->nkids; i++)
        if (strlen(n->kids[i].name) == len && !strncmp(n->kids[i].name, name, len))
            return &n->kids[i];
    n->kids = fdt_xrealloc(n->kids, (n->nkids + 1) * sizeof *n->kids);
    struct fdt_node *k = &n->kids[n->nkids++];
    memset(k, 0, sizeof *k);
    k->name = fdt_xmalloc(len + 1);
    memcpy(k->name, name, len);
    k->name[len] = 0;
    return k;
}

static void fdt_node_free(struct fdt_node *n)
{
    for (size_t i = 0; i < n->nkids; i++)
        fdt_node_free(&n->kids[i]);
    free(n->kids);
    free(n->name);
}

static size_t fdt_node_depth(const struct fdt_node *n)
{
    size_t d = 0;
    for (size_t i = 0; i < n->nkids; i++) {
        size_t k = fdt_node_depth(&n->kids[i]);
        d = k > d ? k : d;
    }
    return d + 1;
}

static void fdt_xml(FILE *out, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        switch (s[i]) {
        case '&':
            fputs("&amp;", out);
            break;
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        case '\'':
            fputs("&apos;", out);
            break;
        default:
            fputc(s[i], out);
        }
    }
}

#define FDT_SVG_W 1200.0
#define FDT_SVG_PAD 10.0
#define FDT_SVG_FRAME 16
#define FDT_SVG_TOP 60
#define FDT_SVG_CHAR 6.6 /* width of a character of the 11px monospace labels */

struct fdt_svg {
    FILE *out;
    size_t total;
    double height;
};

/* A colour per name, stable across runs: warm for C, blue-green for Python, red for the call. */
static void fdt_svg_color(FILE *out, const char *name)
{
    unsigned h = 2166136261u;
    for (const char *s = name; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    size_t n = strlen(name);
    if (n > 2 && !strcmp(name + n - 2, "()"))
        fprintf(out, "rgb(%u,%u,%u)", 220 + h % 30, 60 + (h >> 8) % 40, 50 + (h >> 16) % 30);
    else if (strstr(name, ".py:"))
        fprintf(out, "rgb(%u,%u,%u)", 70 + h % 50, 170 + (h >> 8) % 50, 190 + (h >> 16) % 50);
    else
        fprintf(out, "rgb(%u,%u,%u)", 205 + h % 50, 100 + (h >> 8) % 110, 40 + (h >> 16) % 40);
}

/* The label that fits in w pixels: whole UTF-8 characters, ".." when cut, nothing if narrow. */
static void fdt_svg_label(FILE *out, const char *name, double w)
{
    long fit = (long)((w - 6) / FDT_SVG_CHAR);
    if (fit < 3)
        return;
    size_t chars = 0, cut = 0, len = strlen(name);
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)name[i] & 0xc0) != 0x80) {
            if ((long)chars == fit - 2)
                cut = i;
            chars++;
        }
    fdt_xml(out, name, (long)chars <= fit ? len : cut);
    if ((long)chars > fit)
        fputs("..", out);
}

static void fdt_svg_node(struct fdt_svg *s, const struct fdt_node *n, double x0, size_t depth)
{
    double scale = (FDT_SVG_W - 2 * FDT_SVG_PAD) / (double)s->total;
    double w = (double)n->count * scale, y = s->height - 30 - (double)(depth + 1) * FDT_SVG_FRAME;
    if (w < 0.1)
        return;
    FILE *out = s->out;
    fputs("<g>\n<title>", out);
    fdt_xml(out, n->name, strlen(n->name));
    fprintf(out, " (%zu fd%s, %.1f%%)</title>\n", n->count, n->count == 1 ? "" : "s",
            100.0 * (double)n->count / (double)s->total);
    fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%d\" rx=\"2\" fill=\"", x0, y,
            w, FDT_SVG_FRAME - 1);
    fdt_svg_color(out, depth ? n->name : "");
    fprintf(out, "\"/>\n<text x=\"%.1f\" y=\"%.1f\">", x0 + 3, y + 11.5);
    fdt_svg_label(out, n->name, w);
    fputs("</text>\n</g>\n", out);
    double x = x0;
    for (size_t i = 0; i < n->nkids; i++) {
        fdt_svg_node(s, &n->kids[i], x, depth + 1);
        x += (double)n->kids[i].count * scale;
    }
}

int fdt_flame_svg(struct fdt_flame *fl, const char *path, const char *title)
{
    fdt_flame_merge(fl);
    struct fdt_node root = {.name = fdt_xstrdup("all")};
    for (size_t i = 0; i < fl->n; i++) {
        struct fdt_node *n = &root;
        root.count += fl->lines[i].count;
        for (const char *s = fl->lines[i].key; *s;) {
            const char *e = strchr(s, ';');
            size_t len = e ? (size_t)(e - s) : strlen(s);
            n = fdt_node_kid(n, s, len);
            n->count += fl->lines[i].count;
            s += len + (e ? 1 : 0);
        }
    }
    FILE *out = fopen(path, "we");
    if (!out) {
        fdt_msg("%s: %s", path, strerror(errno));
        fdt_node_free(&root);
        return -1;
    }
    size_t depth = fdt_node_depth(&root);
    struct fdt_svg s = {.out = out,
                        .total = root.count,
                        .height = FDT_SVG_TOP + 30 + (double)depth * FDT_SVG_FRAME};
    fprintf(out,
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%.0f\" "
            "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\">\n"
            "<style>text { font-family: monospace; font-size: 11px; fill: #000; } "
            ".title { font-size: 17px; text-anchor: middle; } "
            ".sub { font-size: 12px; text-anchor: middle; fill: #555; }</style>\n"
            "<rect x=\"0\" y=\"0\" width=\"100%%\" height=\"100%%\" fill=\"#f8f8f0\"/>\n"
            "<text class=\"title\" x=\"%.0f\" y=\"24\">",
            FDT_SVG_W, s.height, FDT_SVG_W, s.height, FDT_SVG_W / 2);
    fdt_xml(out, title, strlen(title));
    fprintf(out, "</text>\n<text class=\"sub\" x=\"%.0f\" y=\"44\">", FDT_SVG_W / 2);
    if (root.count)
        fprintf(out, "%zu leaked descriptor%s in %zu stack%s; width is the number of descriptors",
                root.count, root.count == 1 ? "" : "s", fl->n, fl->n == 1 ? "" : "s");
    else
        fputs("no leaked descriptors", out);
    fputs("</text>\n", out);
    if (root.count)
        fdt_svg_node(&s, &root, FDT_SVG_PAD, 0);
    fputs("</svg>\n", out);
    fdt_node_free(&root);
    if (fclose(out) != 0) {
        fdt_msg("%s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}
