/* Reading raw dumps: the whole file is parsed (json_read.cc, simdjson), checked for the signs of a cut-short
 * write (a complete dump ends with "}\n") and for the "fdleak-dump" format tag, then copied into
 * the arrays of struct fdt_dump, sorted for lookup. Errors are one line naming the file. */
#include "dumpfile.h"

#include "contract.h"

#include "json.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static void fdt_err(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fdt_err(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

static char *fdt_read_file(const char *file, size_t *lenp, char *err, size_t errlen)
{
    FILE *f = fopen(file, "re");
    if (!f) {
        fdt_err(err, errlen, "%s: %s", file, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = fdt_xmalloc(cap);
    for (;;) {
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (len < cap) {
            if (ferror(f)) {
                fdt_err(err, errlen, "%s: %s", file, strerror(errno ? errno : EIO));
                fclose(f);
                free(buf);
                return NULL;
            }
            break;
        }
        cap *= 2;
        buf = fdt_xrealloc(buf, cap);
    }
    fclose(f);
    *lenp = len;
    return buf;
}

typedef const struct fdt_jval jv;

static uint64_t fdt_hex(jv *v)
{
    const char *s = fdt_json_str(v);
    if (s)
        return strtoull(s, NULL, 16);
    return fdt_json_is_int(v) ? (uint64_t)v->u.i : 0;
}

static const char *fdt_str(jv *o, const char *key)
{
    const char *s = fdt_json_str(fdt_json_get(o, key));
    return s ? s : "";
}

static int64_t fdt_int(jv *o, const char *key)
{
    jv *v = fdt_json_get(o, key);
    return fdt_json_is_int(v) ? v->u.i : 0;
}

static size_t fdt_size(jv *a)
{
    return a && a->type == FDT_J_ARR ? a->n : 0;
}

/* First element of an array (NULL if empty or not an array); iterate with ->next. */
static jv *fdt_first(jv *a)
{
    return a && a->type == FDT_J_ARR ? a->u.kids : NULL;
}

static bool fdt_is(jv *v, enum fdt_jtype t)
{
    return v && v->type == t;
}

static int fdt_cmp_module(const void *a, const void *b)
{
    const struct fdt_dmodule *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

static int fdt_cmp_stack(const void *a, const void *b)
{
    const struct fdt_dstack *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int fdt_cmp_pystack(const void *a, const void *b)
{
    const struct fdt_dpystack *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int fdt_cmp_fd(const void *a, const void *b)
{
    const struct fdt_dfd *x = a, *y = b;
    return x->fd < y->fd ? -1 : x->fd > y->fd;
}

/* Returns 0, or -1 with err set, after checking that the text looks like a whole dump. */
static int fdt_check_shape(const char *file, const char *buf, size_t len, char *err, size_t errlen)
{
    size_t i = 0;
    while (i < len && (buf[i] == ' ' || buf[i] == '\n' || buf[i] == '\t' || buf[i] == '\r'))
        i++;
    if (i == len) {
        fdt_err(err, errlen, "%s: truncated dump (empty file)", file);
        return -1;
    }
    if (buf[i] != '{') {
        fdt_err(err, errlen, "%s: not an fdleak dump", file);
        return -1;
    }
    if (len < 2 || buf[len - 1] != '\n' || buf[len - 2] != '}') {
        fdt_err(err, errlen, "%s: truncated dump (no final \"}\" and newline)", file);
        return -1;
    }
    return 0;
}

static int fdt_load_modules(struct fdt_dump *d, jv *arr)
{
    d->nmodules = fdt_size(arr);
    d->modules = fdt_xcalloc(d->nmodules, sizeof *d->modules);
    jv *m = fdt_first(arr);
    for (size_t i = 0; i < d->nmodules; i++, m = m->next) {
        struct fdt_dmodule *dm = &d->modules[i];
        dm->path = fdt_str(m, "path");
        dm->build_id = fdt_str(m, "build_id");
        dm->base = fdt_hex(fdt_json_get(m, "base"));
        dm->start = fdt_hex(fdt_json_get(m, "start"));
        dm->end = fdt_hex(fdt_json_get(m, "end"));
    }
    qsort(d->modules, d->nmodules, sizeof *d->modules, fdt_cmp_module);
    return 0;
}

static void fdt_load_stacks(struct fdt_dump *d, jv *arr)
{
    d->nstacks = fdt_size(arr);
    d->stacks = fdt_xcalloc(d->nstacks, sizeof *d->stacks);
    jv *s = fdt_first(arr);
    for (size_t i = 0; i < d->nstacks; i++, s = s->next) {
        jv *ips = fdt_json_get(s, "ips");
        struct fdt_dstack *ds = &d->stacks[i];
        ds->id = (uint32_t)fdt_int(s, "id");
        ds->nips = fdt_size(ips);
        ds->ips = fdt_xcalloc(ds->nips, sizeof *ds->ips);
        jv *ip = fdt_first(ips);
        for (size_t j = 0; j < ds->nips; j++, ip = ip->next)
            ds->ips[j] = fdt_hex(ip);
    }
    qsort(d->stacks, d->nstacks, sizeof *d->stacks, fdt_cmp_stack);
}

static void fdt_load_pystacks(struct fdt_dump *d, jv *arr)
{
    d->npystacks = fdt_size(arr);
    d->pystacks = fdt_xcalloc(d->npystacks, sizeof *d->pystacks);
    jv *s = fdt_first(arr);
    for (size_t i = 0; i < d->npystacks; i++, s = s->next) {
        jv *fr = fdt_json_get(s, "frames");
        struct fdt_dpystack *ps = &d->pystacks[i];
        ps->id = (uint32_t)fdt_int(s, "id");
        ps->nframes = fdt_size(fr);
        ps->frames = fdt_xcalloc(ps->nframes, sizeof *ps->frames);
        jv *f = fdt_first(fr);
        for (size_t j = 0; j < ps->nframes; j++, f = f->next) {
            ps->frames[j].file = fdt_str(f, "file");
            ps->frames[j].function = fdt_str(f, "function");
            ps->frames[j].line = (long)fdt_int(f, "line");
        }
    }
    qsort(d->pystacks, d->npystacks, sizeof *d->pystacks, fdt_cmp_pystack);
}

static int fdt_load_fds(struct fdt_dump *d, jv *arr, char *err, size_t errlen)
{
    d->nfds = fdt_size(arr);
    d->fds = fdt_xcalloc(d->nfds, sizeof *d->fds);
    jv *f = fdt_first(arr);
    for (size_t i = 0; i < d->nfds; i++, f = f->next) {
        struct fdt_dfd *df = &d->fds[i];
        if (!fdt_json_is_int(fdt_json_get(f, "fd"))) {
            fdt_err(err, errlen, "%s: bad dump: fds[%zu] has no integer \"fd\"", d->file, i);
            return -1;
        }
        df->fd = (int)fdt_int(f, "fd");
        int origin = fdc_origin_from_name(fdt_str(f, "origin"));
        df->origin = origin < 0 ? FDC_ORIGIN_UNKNOWN : (enum fdc_origin)origin;
        df->call = fdt_str(f, "call");
        df->kind = fdt_str(f, "kind");
        if (!*df->kind)
            df->kind = "unknown";
        df->path = fdt_str(f, "path");
        df->target = fdt_str(f, "target");
        df->local = fdt_str(f, "local");
        df->peer = fdt_str(f, "peer");
        df->cloexec = fdt_is(fdt_json_get(f, "cloexec"), FDT_J_TRUE);
        df->age_ms = fdt_int(f, "age_ms");
        df->tid = (long)fdt_int(f, "tid");
        df->stack = (uint32_t)fdt_int(f, "stack");
        df->pystack = (uint32_t)fdt_int(f, "pystack");
    }
    qsort(d->fds, d->nfds, sizeof *d->fds, fdt_cmp_fd);
    return 0;
}

struct fdt_dump *fdt_dump_load(const char *file, char *err, size_t errlen)
{
    size_t len;
    char *buf = fdt_read_file(file, &len, err, errlen);
    if (!buf)
        return NULL;
    if (fdt_check_shape(file, buf, len, err, errlen)) {
        free(buf);
        return NULL;
    }
    int line, col;
    const char *what;
    bool truncated;
    struct fdt_jdoc *doc = fdt_json_parse(buf, len, &line, &col, &what, &truncated);
    if (!doc) {
        if (truncated)
            fdt_err(err, errlen, "%s: truncated dump", file);
        else
            fdt_err(err, errlen, "%s: invalid JSON at line %d column %d: %s", file, line, col,
                    what);
        free(buf);
        return NULL;
    }
    struct fdt_dump *d = fdt_xcalloc(1, sizeof *d);
    d->file = fdt_xstrdup(file);
    d->buf = buf;
    d->doc = doc;
    jv *root = fdt_json_root(doc), *ver = fdt_json_get(root, "version");
    static const char *const arrays[] = {"modules", "stacks", "fds"};
    if (!fdt_is(root, FDT_J_OBJ) || strcmp(fdt_str(root, "format"), FDC_DUMP_FORMAT) != 0) {
        fdt_err(err, errlen, "%s: not an fdleak dump", file);
        goto fail;
    }
    if (!fdt_json_is_int(ver)) {
        fdt_err(err, errlen, "%s: bad dump: no integer \"version\"", file);
        goto fail;
    }
    if (ver->u.i != FDC_DUMP_VERSION) {
        fdt_err(err, errlen, "%s: unsupported dump version %lld (this fdleak reads %d)", file,
                (long long)ver->u.i, FDC_DUMP_VERSION);
        goto fail;
    }
    for (size_t i = 0; i < 3; i++)
        if (!fdt_is(fdt_json_get(root, arrays[i]), FDT_J_ARR)) {
            fdt_err(err, errlen, "%s: bad dump: no \"%s\" array", file, arrays[i]);
            goto fail;
        }
    if (!fdt_json_is_int(fdt_json_get(root, "pid"))) {
        fdt_err(err, errlen, "%s: bad dump: no integer \"pid\"", file);
        goto fail;
    }

    d->pid = (long)fdt_int(root, "pid");
    d->ppid = (long)fdt_int(root, "ppid");
    d->seq = (long)fdt_int(root, "seq");
    d->exe = fdt_str(root, "exe");
    jv *cmd = fdt_json_get(root, "cmdline");
    d->ncmdline = fdt_size(cmd);
    d->cmdline = fdt_xcalloc(d->ncmdline, sizeof *d->cmdline);
    jv *arg = fdt_first(cmd);
    for (size_t i = 0; i < d->ncmdline; i++, arg = arg->next)
        d->cmdline[i] = fdt_json_str(arg) ? fdt_json_str(arg) : "";
    d->trigger = fdt_str(root, "trigger");
    if (!*d->trigger)
        d->trigger = "unknown";
    d->signal = (int)fdt_int(root, "signal");
    d->trigger_call = fdt_str(root, "trigger_call");
    d->trigger_errno = (int)fdt_int(root, "trigger_errno");
    d->trigger_stack = (uint32_t)fdt_int(root, "trigger_stack");
    d->threshold = (long)fdt_int(root, "threshold");
    d->time_realtime_ns = fdt_int(root, "time_realtime_ns");
    d->open_fds = (long)fdt_int(root, "open_fds");
    d->limit_nofile = (long)fdt_int(root, "limit_nofile");
    d->limit_nofile_max = (long)fdt_int(root, "limit_nofile_max");
    d->peak_open_fds = (long)fdt_int(root, "peak_open_fds");
    d->peak_time_realtime_ns = fdt_int(root, "peak_time_realtime_ns");
    jv *st = fdt_json_get(root, "stats");
    d->stats.acquired = fdt_int(st, "acquired");
    d->stats.released = fdt_int(st, "released");
    d->stats.stacks = fdt_int(st, "stacks");
    d->stats.stack_store_full = fdt_int(st, "stack_store_full");
    d->stats.path_store_full = fdt_int(st, "path_store_full");
    d->stats.unwind_failed = fdt_int(st, "unwind_failed");

    fdt_load_modules(d, fdt_json_get(root, "modules"));
    fdt_load_stacks(d, fdt_json_get(root, "stacks"));
    fdt_load_pystacks(d, fdt_json_get(root, "pystacks"));
    if (fdt_load_fds(d, fdt_json_get(root, "fds"), err, errlen))
        goto fail;
    return d;
fail:
    fdt_dump_free(d);
    return NULL;
}

void fdt_dump_free(struct fdt_dump *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->nstacks; i++)
        free(d->stacks[i].ips);
    for (size_t i = 0; i < d->npystacks; i++)
        free(d->pystacks[i].frames);
    free(d->stacks);
    free(d->pystacks);
    free(d->modules);
    free(d->fds);
    free(d->cmdline);
    fdt_json_free(d->doc);
    free(d->buf);
    free(d->file);
    free(d);
}

const struct fdt_dstack *fdt_dump_stack(const struct fdt_dump *d, uint32_t id)
{
    struct fdt_dstack key = {.id = id};
    return id ? bsearch(&key, d->stacks, d->nstacks, sizeof key, fdt_cmp_stack) : NULL;
}

const struct fdt_dpystack *fdt_dump_pystack(const struct fdt_dump *d, uint32_t id)
{
    struct fdt_dpystack key = {.id = id};
    return id ? bsearch(&key, d->pystacks, d->npystacks, sizeof key, fdt_cmp_pystack) : NULL;
}

const struct fdt_dmodule *fdt_dump_module(const struct fdt_dump *d, uint64_t ip)
{
    size_t lo = 0, hi = d->nmodules;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (d->modules[mid].start <= ip)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    const struct fdt_dmodule *m = &d->modules[lo - 1];
    return ip < m->end ? m : NULL;
}
