/* Groups compared across time (growth.h): building them from a dump's model or from a JSON
 * report, keying them by what stays the same between dumps, matching two moments, and the
 * text and JSON pieces `fdleak diff` and `fdleak watch` share. */
#include "growth.h"

#include "render.h"

#include "contract.h"
#include "json.h"
#include "report_text.h"
#include "safefile.h"
#include "util.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A report holds what a dump held and more; the same cap as for dumps. */
#define FDT_GROWTH_MAX_BYTES ((size_t)1 << 30)

/* ------------------------------------------------------------------------------------ keys */

struct fdt_buf {
    char *s;
    size_t n, cap;
};

static void fdt_buf_add(struct fdt_buf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->s = fdt_xrealloc(b->s, b->cap);
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

static void fdt_buf_str(struct fdt_buf *b, const char *s)
{
    s = s ? s : "";
    fdt_buf_add(b, s, strlen(s) + 1); /* the NUL separates fields: no string can forge one */
}

static void fdt_buf_num(struct fdt_buf *b, uint64_t v)
{
    char t[24];
    snprintf(t, sizeof t, "%" PRIx64, v);
    fdt_buf_str(b, t);
}

/* Frames by function, file and line when all three are known (they survive a rebuild that
 * moves code), else by module and offset (stable across runs: ASLR only moves the base). */
static char *fdt_group_key(struct fdt_ggroup *g)
{
    struct fdt_buf b = {0};
    fdt_buf_str(&b, g->call);
    fdt_buf_str(&b, g->kind);
    for (size_t i = 0; i < g->npy; i++) {
        fdt_buf_str(&b, "P");
        fdt_buf_str(&b, g->py[i].file);
        fdt_buf_str(&b, g->py[i].function);
        fdt_buf_num(&b, (uint64_t)g->py[i].line);
    }
    for (size_t i = 0; i < g->nframes; i++) {
        const struct fdt_gframe *f = &g->frames[i];
        if (f->function && *f->function && f->file && *f->file && f->line > 0) {
            fdt_buf_str(&b, "F");
            fdt_buf_str(&b, f->function);
            fdt_buf_str(&b, f->file);
            fdt_buf_num(&b, (uint64_t)f->line);
        } else if (f->module && *f->module) {
            fdt_buf_str(&b, "M");
            fdt_buf_str(&b, f->module);
            fdt_buf_num(&b, f->offset);
        } else {
            fdt_buf_str(&b, "A");
            fdt_buf_num(&b, f->ip);
        }
    }
    /* keys are compared with memcmp up to their length, kept in front */
    char *k = fdt_xmalloc(b.n + sizeof(size_t));
    memcpy(k, &b.n, sizeof(size_t));
    memcpy(k + sizeof(size_t), b.s, b.n);
    free(b.s);
    return k;
}

int fdt_gkey_cmp(const char *a, const char *b)
{
    size_t na, nb;
    memcpy(&na, a, sizeof na);
    memcpy(&nb, b, sizeof nb);
    int c = memcmp(a + sizeof na, b + sizeof nb, na < nb ? na : nb);
    return c ? c : na < nb ? -1 : na > nb;
}

static int fdt_cmp_group_key(const void *a, const void *b)
{
    return fdt_gkey_cmp(((const struct fdt_ggroup *)a)->key, ((const struct fdt_ggroup *)b)->key);
}

static int fdt_cmp_gfd(const void *a, const void *b)
{
    int x = ((const struct fdt_gfd *)a)->fd, y = ((const struct fdt_gfd *)b)->fd;
    return x < y ? -1 : x > y;
}

/* Keys the groups, sorts them by key and merges groups whose keys are equal (two stacks that
 * symbolize alike, such as two return addresses on one line). */
static void fdt_gproc_finish(struct fdt_gproc *p)
{
    for (size_t i = 0; i < p->ngroups; i++)
        p->groups[i].key = fdt_group_key(&p->groups[i]);
    if (p->ngroups)
        qsort(p->groups, p->ngroups, sizeof *p->groups, fdt_cmp_group_key);
    size_t out = 0;
    for (size_t i = 0; i < p->ngroups; i++) {
        struct fdt_ggroup *g = &p->groups[i];
        if (out && !fdt_gkey_cmp(p->groups[out - 1].key, g->key)) {
            struct fdt_ggroup *m = &p->groups[out - 1];
            m->fds = fdt_xrealloc(m->fds, (m->count + g->count) * sizeof *m->fds);
            memcpy(m->fds + m->count, g->fds, g->count * sizeof *g->fds);
            m->count += g->count;
            qsort(m->fds, m->count, sizeof *m->fds, fdt_cmp_gfd);
            fdt_ggroup_free(g);
            continue;
        }
        p->groups[out++] = *g;
    }
    p->ngroups = out;
}

const struct fdt_ggroup *fdt_gproc_find(const struct fdt_gproc *p, const char *key)
{
    size_t lo = 0, hi = p->ngroups;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = fdt_gkey_cmp(p->groups[mid].key, key);
        if (!c)
            return &p->groups[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* ------------------------------------------------------------------------- from a dump */

void fdt_gset_from_proc(struct fdt_gset *s, struct fdt_proc *p)
{
    memset(s, 0, sizeof *s);
    s->dproc = p;
    s->nprocs = 1;
    s->procs = fdt_xcalloc(1, sizeof *s->procs);
    struct fdt_gproc *gp = s->procs;
    const struct fdt_dump *d = p->dump;
    gp->pid = d->pid;
    gp->exe = d->exe;
    gp->time_ns = d->time_realtime_ns;
    gp->open_fds = d->open_fds;
    gp->limit_nofile = d->limit_nofile;
    gp->ngroups = p->ngroups;
    gp->groups = fdt_xcalloc(p->ngroups, sizeof *gp->groups);
    for (size_t i = 0; i < p->ngroups; i++) {
        const struct fdt_group *g = &p->groups[i];
        struct fdt_ggroup *o = &gp->groups[i];
        o->call = g->call;
        o->kind = g->kind;
        o->count = g->count;
        const struct fdt_frame *const *v;
        o->nframes = fdt_proc_frames(p, g->stack, &v);
        o->frames = fdt_xcalloc(o->nframes, sizeof *o->frames);
        for (size_t k = 0; k < o->nframes; k++)
            o->frames[k] = (struct fdt_gframe){v[k]->function, v[k]->file, v[k]->module, v[k]->line,
                                               v[k]->offset,   v[k]->ip,   v[k]->inlined};
        const struct fdt_dpystack *ps = fdt_dump_pystack(d, g->pystack);
        o->npy = ps ? ps->nframes : 0;
        o->py = fdt_xcalloc(o->npy, sizeof *o->py);
        for (size_t k = 0; k < o->npy; k++)
            o->py[k] =
                (struct fdt_gpy){ps->frames[k].file, ps->frames[k].function, ps->frames[k].line};
        o->fds = fdt_xcalloc(g->count, sizeof *o->fds);
        for (size_t k = 0; k < g->count; k++) {
            const struct fdt_dfd *f = &d->fds[g->fds[k]];
            o->fds[k] = (struct fdt_gfd){f->fd,    f->kind, *f->path ? f->path : f->target,
                                         f->local, f->peer, f->age_ms};
        }
    }
    fdt_gproc_finish(gp);
}

/* ------------------------------------------------------------------------ from a report */

typedef const struct fdt_jval jv;

static const char *fdt_jstr(jv *o, const char *key)
{
    return fdt_json_str(fdt_json_get(o, key));
}

static int64_t fdt_jint(jv *o, const char *key)
{
    jv *v = fdt_json_get(o, key);
    return fdt_json_is_int(v) ? v->u.i : 0;
}

static jv *fdt_jarr(jv *o, const char *key, size_t *n)
{
    jv *a = fdt_json_get(o, key);
    *n = a && a->type == FDT_J_ARR ? a->n : 0;
    return *n ? a->u.kids : NULL;
}

static uint64_t fdt_jhex(jv *o, const char *key)
{
    const char *s = fdt_jstr(o, key);
    return s ? strtoull(s, NULL, 16) : 0;
}

static void fdt_group_from_json(struct fdt_ggroup *o, jv *g)
{
    o->call = fdt_jstr(g, "call") ? fdt_jstr(g, "call") : "";
    o->kind = fdt_jstr(g, "kind") ? fdt_jstr(g, "kind") : "unknown";
    size_t n;
    jv *f = fdt_jarr(g, "stack", &n);
    o->nframes = n;
    o->frames = fdt_xcalloc(n, sizeof *o->frames);
    for (size_t k = 0; k < n; k++, f = f->next)
        o->frames[k] = (struct fdt_gframe){fdt_jstr(f, "function"),
                                           fdt_jstr(f, "file"),
                                           fdt_jstr(f, "module"),
                                           (int)fdt_jint(f, "line"),
                                           fdt_jhex(f, "offset"),
                                           fdt_jhex(f, "ip"),
                                           fdt_json_get(f, "inlined") &&
                                               fdt_json_get(f, "inlined")->type == FDT_J_TRUE};
    f = fdt_jarr(g, "pystack", &n);
    o->npy = n;
    o->py = fdt_xcalloc(n, sizeof *o->py);
    for (size_t k = 0; k < n; k++, f = f->next)
        o->py[k] = (struct fdt_gpy){fdt_jstr(f, "file"), fdt_jstr(f, "function"),
                                    (long)fdt_jint(f, "line")};
    f = fdt_jarr(g, "fds", &n);
    o->count = n;
    o->fds = fdt_xcalloc(n, sizeof *o->fds);
    for (size_t k = 0; k < n; k++, f = f->next)
        o->fds[k] =
            (struct fdt_gfd){(int)fdt_jint(f, "fd"), fdt_jstr(f, "kind"), fdt_jstr(f, "path"),
                             fdt_jstr(f, "local"),   fdt_jstr(f, "peer"), fdt_jint(f, "age_ms")};
    qsort(o->fds, o->count, sizeof *o->fds, fdt_cmp_gfd);
}

static int fdt_gset_from_report(struct fdt_gset *s, const char *path, char *err, size_t errlen)
{
    jv *root = fdt_json_root(s->doc), *ver = fdt_json_get(root, "version");
    if (!fdt_json_is_int(ver) || ver->u.i != FDC_REPORT_VERSION) {
        snprintf(err, errlen, "%s: unsupported report version (this fdleak reads %d)", path,
                 FDC_REPORT_VERSION);
        return -1;
    }
    size_t n;
    jv *p = fdt_jarr(root, "processes", &n);
    s->nprocs = n;
    s->procs = fdt_xcalloc(n, sizeof *s->procs);
    for (size_t i = 0; i < n; i++, p = p->next) {
        struct fdt_gproc *gp = &s->procs[i];
        gp->pid = (long)fdt_jint(p, "pid");
        gp->exe = fdt_jstr(p, "exe") ? fdt_jstr(p, "exe") : "";
        gp->time_ns = fdt_jint(p, "time_realtime_ns");
        gp->open_fds = (long)fdt_jint(p, "open_fds");
        gp->limit_nofile = (long)fdt_jint(p, "limit_nofile");
        size_t ng;
        jv *g = fdt_jarr(p, "groups", &ng);
        gp->ngroups = ng;
        gp->groups = fdt_xcalloc(ng, sizeof *gp->groups);
        for (size_t k = 0; k < ng; k++, g = g->next)
            fdt_group_from_json(&gp->groups[k], g);
        fdt_gproc_finish(gp);
    }
    return 0;
}

int fdt_gset_load(const char *path, struct fdt_gset *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    struct stat st;
    int fd = fdt_open_regular(AT_FDCWD, path, FDT_ANY_OWNER, &st, err, errlen);
    if (fd < 0)
        return -1;
    size_t len;
    int rc = fdt_read_all(fd, path, FDT_GROWTH_MAX_BYTES, &s->buf, &len, err, errlen);
    close(fd);
    if (rc)
        return -1;
    int line, col;
    const char *what;
    bool truncated;
    s->doc = fdt_json_parse(s->buf, len, &line, &col, &what, &truncated);
    if (!s->doc) {
        if (truncated)
            snprintf(err, errlen, "%s: truncated file", path);
        else
            snprintf(err, errlen, "%s: invalid JSON at line %d column %d: %s", path, line, col,
                     what);
        fdt_gset_free(s);
        return -1;
    }
    const char *format = fdt_jstr(fdt_json_root(s->doc), "format");
    if (format && !strcmp(format, FDC_REPORT_FORMAT)) {
        if (fdt_gset_from_report(s, path, err, errlen)) {
            fdt_gset_free(s);
            return -1;
        }
        return 0;
    }
    bool dump = format && !strcmp(format, FDC_DUMP_FORMAT);
    fdt_gset_free(s);
    if (!dump) {
        snprintf(err, errlen, "%s: neither an fdleak dump nor an fdleak --json report", path);
        return -1;
    }
    /* the dump reader's own checks (truncation, version), on the file already accepted */
    struct fdt_dump *d = fdt_dump_load_at(AT_FDCWD, path, path, FDT_ANY_OWNER, FDT_GROWTH_MAX_BYTES,
                                          &st, err, errlen);
    if (!d)
        return -1;
    struct fdt_proc *p = fdt_xcalloc(1, sizeof *p);
    fdt_proc_init(p, d);
    fdt_gset_from_proc(s, p);
    return 0;
}

void fdt_ggroup_free(struct fdt_ggroup *g)
{
    if (g->owned) {
        free((char *)g->call);
        free((char *)g->kind);
        for (size_t i = 0; i < g->nframes; i++) {
            free((char *)g->frames[i].function);
            free((char *)g->frames[i].file);
            free((char *)g->frames[i].module);
        }
        for (size_t i = 0; i < g->npy; i++) {
            free((char *)g->py[i].file);
            free((char *)g->py[i].function);
        }
    }
    free(g->key);
    free(g->frames);
    free(g->py);
    free(g->fds);
    memset(g, 0, sizeof *g);
}

void fdt_gset_free(struct fdt_gset *s)
{
    for (size_t i = 0; i < s->nprocs; i++) {
        for (size_t k = 0; k < s->procs[i].ngroups; k++)
            fdt_ggroup_free(&s->procs[i].groups[k]);
        free(s->procs[i].groups);
    }
    free(s->procs);
    if (s->dproc) {
        fdt_proc_fini(s->dproc);
        free(s->dproc);
    }
    if (s->doc)
        fdt_json_free(s->doc);
    free(s->buf);
    memset(s, 0, sizeof *s);
}

static char *fdt_dup_or_null(const char *s)
{
    return s ? fdt_xstrdup(s) : NULL;
}

void fdt_ggroup_copy(struct fdt_ggroup *dst, const struct fdt_ggroup *src)
{
    size_t klen;
    memcpy(&klen, src->key, sizeof klen);
    *dst = *src;
    dst->owned = true;
    dst->key = fdt_xmalloc(klen + sizeof klen);
    memcpy(dst->key, src->key, klen + sizeof klen);
    dst->call = fdt_xstrdup(src->call);
    dst->kind = fdt_xstrdup(src->kind);
    dst->frames = fdt_xcalloc(src->nframes, sizeof *dst->frames);
    for (size_t i = 0; i < src->nframes; i++) {
        dst->frames[i] = src->frames[i];
        dst->frames[i].function = fdt_dup_or_null(src->frames[i].function);
        dst->frames[i].file = fdt_dup_or_null(src->frames[i].file);
        dst->frames[i].module = fdt_dup_or_null(src->frames[i].module);
    }
    dst->py = fdt_xcalloc(src->npy, sizeof *dst->py);
    for (size_t i = 0; i < src->npy; i++) {
        dst->py[i].file = fdt_dup_or_null(src->py[i].file);
        dst->py[i].function = fdt_dup_or_null(src->py[i].function);
        dst->py[i].line = src->py[i].line;
    }
    /* descriptors are per sample: a copy keeps the origin only */
    dst->fds = NULL;
    dst->count = 0;
}

/* ---------------------------------------------------------------------------- matching */

static int fdt_cmp_delta(const void *a, const void *b)
{
    const struct fdt_gdelta *x = a, *y = b;
    if (x->cls != y->cls)
        return x->cls < y->cls ? -1 : 1;
    long dx = x->delta < 0 ? -x->delta : x->delta, dy = y->delta < 0 ? -y->delta : y->delta;
    if (dx != dy)
        return dx > dy ? -1 : 1;
    const struct fdt_ggroup *gx = x->after ? x->after : x->before;
    const struct fdt_ggroup *gy = y->after ? y->after : y->before;
    return fdt_gkey_cmp(gx->key, gy->key);
}

static void fdt_delta_new_fds(struct fdt_gdelta *d)
{
    const struct fdt_ggroup *a = d->after, *b = d->before;
    d->new_fds = fdt_xcalloc(a->count, sizeof *d->new_fds);
    size_t j = 0;
    for (size_t i = 0; i < a->count; i++) {
        while (b && j < b->count && b->fds[j].fd < a->fds[i].fd)
            j++;
        if (!b || j >= b->count || b->fds[j].fd != a->fds[i].fd)
            d->new_fds[d->nnew++] = i;
    }
}

struct fdt_gdelta *fdt_gdiff(const struct fdt_gproc *a, const struct fdt_gproc *b, size_t *n)
{
    struct fdt_gdelta *v = fdt_xcalloc(a->ngroups + b->ngroups, sizeof *v);
    size_t i = 0, j = 0, k = 0;
    while (i < a->ngroups || j < b->ngroups) {
        int c = i >= a->ngroups   ? 1
                : j >= b->ngroups ? -1
                                  : fdt_gkey_cmp(a->groups[i].key, b->groups[j].key);
        const struct fdt_ggroup *before = c <= 0 ? &a->groups[i++] : NULL;
        const struct fdt_ggroup *after = c >= 0 ? &b->groups[j++] : NULL;
        long nb = before ? (long)before->count : 0, na = after ? (long)after->count : 0;
        if (na == nb)
            continue;
        struct fdt_gdelta *d = &v[k++];
        d->before = before;
        d->after = after;
        d->delta = na - nb;
        d->cls = !before ? FDT_G_NEW : !after ? FDT_G_GONE : na > nb ? FDT_G_GREW : FDT_G_SHRUNK;
        if (after)
            fdt_delta_new_fds(d);
    }
    if (k)
        qsort(v, k, sizeof *v, fdt_cmp_delta);
    *n = k;
    return v;
}

void fdt_gdiff_free(struct fdt_gdelta *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(d[i].new_fds);
    free(d);
}

/* -------------------------------------------------------------------------------- text */

static void fdt_file_sink(void *arg, const char *s, size_t n)
{
    fwrite(s, 1, n, arg);
}

void fdt_gprint_esc(FILE *out, const char *s)
{
    fdc_report_escape(s ? s : "", fdt_file_sink, out);
}

void fdt_gprint_duration(FILE *out, double s)
{
    if (s < 0)
        s = 0;
    if (s < 1)
        fprintf(out, "%.0f ms", s * 1000);
    else if (s < 60)
        fprintf(out, "%.1f s", s);
    else if (s < 3600)
        fprintf(out, "%ld min %02ld s", (long)s / 60, (long)s % 60);
    else if (s < 86400 * 2)
        fprintf(out, "%ld h %02ld min", (long)s / 3600, (long)s / 60 % 60);
    else
        fprintf(out, "%ld d %02ld h", (long)s / 86400, (long)s / 3600 % 24);
}

static void fdt_print_file(FILE *out, const char *file, const char *cwd)
{
    size_t n = cwd ? strlen(cwd) : 0;
    if (n > 1 && !strncmp(file, cwd, n) && file[n] == '/')
        file += n + 1;
    fdt_gprint_esc(out, file);
}

static void fdt_print_frame(FILE *out, const struct fdt_gframe *f, const char *cwd)
{
    bool fn = f->function && *f->function, mod = f->module && *f->module;
    if (fn) {
        fdt_gprint_esc(out, f->function);
        fputs(" (", out);
    }
    if (fn && f->file && *f->file && f->line > 0) {
        fdt_print_file(out, f->file, cwd);
        fprintf(out, ":%d", f->line);
    } else if (mod) {
        const char *base = strrchr(f->module, '/');
        fdt_gprint_esc(out, base ? base + 1 : f->module);
        fprintf(out, "+0x%" PRIx64, f->offset);
    } else if (fn) {
        fputs("?", out);
    } else {
        fprintf(out, "0x%" PRIx64, f->ip);
    }
    if (fn)
        fputs(")", out);
}

/* Frames shown: the outer start-up frames go, as in the report. */
static size_t fdt_shown_frames(const struct fdt_ggroup *g)
{
    size_t n = g->nframes;
    while (n > 1 && fdc_report_startup_frame(g->frames[n - 1].function))
        n--;
    return n;
}

void fdt_gprint_stack(FILE *out, const struct fdt_ggroup *g, const char *cwd)
{
    if (g->npy)
        fputs("   Python stack:\n", out);
    for (size_t i = 0; i < g->npy; i++) {
        fputs("   ", out);
        fdt_gprint_esc(out, g->py[i].file);
        fprintf(out, ":%ld in ", g->py[i].line);
        fdt_gprint_esc(out, g->py[i].function);
        fputc('\n', out);
    }
    size_t n = fdt_shown_frames(g);
    if (g->npy && n) {
        /* below a Python line the C frames are the interpreter's: shown up to its eval loop */
        for (size_t i = 1; i < n; i++)
            if (g->frames[i].function && !strncmp(g->frames[i].function, "_PyEval_EvalFrame", 17))
                n = i;
        fputs("   C stack:\n", out);
    }
    if (!n && !g->npy)
        fputs("   (no stack)\n", out);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? "   by " : "   at ", out);
        fdt_print_frame(out, &g->frames[i], cwd);
        fputs(g->frames[i].inlined ? " [inlined]\n" : "\n", out);
    }
}

void fdt_gprint_origin(FILE *out, const struct fdt_ggroup *g, const char *cwd)
{
    fdt_gprint_esc(out, g->call);
    fputs("() [", out);
    fdt_gprint_esc(out, g->kind);
    fputs("]", out);
    if (g->npy) {
        fputs(" at ", out);
        fdt_gprint_esc(out, g->py[0].file);
        fprintf(out, ":%ld", g->py[0].line);
    } else if (g->nframes) {
        fputs(" at ", out);
        fdt_print_frame(out, &g->frames[0], cwd);
    }
}

void fdt_gprint_fd(FILE *out, const char *prefix, const struct fdt_gfd *f)
{
    fprintf(out, "%sfd %d  ", prefix, f->fd);
    bool local = f->local && *f->local, peer = f->peer && *f->peer;
    if (f->kind && !strcmp(f->kind, "socket") && (local || peer)) {
        if (local)
            fdt_gprint_esc(out, f->local);
        if (peer) {
            fputs(local ? " -> " : "-> ", out);
            fdt_gprint_esc(out, f->peer);
        }
    } else if (f->path && *f->path) {
        fdt_gprint_esc(out, f->path);
    } else {
        fputs("(", out);
        fdt_gprint_esc(out, f->kind);
        fputs(")", out);
    }
    fputs("  age ", out);
    fdt_gprint_duration(out, (double)f->age_ms / 1000);
    fputc('\n', out);
}

bool fdt_gprint_changes(FILE *out, const struct fdt_gproc *a, const struct fdt_gproc *b,
                        const struct fdt_gdelta *v, size_t n, size_t max_fds, const char *cwd)
{
    double secs = (double)(b->time_ns - a->time_ns) / 1e9;
    fprintf(out, "fdleak diff: process %ld (", b->pid);
    fdt_gprint_esc(out, b->exe && *b->exe ? b->exe : "?");
    fprintf(out, "): %ld -> %ld open fds in ", a->open_fds, b->open_fds);
    fdt_gprint_duration(out, secs);
    if (b->limit_nofile)
        fprintf(out, " (limit %ld)", b->limit_nofile);
    fputc('\n', out);
    long sum[4] = {0};
    size_t cnt[4] = {0};
    for (size_t i = 0; i < n; i++) {
        const struct fdt_gdelta *d = &v[i];
        const struct fdt_ggroup *g = d->after ? d->after : d->before;
        sum[d->cls] += d->delta;
        cnt[d->cls]++;
        fprintf(out, "\n%+ld %s from ", d->delta, labs(d->delta) == 1 ? "fd" : "fds");
        fdt_gprint_esc(out, g->call);
        fputs("() [", out);
        fdt_gprint_esc(out, g->kind);
        fprintf(out, "]  (%s%zu -> %zu in ", d->cls == FDT_G_NEW ? "new: " : "",
                d->before ? d->before->count : 0, d->after ? d->after->count : 0);
        fdt_gprint_duration(out, secs);
        fputs(d->cls == FDT_G_GONE ? ", gone)\n" : ")\n", out);
        fdt_gprint_stack(out, g, cwd);
        size_t shown = max_fds && d->nnew > max_fds ? max_fds : d->nnew;
        for (size_t k = 0; k < shown; k++)
            fdt_gprint_fd(out, "   new ", &d->after->fds[d->new_fds[k]]);
        if (shown < d->nnew)
            fprintf(out, "   ... and %zu more new (--fds=0 lists all)\n", d->nnew - shown);
    }
    if (!n)
        fputs("\nno group changed\n", out);
    fprintf(out,
            "\nsummary: %zu grew (%+ld), %zu new (%+ld), %zu shrunk (%+ld), %zu gone (%+ld); "
            "open fds %+ld in ",
            cnt[FDT_G_GREW], sum[FDT_G_GREW], cnt[FDT_G_NEW], sum[FDT_G_NEW], cnt[FDT_G_SHRUNK],
            sum[FDT_G_SHRUNK], cnt[FDT_G_GONE], sum[FDT_G_GONE], b->open_fds - a->open_fds);
    fdt_gprint_duration(out, secs);
    fputc('\n', out);
    return cnt[FDT_G_GREW] || cnt[FDT_G_NEW];
}

/* -------------------------------------------------------------------------------- JSON */

void fdt_gjson_stacks(struct fdt_jw *w, const struct fdt_ggroup *g)
{
    fdt_jw_arr(w, "stack");
    for (size_t i = 0; i < g->nframes; i++) {
        const struct fdt_gframe *f = &g->frames[i];
        fdt_json_frame(w, f->ip, f->module, f->offset, f->function, f->file, f->line, f->inlined);
    }
    fdt_jw_end(w, ']');
    fdt_jw_arr(w, "pystack");
    for (size_t i = 0; i < g->npy; i++)
        fdt_json_pyframe(w, g->py[i].file, g->py[i].function, g->py[i].line);
    fdt_jw_end(w, ']');
}
