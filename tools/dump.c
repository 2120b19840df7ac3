/* Reading raw dumps: the whole file is parsed (json_read.cc, simdjson), checked for the signs of a cut-short
 * write (a complete dump ends with "}\n") and for the "fdleak-dump" format tag, then copied into
 * the arrays of struct fdl_dump, sorted for lookup. Errors are one line naming the file. */
#include "dump.h"

#include "json.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FDL_DUMP_VERSION 1

static void fdl_err(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fdl_err(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

static char *fdl_read_file(const char *file, size_t *lenp, char *err, size_t errlen)
{
    FILE *f = fopen(file, "re");
    if (!f) {
        fdl_err(err, errlen, "%s: %s", file, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = fdl_xmalloc(cap);
    for (;;) {
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (len < cap) {
            if (ferror(f)) {
                fdl_err(err, errlen, "%s: %s", file, strerror(errno ? errno : EIO));
                fclose(f);
                free(buf);
                return NULL;
            }
            break;
        }
        cap *= 2;
        buf = fdl_xrealloc(buf, cap);
    }
    fclose(f);
    *lenp = len;
    return buf;
}

typedef const struct fdl_jval jv;

static uint64_t fdl_hex(jv *v)
{
    const char *s = fdl_json_str(v);
    if (s)
        return strtoull(s, NULL, 16);
    return fdl_json_is_int(v) ? (uint64_t)v->u.i : 0;
}

static const char *fdl_str(jv *o, const char *key)
{
    const char *s = fdl_json_str(fdl_json_get(o, key));
    return s ? s : "";
}

static int64_t fdl_int(jv *o, const char *key)
{
    jv *v = fdl_json_get(o, key);
    return fdl_json_is_int(v) ? v->u.i : 0;
}

static size_t fdl_size(jv *a)
{
    return a && a->type == FDL_J_ARR ? a->n : 0;
}

/* First element of an array (NULL if empty or not an array); iterate with ->next. */
static jv *fdl_first(jv *a)
{
    return a && a->type == FDL_J_ARR ? a->u.kids : NULL;
}

static bool fdl_is(jv *v, enum fdl_jtype t)
{
    return v && v->type == t;
}

static int fdl_cmp_module(const void *a, const void *b)
{
    const struct fdl_dmodule *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

static int fdl_cmp_stack(const void *a, const void *b)
{
    const struct fdl_dstack *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int fdl_cmp_pystack(const void *a, const void *b)
{
    const struct fdl_dpystack *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int fdl_cmp_fd(const void *a, const void *b)
{
    const struct fdl_dfd *x = a, *y = b;
    return x->fd < y->fd ? -1 : x->fd > y->fd;
}

/* Returns 0, or -1 with err set, after checking that the text looks like a whole dump. */
static int fdl_check_shape(const char *file, const char *buf, size_t len, char *err, size_t errlen)
{
    size_t i = 0;
    while (i < len && (buf[i] == ' ' || buf[i] == '\n' || buf[i] == '\t' || buf[i] == '\r'))
        i++;
    if (i == len) {
        fdl_err(err, errlen, "%s: truncated dump (empty file)", file);
        return -1;
    }
    if (buf[i] != '{') {
        fdl_err(err, errlen, "%s: not an fdleak dump", file);
        return -1;
    }
    if (len < 2 || buf[len - 1] != '\n' || buf[len - 2] != '}') {
        fdl_err(err, errlen, "%s: truncated dump (no final \"}\" and newline)", file);
        return -1;
    }
    return 0;
}

static int fdl_load_modules(struct fdl_dump *d, jv *arr)
{
    d->nmodules = fdl_size(arr);
    d->modules = fdl_xcalloc(d->nmodules, sizeof *d->modules);
    jv *m = fdl_first(arr);
    for (size_t i = 0; i < d->nmodules; i++, m = m->next) {
        struct fdl_dmodule *dm = &d->modules[i];
        dm->path = fdl_str(m, "path");
        dm->build_id = fdl_str(m, "build_id");
        dm->base = fdl_hex(fdl_json_get(m, "base"));
        dm->start = fdl_hex(fdl_json_get(m, "start"));
        dm->end = fdl_hex(fdl_json_get(m, "end"));
    }
    qsort(d->modules, d->nmodules, sizeof *d->modules, fdl_cmp_module);
    return 0;
}

static void fdl_load_stacks(struct fdl_dump *d, jv *arr)
{
    d->nstacks = fdl_size(arr);
    d->stacks = fdl_xcalloc(d->nstacks, sizeof *d->stacks);
    jv *s = fdl_first(arr);
    for (size_t i = 0; i < d->nstacks; i++, s = s->next) {
        jv *ips = fdl_json_get(s, "ips");
        struct fdl_dstack *ds = &d->stacks[i];
        ds->id = (uint32_t)fdl_int(s, "id");
        ds->nips = fdl_size(ips);
        ds->ips = fdl_xcalloc(ds->nips, sizeof *ds->ips);
        jv *ip = fdl_first(ips);
        for (size_t j = 0; j < ds->nips; j++, ip = ip->next)
            ds->ips[j] = fdl_hex(ip);
    }
    qsort(d->stacks, d->nstacks, sizeof *d->stacks, fdl_cmp_stack);
}

static void fdl_load_pystacks(struct fdl_dump *d, jv *arr)
{
    d->npystacks = fdl_size(arr);
    d->pystacks = fdl_xcalloc(d->npystacks, sizeof *d->pystacks);
    jv *s = fdl_first(arr);
    for (size_t i = 0; i < d->npystacks; i++, s = s->next) {
        jv *fr = fdl_json_get(s, "frames");
        struct fdl_dpystack *ps = &d->pystacks[i];
        ps->id = (uint32_t)fdl_int(s, "id");
        ps->nframes = fdl_size(fr);
        ps->frames = fdl_xcalloc(ps->nframes, sizeof *ps->frames);
        jv *f = fdl_first(fr);
        for (size_t j = 0; j < ps->nframes; j++, f = f->next) {
            ps->frames[j].file = fdl_str(f, "file");
            ps->frames[j].function = fdl_str(f, "function");
            ps->frames[j].line = (long)fdl_int(f, "line");
        }
    }
    qsort(d->pystacks, d->npystacks, sizeof *d->pystacks, fdl_cmp_pystack);
}

static int fdl_load_fds(struct fdl_dump *d, jv *arr, char *err, size_t errlen)
{
    d->nfds = fdl_size(arr);
    d->fds = fdl_xcalloc(d->nfds, sizeof *d->fds);
    jv *f = fdl_first(arr);
    for (size_t i = 0; i < d->nfds; i++, f = f->next) {
        struct fdl_dfd *df = &d->fds[i];
        if (!fdl_json_is_int(fdl_json_get(f, "fd"))) {
            fdl_err(err, errlen, "%s: bad dump: fds[%zu] has no integer \"fd\"", d->file, i);
            return -1;
        }
        df->fd = (int)fdl_int(f, "fd");
        const char *origin = fdl_str(f, "origin");
        if (!strcmp(origin, "tracked"))
            df->origin = FDL_ORIGIN_TRACKED;
        else if (!strcmp(origin, "inherited"))
            df->origin = FDL_ORIGIN_INHERITED;
        else
            df->origin = FDL_ORIGIN_UNKNOWN;
        df->call = fdl_str(f, "call");
        df->kind = fdl_str(f, "kind");
        if (!*df->kind)
            df->kind = "unknown";
        df->path = fdl_str(f, "path");
        df->target = fdl_str(f, "target");
        df->local = fdl_str(f, "local");
        df->peer = fdl_str(f, "peer");
        df->cloexec = fdl_is(fdl_json_get(f, "cloexec"), FDL_J_TRUE);
        df->age_ms = fdl_int(f, "age_ms");
        df->tid = (long)fdl_int(f, "tid");
        df->stack = (uint32_t)fdl_int(f, "stack");
        df->pystack = (uint32_t)fdl_int(f, "pystack");
    }
    qsort(d->fds, d->nfds, sizeof *d->fds, fdl_cmp_fd);
    return 0;
}

struct fdl_dump *fdl_dump_load(const char *file, char *err, size_t errlen)
{
    size_t len;
    char *buf = fdl_read_file(file, &len, err, errlen);
    if (!buf)
        return NULL;
    if (fdl_check_shape(file, buf, len, err, errlen)) {
        free(buf);
        return NULL;
    }
    int line, col;
    const char *what;
    bool truncated;
    struct fdl_jdoc *doc = fdl_json_parse(buf, len, &line, &col, &what, &truncated);
    if (!doc) {
        if (truncated)
            fdl_err(err, errlen, "%s: truncated dump", file);
        else
            fdl_err(err, errlen, "%s: invalid JSON at line %d column %d: %s", file, line, col,
                    what);
        free(buf);
        return NULL;
    }
    struct fdl_dump *d = fdl_xcalloc(1, sizeof *d);
    d->file = fdl_xstrdup(file);
    d->buf = buf;
    d->doc = doc;
    jv *root = fdl_json_root(doc), *ver = fdl_json_get(root, "version");
    static const char *const arrays[] = {"modules", "stacks", "fds"};
    if (!fdl_is(root, FDL_J_OBJ) || strcmp(fdl_str(root, "format"), "fdleak-dump") != 0) {
        fdl_err(err, errlen, "%s: not an fdleak dump", file);
        goto fail;
    }
    if (!fdl_json_is_int(ver)) {
        fdl_err(err, errlen, "%s: bad dump: no integer \"version\"", file);
        goto fail;
    }
    if (ver->u.i != FDL_DUMP_VERSION) {
        fdl_err(err, errlen, "%s: unsupported dump version %lld (this fdleak reads %d)", file,
                (long long)ver->u.i, FDL_DUMP_VERSION);
        goto fail;
    }
    for (size_t i = 0; i < 3; i++)
        if (!fdl_is(fdl_json_get(root, arrays[i]), FDL_J_ARR)) {
            fdl_err(err, errlen, "%s: bad dump: no \"%s\" array", file, arrays[i]);
            goto fail;
        }
    if (!fdl_json_is_int(fdl_json_get(root, "pid"))) {
        fdl_err(err, errlen, "%s: bad dump: no integer \"pid\"", file);
        goto fail;
    }

    d->pid = (long)fdl_int(root, "pid");
    d->ppid = (long)fdl_int(root, "ppid");
    d->seq = (long)fdl_int(root, "seq");
    d->exe = fdl_str(root, "exe");
    jv *cmd = fdl_json_get(root, "cmdline");
    d->ncmdline = fdl_size(cmd);
    d->cmdline = fdl_xcalloc(d->ncmdline, sizeof *d->cmdline);
    jv *arg = fdl_first(cmd);
    for (size_t i = 0; i < d->ncmdline; i++, arg = arg->next)
        d->cmdline[i] = fdl_json_str(arg) ? fdl_json_str(arg) : "";
    d->trigger = fdl_str(root, "trigger");
    if (!*d->trigger)
        d->trigger = "unknown";
    d->signal = (int)fdl_int(root, "signal");
    d->trigger_call = fdl_str(root, "trigger_call");
    d->trigger_errno = (int)fdl_int(root, "trigger_errno");
    d->trigger_stack = (uint32_t)fdl_int(root, "trigger_stack");
    d->threshold = (long)fdl_int(root, "threshold");
    d->time_realtime_ns = fdl_int(root, "time_realtime_ns");
    d->open_fds = (long)fdl_int(root, "open_fds");
    d->limit_nofile = (long)fdl_int(root, "limit_nofile");
    d->limit_nofile_max = (long)fdl_int(root, "limit_nofile_max");
    jv *st = fdl_json_get(root, "stats");
    d->stats.acquired = fdl_int(st, "acquired");
    d->stats.released = fdl_int(st, "released");
    d->stats.stacks = fdl_int(st, "stacks");
    d->stats.stack_store_full = fdl_int(st, "stack_store_full");
    d->stats.path_store_full = fdl_int(st, "path_store_full");
    d->stats.unwind_failed = fdl_int(st, "unwind_failed");

    fdl_load_modules(d, fdl_json_get(root, "modules"));
    fdl_load_stacks(d, fdl_json_get(root, "stacks"));
    fdl_load_pystacks(d, fdl_json_get(root, "pystacks"));
    if (fdl_load_fds(d, fdl_json_get(root, "fds"), err, errlen))
        goto fail;
    return d;
fail:
    fdl_dump_free(d);
    return NULL;
}

void fdl_dump_free(struct fdl_dump *d)
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
    fdl_json_free(d->doc);
    free(d->buf);
    free(d->file);
    free(d);
}

const struct fdl_dstack *fdl_dump_stack(const struct fdl_dump *d, uint32_t id)
{
    struct fdl_dstack key = {.id = id};
    return id ? bsearch(&key, d->stacks, d->nstacks, sizeof key, fdl_cmp_stack) : NULL;
}

const struct fdl_dpystack *fdl_dump_pystack(const struct fdl_dump *d, uint32_t id)
{
    struct fdl_dpystack key = {.id = id};
    return id ? bsearch(&key, d->pystacks, d->npystacks, sizeof key, fdl_cmp_pystack) : NULL;
}

const struct fdl_dmodule *fdl_dump_module(const struct fdl_dump *d, uint64_t ip)
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
    const struct fdl_dmodule *m = &d->modules[lo - 1];
    return ip < m->end ? m : NULL;
}
