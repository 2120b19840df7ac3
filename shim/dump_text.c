/* The text report on stderr, for the library used alone: the collected records presented to
 * the common renderer (common/report_text.c, the same code as `fdleak report`) as its model.
 * Grouping happens here, in the scratch memory the dump already owns: leaked descriptors by
 * (stack, Python stack, call), largest group first, ties by lowest fd. Function names come
 * from dladdr outside signal handlers, module+offset otherwise; file:line is the command's job
 * (the report's last line says how). */
#include "dump_text.h"

#include "intern.h"
#include "report_text.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>

struct group {
    uint32_t first, count; /* indices into recs */
};

struct model {
    struct fdl_scratch *s;
    const struct fdl_dump_ctx *h;
    struct group *groups;
    size_t start[FDC_ORIGIN_COUNT]; /* first record of each origin (recs sorted by origin) */
    struct fdl_details d;           /* the strings of the last fd handed out */
    int safe;
};

static int cmp_rec(const void *a, const void *b)
{
    const struct fdl_rec *x = a, *y = b;
#define KEY(f)                                                                                     \
    if (x->f != y->f)                                                                              \
        return x->f < y->f ? -1 : 1;
    KEY(origin)
    KEY(e.stack)
    KEY(e.pystack)
    KEY(e.call)
    KEY(fd)
#undef KEY
    return 0;
}

static const struct fdl_rec *sort_recs; /* fdl_heapsort has no context; the dump lock is held */

/* For the heap, "larger" sorts last: the report reads the array from the end. */
static int cmp_group(const void *a, const void *b)
{
    const struct group *x = a, *y = b;
    if (x->count != y->count)
        return x->count < y->count ? -1 : 1;
    int fx = sort_recs[x->first].fd, fy = sort_recs[y->first].fd;
    return fx > fy ? -1 : fx < fy;
}

static int rec_kind(const struct fdl_rec *r)
{
    if (r->e.kind != FDC_KIND_unknown)
        return r->e.kind;
    struct fdl_details d;
    fdl_details(r, &d);
    return d.kind;
}

static void fill_fd(struct model *m, const struct fdl_rec *r, int details, struct fdc_rfd *out)
{
    out->fd = r->fd;
    out->tid = (long)r->e.tid;
    out->cloexec = !!(r->e.flags & FDL_F_CLOEXEC);
    uint64_t now = m->h->now_coarse;
    out->age_ms = now > r->e.time_ns ? (int64_t)((now - r->e.time_ns) / 1000000) : 0;
    if (!details)
        return;
    fdl_details(r, &m->d);
    out->kind = fdc_kind_name((unsigned)m->d.kind);
    out->path = r->e.path ? fdl_path_text(r->e.path) : m->d.target;
    out->local = m->d.local;
    out->peer = m->d.peer;
}

/* ---------------------------------------------------------------- the model callbacks */

static const char *m_arg(void *ctx, size_t i)
{
    const struct fdl_dump_ctx *h = ((struct model *)ctx)->h;
    const char *p = h->cmdline, *end = h->cmdline + h->cmdline_len;
    for (; i && p < end; i--)
        p += strnlen(p, (size_t)(end - p)) + 1;
    return p < end && memchr(p, 0, (size_t)(end - p)) ? p : NULL;
}

static void m_group(void *ctx, size_t g, struct fdc_rgroup *out)
{
    struct model *m = ctx;
    const struct group *gr = &m->groups[g];
    const struct fdl_rec *r = &m->s->recs[gr->first];
    out->call = fdc_call_name(r->e.call);
    out->count = gr->count;
    out->stack = r->e.stack;
    out->pystack = r->e.pystack;
    uint32_t npy, dropped;
    fdl_python_frames(r->e.pystack, &npy, &dropped);
    out->pytruncated = dropped;
    int kind = rec_kind(r);
    out->kind = fdc_kind_name((unsigned)kind);
    for (uint32_t i = 1; i < gr->count; i++)
        if (rec_kind(r + i) != kind) {
            out->kind = "mixed";
            break;
        }
}

static void m_group_fd(void *ctx, size_t g, size_t i, struct fdc_rfd *out)
{
    struct model *m = ctx;
    fill_fd(m, &m->s->recs[m->groups[g].first + i], 1, out);
}

static void m_other(void *ctx, int origin, size_t i, int details, struct fdc_rfd *out)
{
    struct model *m = ctx;
    fill_fd(m, &m->s->recs[m->start[origin] + i], details, out);
}

static size_t m_frame(void *ctx, uint64_t stack, size_t i, struct fdc_rframe *out)
{
    struct model *m = ctx;
    uint32_t len;
    const uintptr_t *ips = fdl_intern_get(&fdl_stacks, (uint32_t)stack, &len);
    size_t n = ips ? len / sizeof(uintptr_t) : 0;
    if (!out || i >= n)
        return n;
    uintptr_t ip = ips[i];
    out->ip = ip;
    const struct fdl_module *mod = fdl_maps_find(ip);
    if (mod) {
        out->module = fdl_maps_path(mod);
        out->offset = ip - 1 - mod->base; /* the call itself: ip is the return address */
    }
    /* dladdr takes the loader lock: only outside signal handlers. It names the nearest
     * exported symbol below the address, so the symbol's size decides whether the address is
     * really inside it (a static function of a program not linked -rdynamic is not). */
    Dl_info info;
    const ElfW(Sym) *sym = NULL;
    if (m->safe && dladdr1((void *)(ip - 1), &info, (void **)&sym, RTLD_DL_SYMENT) &&
        info.dli_sname && sym &&
        (ip - 1 - (uintptr_t)info.dli_saddr < sym->st_size || sym->st_size == 0))
        out->function = info.dli_sname;
    /* The entry point is the program's _start, which a program not linked -rdynamic does not
     * export: named here so that start-up frames are trimmed as the command trims them. */
    uintptr_t entry = (uintptr_t)getauxval(AT_ENTRY);
    if (!out->function && entry && ip - 1 - entry < 64)
        out->function = "_start";
    return n;
}

static size_t m_pyframe(void *ctx, uint64_t pystack, size_t i, struct fdc_rpyframe *out)
{
    (void)ctx;
    uint32_t nf, dropped, flen, lineno;
    const uint32_t *frames = fdl_python_frames((uint32_t)pystack, &nf, &dropped);
    size_t n = nf;
    if (!out || i >= n)
        return n;
    const char *f = fdl_intern_get(&fdl_pyframes, frames[i], &flen);
    if (!f || flen < 6)
        return n;
    memcpy(&lineno, f, 4);
    out->line = lineno;
    out->file = f + 4;
    out->function = out->file + strnlen(out->file, flen - 4) + 1;
    if (out->function >= f + flen)
        out->function = "";
    return n;
}

static void sink(void *arg, const char *s, size_t n)
{
    fdl_out_mem(arg, s, n);
}

static void fill_misuse(const struct fdl_misuse *ev, struct fdc_rmisuse *out)
{
    out->kind = fdc_misuse_name(ev->kind);
    out->call = fdc_call_name(ev->call);
    out->closed_call = fdc_call_name(ev->closed_call);
    out->acquired_call = fdc_call_name(ev->acquired_call);
    out->owner = fdc_owner_name(ev->owner);
    out->fd = ev->fd;
    out->count = __atomic_load_n(&ev->count, __ATOMIC_RELAXED);
    out->stack = ev->stack;
    out->closed_stack = ev->closed_stack;
    out->acquired_stack = ev->acquired_stack;
    out->pystack = ev->pystack;
    out->acquired_pystack = ev->acquired_pystack;
    uint32_t npy, dropped;
    fdl_python_frames(ev->pystack, &npy, &dropped);
    out->pytruncated = dropped;
    fdl_python_frames(ev->acquired_pystack, &npy, &dropped);
    out->acquired_pytruncated = dropped;
}

/* The i-th published event (a slot may be claimed and not yet written). */
static const struct fdl_misuse *nth_misuse(size_t i)
{
    for (size_t k = 0, n = fdl_misuse_count(); k < n; k++) {
        const struct fdl_misuse *ev = fdl_misuse_get(k);
        if (ev && i-- == 0)
            return ev;
    }
    return NULL;
}

static size_t published_misuse(void)
{
    size_t c = 0;
    for (size_t k = 0, n = fdl_misuse_count(); k < n; k++)
        c += fdl_misuse_get(k) != NULL;
    return c;
}

static void m_misuse(void *ctx, size_t i, struct fdc_rmisuse *out)
{
    (void)ctx;
    const struct fdl_misuse *ev = nth_misuse(i);
    if (ev)
        fill_misuse(ev, out);
}

/* FDLEAK_MISUSE=abort: the event alone, on stderr, as the report would show it; the caller
 * aborts next. Not in a signal handler (misuse is found in wrappers): dladdr is allowed. */
void fdl_text_misuse_now(const struct fdl_misuse *ev)
{
    static struct fdl_out o;
    struct model m = {.safe = 1};
    struct fdc_rmisuse r = {0};
    fill_misuse(ev, &r);
    struct fdc_rmodel model = {.ctx = &m, .frame = m_frame, .pyframe = m_pyframe};
    model.proc.pid = (long)syscall(SYS_getpid);
    struct fdc_ropts opts = {0};
    if (!fdl_msg_stderr_ok())
        return;
    fdl_out_start(&o, 2);
    fdc_report_misuse(&model, &opts, &r, sink, &o);
    fdl_out_str(&o, "==");
    fdl_out_u64(&o, (uint64_t)model.proc.pid);
    fdl_out_str(&o, "== aborting: FDLEAK_MISUSE=abort\n");
    fdl_out_flush(&o);
}

/* ---------------------------------------------------------------------------- report */

int fdl_text_nothing_to_report(const struct fdl_scratch *s)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->recs[i].origin == FDC_ORIGIN_TRACKED ||
            (s->recs[i].origin == FDC_ORIGIN_UNKNOWN && s->recs[i].fd > 2)) /* as fdleak run */
            return 0;
    return published_misuse() == 0 && fdl_misuse_dropped() == 0;
}

void fdl_write_text(struct fdl_out *o, struct fdl_scratch *s, const struct fdl_dump_ctx *h)
{
    const struct fdl_dump_req *req = h->req;
    struct model m = {.s = s, .h = h, .groups = (struct group *)s->ids, .safe = req->safe};

    fdl_heapsort(s->recs, s->n, sizeof(struct fdl_rec), cmp_rec);
    size_t count[FDC_ORIGIN_COUNT] = {0}, ng = 0;
    for (size_t i = 0; i < s->n; i++) {
        const struct fdl_rec *r = &s->recs[i];
        int origin =
            r->origin >= 0 && r->origin < FDC_ORIGIN_COUNT ? r->origin : FDC_ORIGIN_UNKNOWN;
        if (count[origin]++ == 0)
            m.start[origin] = i;
        if (origin != FDC_ORIGIN_TRACKED)
            continue;
        const struct fdl_rec *f = ng ? &s->recs[m.groups[ng - 1].first] : NULL;
        if (f && f->e.stack == r->e.stack && f->e.pystack == r->e.pystack &&
            f->e.call == r->e.call) {
            m.groups[ng - 1].count++;
        } else {
            m.groups[ng].first = (uint32_t)i;
            m.groups[ng].count = 1;
            ng++;
        }
    }
    /* Sorted ascending, then reversed in place: largest first, ties by lowest fd. */
    sort_recs = s->recs;
    fdl_heapsort(m.groups, ng, sizeof(struct group), cmp_group);
    for (size_t i = 0; i < ng / 2; i++) {
        struct group t = m.groups[i];
        m.groups[i] = m.groups[ng - 1 - i];
        m.groups[ng - 1 - i] = t;
    }

    struct fdc_rmodel model = {
        .ctx = &m,
        .proc =
            {
                .pid = (long)syscall(SYS_getpid),
                .exe = h->exe,
                .trigger = fdc_trigger_name(req->trigger),
                .signal = req->signal,
                .trigger_call = fdc_call_name(req->call),
                .trigger_enfile = req->err == ENFILE,
                .threshold = req->threshold,
                .trigger_stack = req->stack,
                .open_fds = (long)h->open_fds,
                .limit_nofile = (long)h->rl.rlim_cur,
                .leaked = count[FDC_ORIGIN_TRACKED],
                .ngroups = ng,
                .ninherited = count[FDC_ORIGIN_INHERITED],
                .nunknown = count[FDC_ORIGIN_UNKNOWN],
                .stack_store_full = fdl_stacks.full,
                .path_store_full = fdl_paths.full,
                .truncated = s->truncated,
                .nmisuse = published_misuse(),
                .misuse_dropped = fdl_misuse_dropped(),
            },
        .arg = m_arg,
        .group = m_group,
        .group_fd = m_group_fd,
        .frame = m_frame,
        .pyframe = m_pyframe,
        .other = m_other,
        .misuse = m_misuse,
    };
    struct fdc_ropts opts = {
        .max_fds = FDC_TEXT_FDS_PER_GROUP,
        .footer = "for source file:line, run the program under `fdleak run`, or set "
                  "FDLEAK_OUTPUT=FILE and run `fdleak report FILE`",
    };
    fdc_report_text(&model, &opts, sink, o);
}
