/* Reading raw dumps: the file (a regular file only, size-capped: safefile.c) is checked for the
 * signs of a cut-short write (a complete dump ends with "}\n"), parsed (json_read.cc, simdjson),
 * checked for the "fdleak-dump" format tag, then every field the command uses is checked for
 * its type and range while it is copied into the arrays of struct fdt_dump, sorted for lookup.
 * Dumps may be hostile, so nothing is taken on trust: a key read twice, a number out of range,
 * an id or descriptor given twice or a count above the FDT_DUMP_MAX_* caps is an error. Keys
 * the command does not read are ignored, whatever they hold (docs/dump-format.md). Errors are
 * one line naming the file and the field. */
#include "dumpfile.h"

#include "contract.h"

#include "json.h"
#include "safefile.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef const struct fdt_jval jv;

/* The state of one read: the first error wins, later checks return quietly. */
struct fdt_rd {
    const char *file;
    char *err;
    size_t errlen;
    bool failed;
};

static void fdt_fail(struct fdt_rd *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fdt_fail(struct fdt_rd *r, const char *fmt, ...)
{
    if (r->failed)
        return;
    r->failed = true;
    int n = snprintf(r->err, r->errlen, "%s: ", r->file);
    if (n < 0 || (size_t)n >= r->errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

/* A field's name for errors: "fds[3].fd", or "pid" at the top (where is ""). */
static const char *fdt_field(char *buf, size_t len, const char *where, const char *key)
{
    snprintf(buf, len, "%s%s%s", where, *where ? "." : "", key);
    return buf;
}

/* Member key of object o. A key given twice is an error: which of the two a reader takes is
 * not defined, and a dump that says two things about one field is not a dump the library
 * wrote. Every member is compared, so this is linear in the object's size. */
static jv *fdt_get(struct fdt_rd *r, jv *o, const char *where, const char *key)
{
    if (!o || o->type != FDT_J_OBJ)
        return NULL;
    jv *found = NULL;
    for (jv *k = o->u.kids; k; k = k->next) {
        if (strcmp(k->key, key) != 0)
            continue;
        if (found) {
            char f[160];
            fdt_fail(r, "bad dump: duplicate key \"%s\"", fdt_field(f, sizeof f, where, key));
            return NULL;
        }
        found = k;
    }
    return found;
}

/* Integer member in [lo, hi]; 0 when absent. */
static int64_t fdt_int(struct fdt_rd *r, jv *o, const char *where, const char *key, int64_t lo,
                       int64_t hi)
{
    jv *v = fdt_get(r, o, where, key);
    if (!v || r->failed)
        return 0;
    char f[160];
    if (!fdt_json_is_int(v)) {
        fdt_fail(r, "bad dump: \"%s\" is not an integer", fdt_field(f, sizeof f, where, key));
        return 0;
    }
    if (v->overflow || v->u.i < lo || v->u.i > hi) {
        if (v->overflow)
            fdt_fail(r,
                     "bad dump: \"%s\" is out of range (beyond 64 bits; %" PRId64 "..%" PRId64
                     " expected)",
                     fdt_field(f, sizeof f, where, key), lo, hi);
        else
            fdt_fail(r,
                     "bad dump: \"%s\" is out of range (%" PRId64 "; %" PRId64 "..%" PRId64
                     " expected)",
                     fdt_field(f, sizeof f, where, key), v->u.i, lo, hi);
        return 0;
    }
    return v->u.i;
}

/* String member; "" when absent. */
static const char *fdt_str(struct fdt_rd *r, jv *o, const char *where, const char *key)
{
    jv *v = fdt_get(r, o, where, key);
    if (!v || r->failed)
        return "";
    if (v->type != FDT_J_STR) {
        char f[160];
        fdt_fail(r, "bad dump: \"%s\" is not a string", fdt_field(f, sizeof f, where, key));
        return "";
    }
    return v->u.s;
}

static bool fdt_bool(struct fdt_rd *r, jv *o, const char *where, const char *key)
{
    jv *v = fdt_get(r, o, where, key);
    if (!v || r->failed)
        return false;
    if (v->type != FDT_J_TRUE && v->type != FDT_J_FALSE) {
        char f[160];
        fdt_fail(r, "bad dump: \"%s\" is not true or false", fdt_field(f, sizeof f, where, key));
        return false;
    }
    return v->type == FDT_J_TRUE;
}

/* An address: "0x" and 1 to 16 hex digits (the library's form), or a non-negative integer. */
static uint64_t fdt_addr_of(struct fdt_rd *r, jv *v, const char *name)
{
    if (fdt_json_is_int(v) && !v->overflow && v->u.i >= 0)
        return (uint64_t)v->u.i;
    const char *s = fdt_json_str(v);
    size_t n = s ? strlen(s) : 0;
    bool ok = n > 2 && n <= 18 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') &&
              strspn(s + 2, "0123456789abcdefABCDEF") == n - 2;
    if (!ok) {
        fdt_fail(r, "bad dump: \"%s\" is not an address (\"0x\" and hex digits)", name);
        return 0;
    }
    return strtoull(s + 2, NULL, 16);
}

static uint64_t fdt_addr(struct fdt_rd *r, jv *o, const char *where, const char *key)
{
    jv *v = fdt_get(r, o, where, key);
    char f[160];
    return v && !r->failed ? fdt_addr_of(r, v, fdt_field(f, sizeof f, where, key)) : 0;
}

/* Array member with at most max elements: NULL when absent; an error when not an array. */
static jv *fdt_arr(struct fdt_rd *r, jv *o, const char *where, const char *key, size_t max)
{
    jv *v = fdt_get(r, o, where, key);
    if (!v || r->failed)
        return NULL;
    char f[160];
    if (v->type != FDT_J_ARR) {
        fdt_fail(r, "bad dump: \"%s\" is not an array", fdt_field(f, sizeof f, where, key));
        return NULL;
    }
    if (v->n > max) {
        fdt_fail(r, "bad dump: \"%s\" has %u entries (at most %zu are read)",
                 fdt_field(f, sizeof f, where, key), v->n, max);
        return NULL;
    }
    return v;
}

/* Object member: NULL when absent; an error when not an object. */
static jv *fdt_obj(struct fdt_rd *r, jv *o, const char *where, const char *key)
{
    jv *v = fdt_get(r, o, where, key);
    if (v && !r->failed && v->type != FDT_J_OBJ) {
        char f[160];
        fdt_fail(r, "bad dump: \"%s\" is not an object", fdt_field(f, sizeof f, where, key));
        return NULL;
    }
    return r->failed ? NULL : v;
}

/* Each element of an array must be an object. */
static bool fdt_elem_obj(struct fdt_rd *r, jv *e, const char *where)
{
    if (e->type != FDT_J_OBJ)
        fdt_fail(r, "bad dump: \"%s\" is not an object", where);
    return !r->failed;
}

static size_t fdt_size(jv *a)
{
    return a ? a->n : 0;
}

static jv *fdt_first(jv *a)
{
    return a ? a->u.kids : NULL;
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

/* Checks that the text looks like a whole dump before it is parsed. */
static void fdt_check_shape(struct fdt_rd *r, const char *buf, size_t len)
{
    size_t i = 0;
    while (i < len && (buf[i] == ' ' || buf[i] == '\n' || buf[i] == '\t' || buf[i] == '\r'))
        i++;
    if (i == len)
        fdt_fail(r, "truncated dump (empty file)");
    else if (buf[i] != '{')
        fdt_fail(r, "not an fdleak dump");
    else if (len < 2 || buf[len - 1] != '\n' || buf[len - 2] != '}')
        fdt_fail(r, "truncated dump (no final \"}\" and newline)");
}

static void fdt_load_modules(struct fdt_rd *r, struct fdt_dump *d, jv *arr)
{
    d->nmodules = fdt_size(arr);
    d->modules = fdt_xcalloc(d->nmodules, sizeof *d->modules);
    jv *m = fdt_first(arr);
    for (size_t i = 0; i < d->nmodules && !r->failed; i++, m = m->next) {
        char w[48];
        snprintf(w, sizeof w, "modules[%zu]", i);
        if (!fdt_elem_obj(r, m, w))
            return;
        struct fdt_dmodule *dm = &d->modules[i];
        dm->path = fdt_str(r, m, w, "path");
        dm->build_id = fdt_str(r, m, w, "build_id");
        dm->base = fdt_addr(r, m, w, "base");
        dm->start = fdt_addr(r, m, w, "start");
        dm->end = fdt_addr(r, m, w, "end");
        if (!r->failed && dm->start > dm->end)
            fdt_fail(r, "bad dump: \"%s\" starts after its end", w);
    }
    if (!r->failed)
        qsort(d->modules, d->nmodules, sizeof *d->modules, fdt_cmp_module);
}

static void fdt_load_stacks(struct fdt_rd *r, struct fdt_dump *d, jv *arr)
{
    d->nstacks = fdt_size(arr);
    d->stacks = fdt_xcalloc(d->nstacks, sizeof *d->stacks);
    jv *s = fdt_first(arr);
    for (size_t i = 0; i < d->nstacks && !r->failed; i++, s = s->next) {
        char w[48], f[80];
        snprintf(w, sizeof w, "stacks[%zu]", i);
        if (!fdt_elem_obj(r, s, w))
            return;
        struct fdt_dstack *ds = &d->stacks[i];
        ds->id = (uint32_t)fdt_int(r, s, w, "id", 1, UINT32_MAX);
        if (!r->failed && !fdt_get(r, s, w, "id"))
            fdt_fail(r, "bad dump: \"%s\" has no \"id\"", w);
        jv *ips = fdt_arr(r, s, w, "ips", FDT_DUMP_MAX_FRAMES);
        if (r->failed)
            return;
        ds->nips = fdt_size(ips);
        ds->ips = fdt_xcalloc(ds->nips, sizeof *ds->ips);
        jv *ip = fdt_first(ips);
        for (size_t j = 0; j < ds->nips && !r->failed; j++, ip = ip->next) {
            snprintf(f, sizeof f, "%s.ips[%zu]", w, j);
            ds->ips[j] = fdt_addr_of(r, ip, f);
        }
    }
    if (r->failed)
        return;
    qsort(d->stacks, d->nstacks, sizeof *d->stacks, fdt_cmp_stack);
    for (size_t i = 1; i < d->nstacks; i++)
        if (d->stacks[i].id == d->stacks[i - 1].id) {
            fdt_fail(r, "bad dump: two stacks have \"id\" %" PRIu32, d->stacks[i].id);
            return;
        }
}

static void fdt_load_pystacks(struct fdt_rd *r, struct fdt_dump *d, jv *arr)
{
    d->npystacks = fdt_size(arr);
    d->pystacks = fdt_xcalloc(d->npystacks, sizeof *d->pystacks);
    jv *s = fdt_first(arr);
    for (size_t i = 0; i < d->npystacks && !r->failed; i++, s = s->next) {
        char w[48], f[80];
        snprintf(w, sizeof w, "pystacks[%zu]", i);
        if (!fdt_elem_obj(r, s, w))
            return;
        struct fdt_dpystack *ps = &d->pystacks[i];
        ps->id = (uint32_t)fdt_int(r, s, w, "id", 1, UINT32_MAX);
        if (!r->failed && !fdt_get(r, s, w, "id"))
            fdt_fail(r, "bad dump: \"%s\" has no \"id\"", w);
        ps->truncated = (long)fdt_int(r, s, w, "truncated", 0, INT32_MAX);
        jv *fr = fdt_arr(r, s, w, "frames", FDT_DUMP_MAX_FRAMES);
        if (r->failed)
            return;
        ps->nframes = fdt_size(fr);
        ps->frames = fdt_xcalloc(ps->nframes, sizeof *ps->frames);
        jv *e = fdt_first(fr);
        for (size_t j = 0; j < ps->nframes && !r->failed; j++, e = e->next) {
            snprintf(f, sizeof f, "%s.frames[%zu]", w, j);
            if (!fdt_elem_obj(r, e, f))
                return;
            ps->frames[j].file = fdt_str(r, e, f, "file");
            ps->frames[j].function = fdt_str(r, e, f, "function");
            ps->frames[j].line = (long)fdt_int(r, e, f, "line", 0, INT32_MAX);
        }
    }
    if (r->failed)
        return;
    qsort(d->pystacks, d->npystacks, sizeof *d->pystacks, fdt_cmp_pystack);
    for (size_t i = 1; i < d->npystacks; i++)
        if (d->pystacks[i].id == d->pystacks[i - 1].id) {
            fdt_fail(r, "bad dump: two pystacks have \"id\" %" PRIu32, d->pystacks[i].id);
            return;
        }
}

static void fdt_load_fds(struct fdt_rd *r, struct fdt_dump *d, jv *arr)
{
    d->nfds = fdt_size(arr);
    d->fds = fdt_xcalloc(d->nfds, sizeof *d->fds);
    jv *f = fdt_first(arr);
    for (size_t i = 0; i < d->nfds && !r->failed; i++, f = f->next) {
        char w[48];
        snprintf(w, sizeof w, "fds[%zu]", i);
        if (!fdt_elem_obj(r, f, w))
            return;
        struct fdt_dfd *df = &d->fds[i];
        if (!fdt_json_is_int(fdt_get(r, f, w, "fd"))) {
            fdt_fail(r, "bad dump: \"%s\" has no integer \"fd\"", w);
            return;
        }
        df->fd = (int)fdt_int(r, f, w, "fd", 0, INT_MAX);
        int origin = fdc_origin_from_name(fdt_str(r, f, w, "origin"));
        df->origin = origin < 0 ? FDC_ORIGIN_UNKNOWN : (enum fdc_origin)origin;
        df->call = fdt_str(r, f, w, "call");
        df->kind = fdt_str(r, f, w, "kind");
        if (!*df->kind)
            df->kind = "unknown";
        df->path = fdt_str(r, f, w, "path");
        df->target = fdt_str(r, f, w, "target");
        df->local = fdt_str(r, f, w, "local");
        df->peer = fdt_str(r, f, w, "peer");
        df->cloexec = fdt_bool(r, f, w, "cloexec");
        df->age_ms = fdt_int(r, f, w, "age_ms", 0, INT64_MAX);
        df->tid = (long)fdt_int(r, f, w, "tid", 0, INT_MAX);
        df->stack = (uint32_t)fdt_int(r, f, w, "stack", 0, UINT32_MAX);
        df->pystack = (uint32_t)fdt_int(r, f, w, "pystack", 0, UINT32_MAX);
    }
    if (r->failed)
        return;
    qsort(d->fds, d->nfds, sizeof *d->fds, fdt_cmp_fd);
    for (size_t i = 1; i < d->nfds; i++)
        if (d->fds[i].fd == d->fds[i - 1].fd) {
            fdt_fail(r, "bad dump: descriptor %d is listed twice in \"fds\"", d->fds[i].fd);
            return;
        }
}

static void fdt_load_top(struct fdt_rd *r, struct fdt_dump *d, jv *root)
{
    const char *w = "";
    d->pid = (long)fdt_int(r, root, w, "pid", 0, INT_MAX);
    d->ppid = (long)fdt_int(r, root, w, "ppid", 0, INT_MAX);
    d->seq = (long)fdt_int(r, root, w, "seq", 0, INT64_MAX);
    d->exe = fdt_str(r, root, w, "exe");
    jv *cmd = fdt_arr(r, root, w, "cmdline", FDT_DUMP_MAX_ARGS);
    d->ncmdline = r->failed ? 0 : fdt_size(cmd);
    d->cmdline = fdt_xcalloc(d->ncmdline, sizeof *d->cmdline);
    jv *arg = fdt_first(cmd);
    for (size_t i = 0; i < d->ncmdline && !r->failed; i++, arg = arg->next) {
        d->cmdline[i] = fdt_json_str(arg);
        if (!d->cmdline[i])
            fdt_fail(r, "bad dump: \"cmdline[%zu]\" is not a string", i);
    }
    d->trigger = fdt_str(r, root, w, "trigger");
    if (!*d->trigger)
        d->trigger = "unknown";
    d->signal = (int)fdt_int(r, root, w, "signal", 0, INT_MAX);
    d->trigger_call = fdt_str(r, root, w, "trigger_call");
    d->trigger_errno = (int)fdt_int(r, root, w, "trigger_errno", 0, INT_MAX);
    d->trigger_stack = (uint32_t)fdt_int(r, root, w, "trigger_stack", 0, UINT32_MAX);
    d->threshold = (long)fdt_int(r, root, w, "threshold", 0, INT64_MAX);
    d->time_realtime_ns = fdt_int(r, root, w, "time_realtime_ns", 0, INT64_MAX);
    d->open_fds = (long)fdt_int(r, root, w, "open_fds", 0, INT64_MAX);
    d->limit_nofile = (long)fdt_int(r, root, w, "limit_nofile", 0, INT64_MAX);
    d->limit_nofile_max = (long)fdt_int(r, root, w, "limit_nofile_max", 0, INT64_MAX);
    /* dumps from before the peak was recorded lack these: 0 */
    d->peak_open_fds = (long)fdt_int(r, root, w, "peak_open_fds", 0, INT64_MAX);
    d->peak_time_realtime_ns = fdt_int(r, root, w, "peak_time_realtime_ns", 0, INT64_MAX);
    jv *st = fdt_obj(r, root, w, "stats");
    const char *s = "stats";
    d->stats.acquired = fdt_int(r, st, s, "acquired", 0, INT64_MAX);
    d->stats.released = fdt_int(r, st, s, "released", 0, INT64_MAX);
    d->stats.stacks = fdt_int(r, st, s, "stacks", 0, INT64_MAX);
    d->stats.stack_store_full = fdt_int(r, st, s, "stack_store_full", 0, INT64_MAX);
    d->stats.path_store_full = fdt_int(r, st, s, "path_store_full", 0, INT64_MAX);
    d->stats.unwind_failed = fdt_int(r, st, s, "unwind_failed", 0, INT64_MAX);
    d->stats.misuse = fdt_int(r, st, s, "misuse", 0, INT64_MAX);
    d->stats.misuse_dropped = fdt_int(r, st, s, "misuse_dropped", 0, INT64_MAX);
}

/* Optional: dumps from before misuse was recorded have no "misuse" array. */
static void fdt_load_misuse(struct fdt_rd *r, struct fdt_dump *d, jv *arr)
{
    if (!arr)
        return;
    d->nmisuse = fdt_size(arr);
    d->misuse = fdt_xcalloc(d->nmisuse ? d->nmisuse : 1, sizeof *d->misuse);
    jv *f = fdt_first(arr);
    for (size_t i = 0; i < d->nmisuse && !r->failed; i++, f = f->next) {
        char w[48];
        snprintf(w, sizeof w, "misuse[%zu]", i);
        if (!fdt_elem_obj(r, f, w))
            return;
        struct fdt_dmisuse *m = &d->misuse[i];
        m->kind = fdt_str(r, f, w, "kind");
        if (fdc_misuse_from_name(m->kind) < 0) {
            fdt_fail(r, "bad dump: \"%s\" has an unknown \"kind\"", w);
            return;
        }
        m->fd = (int)fdt_int(r, f, w, "fd", INT_MIN, INT_MAX);
        m->call = fdt_str(r, f, w, "call");
        m->count = fdt_int(r, f, w, "count", 0, INT64_MAX);
        m->stack = (uint32_t)fdt_int(r, f, w, "stack", 0, UINT32_MAX);
        m->pystack = (uint32_t)fdt_int(r, f, w, "pystack", 0, UINT32_MAX);
        m->closed_call = fdt_str(r, f, w, "closed_call");
        m->closed_stack = (uint32_t)fdt_int(r, f, w, "closed_stack", 0, UINT32_MAX);
        m->acquired_call = fdt_str(r, f, w, "acquired_call");
        m->acquired_stack = (uint32_t)fdt_int(r, f, w, "acquired_stack", 0, UINT32_MAX);
        m->acquired_pystack = (uint32_t)fdt_int(r, f, w, "acquired_pystack", 0, UINT32_MAX);
        m->owner = fdt_str(r, f, w, "owner");
    }
}

struct fdt_dump *fdt_dump_parse(char *buf, size_t len, const char *name, char *err, size_t errlen)
{
    struct fdt_rd r = {.file = name, .err = err, .errlen = errlen};
    if (len > FDT_DUMP_MAX_BYTES) {
        fdt_fail(&r, "larger than %u bytes; not read", FDT_DUMP_MAX_BYTES);
        return NULL;
    }
    fdt_check_shape(&r, buf, len);
    if (r.failed)
        return NULL;
    int line, col;
    const char *what;
    bool truncated;
    struct fdt_jdoc *doc =
        fdt_json_parse_flags(buf, len, &line, &col, &what, &truncated, FDT_JSON_BYTES);
    if (!doc) {
        if (truncated)
            fdt_fail(&r, "truncated dump");
        else if (line == 0)
            fdt_fail(&r, "not read: %s", what);
        else
            fdt_fail(&r, "invalid JSON at line %d column %d: %s", line, col, what);
        return NULL;
    }
    struct fdt_dump *d = fdt_xcalloc(1, sizeof *d);
    d->file = fdt_xstrdup(name);
    d->doc = doc;
    jv *root = fdt_json_root(doc);
    jv *fmt = fdt_get(&r, root, "", "format");
    if (r.failed)
        goto fail;
    if (!fdt_json_str(fmt) || strcmp(fdt_json_str(fmt), FDC_DUMP_FORMAT) != 0) {
        fdt_fail(&r, "not an fdleak dump");
        goto fail;
    }
    jv *ver = fdt_get(&r, root, "", "version");
    if (!r.failed && !fdt_json_is_int(ver))
        fdt_fail(&r, "bad dump: no integer \"version\"");
    if (r.failed)
        goto fail;
    if (ver->overflow || ver->u.i != FDC_DUMP_VERSION) {
        fdt_fail(&r, "unsupported dump version %lld (this fdleak reads %d)", (long long)ver->u.i,
                 FDC_DUMP_VERSION);
        goto fail;
    }
    static const struct {
        const char *key;
        size_t max;
    } arrays[] = {{"modules", FDT_DUMP_MAX_MODULES},
                  {"stacks", FDT_DUMP_MAX_STACKS},
                  {"fds", FDT_DUMP_MAX_FDS}};
    jv *arr[3];
    for (size_t i = 0; i < 3 && !r.failed; i++) {
        arr[i] = fdt_arr(&r, root, "", arrays[i].key, arrays[i].max);
        if (!r.failed && !arr[i])
            fdt_fail(&r, "bad dump: no \"%s\" array", arrays[i].key);
    }
    if (!r.failed && !fdt_json_is_int(fdt_get(&r, root, "", "pid")))
        fdt_fail(&r, "bad dump: no integer \"pid\"");
    if (r.failed)
        goto fail;
    fdt_load_top(&r, d, root);
    if (!r.failed)
        fdt_load_modules(&r, d, arr[0]);
    if (!r.failed)
        fdt_load_stacks(&r, d, arr[1]);
    if (!r.failed)
        fdt_load_pystacks(&r, d, fdt_arr(&r, root, "", "pystacks", FDT_DUMP_MAX_STACKS));
    if (!r.failed)
        fdt_load_fds(&r, d, arr[2]);
    if (!r.failed)
        fdt_load_misuse(&r, d, fdt_arr(&r, root, "", "misuse", FDC_MISUSE_MAX));
    if (!r.failed)
        return d;
fail:
    fdt_dump_free(d);
    return NULL;
}

struct fdt_dump *fdt_dump_load(const char *file, char *err, size_t errlen)
{
    struct stat st;
    int fd = fdt_open_regular(AT_FDCWD, file, FDT_ANY_OWNER, &st, err, errlen);
    if (fd < 0)
        return NULL;
    if ((uint64_t)st.st_size > FDT_DUMP_MAX_BYTES) {
        snprintf(err, errlen, "%s: larger than %u bytes; not read", file, FDT_DUMP_MAX_BYTES);
        close(fd);
        return NULL;
    }
    char *buf;
    size_t len;
    int rc = fdt_read_all(fd, file, FDT_DUMP_MAX_BYTES, &buf, &len, err, errlen);
    close(fd);
    if (rc)
        return NULL;
    struct fdt_dump *d = fdt_dump_parse(buf, len, file, err, errlen);
    free(buf);
    return d;
}

void fdt_dump_free(struct fdt_dump *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->nstacks; i++)
        free(d->stacks[i].ips);
    for (size_t i = 0; i < d->npystacks; i++)
        free(d->pystacks[i].frames);
    free(d->misuse);
    free(d->stacks);
    free(d->pystacks);
    free(d->modules);
    free(d->fds);
    free(d->cmdline);
    fdt_json_free(d->doc);
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
