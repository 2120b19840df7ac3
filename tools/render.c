/* Reports from the model (model.h): the text report through the renderer the library shares
 * (common/report_text.c), fed from the symbolized model, and the --json report. Stacks are
 * symbolized once per proc (fdt_proc_frames), whichever report asks first. */
#include "render.h"

#include "contract.h"
#include "report_text.h"
#include "suppress.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------ text */

/* The renderer's context: the proc, and what --gen-suppressions names so far. */
struct fdt_rctx {
    struct fdt_proc *p;
    struct fdt_supp_gen *gen;
};

#define FDT_CTX_PROC(ctx) (((struct fdt_rctx *)(ctx))->p)

static const char *fdt_m_arg(void *ctx, size_t i)
{
    const struct fdt_proc *p = FDT_CTX_PROC(ctx);
    return i < p->dump->ncmdline ? p->dump->cmdline[i] : NULL;
}

static void fdt_m_group(void *ctx, size_t g, struct fdc_rgroup *out)
{
    const struct fdt_group *gr = &FDT_CTX_PROC(ctx)->groups[g];
    out->call = gr->call;
    out->kind = gr->kind;
    out->count = gr->count;
    out->stack = gr->stack;
    out->pystack = gr->pystack;
    const struct fdt_dpystack *ps = fdt_dump_pystack(FDT_CTX_PROC(ctx)->dump, gr->pystack);
    out->pytruncated = ps ? (size_t)ps->truncated : 0;
}

static void fdt_m_fd(const struct fdt_dfd *f, struct fdc_rfd *out)
{
    out->fd = f->fd;
    out->kind = f->kind;
    out->path = *f->path ? f->path : f->target;
    out->local = f->local;
    out->peer = f->peer;
    out->cloexec = f->cloexec;
    out->age_ms = f->age_ms;
    out->tid = f->tid;
}

static void fdt_m_group_fd(void *ctx, size_t g, size_t i, struct fdc_rfd *out)
{
    const struct fdt_proc *p = FDT_CTX_PROC(ctx);
    fdt_m_fd(&p->dump->fds[p->groups[g].fds[i]], out);
}

static void fdt_m_other(void *ctx, int origin, size_t i, int details, struct fdc_rfd *out)
{
    (void)details;
    const struct fdt_proc *p = FDT_CTX_PROC(ctx);
    const size_t *idx = origin == FDC_ORIGIN_INHERITED ? p->inherited : p->unknown;
    fdt_m_fd(&p->dump->fds[idx[i]], out);
}

static size_t fdt_m_frame(void *ctx, uint64_t stack, size_t i, struct fdc_rframe *out)
{
    const struct fdt_frame *const *v;
    size_t n = fdt_proc_frames(FDT_CTX_PROC(ctx), (uint32_t)stack, &v);
    if (out && i < n) {
        const struct fdt_frame *f = v[i];
        out->function = f->function;
        out->file = f->file;
        out->line = f->line;
        out->module = f->module;
        out->offset = f->offset;
        out->ip = f->ip;
        out->inlined = f->inlined;
    }
    return n;
}

static size_t fdt_m_pyframe(void *ctx, uint64_t pystack, size_t i, struct fdc_rpyframe *out)
{
    const struct fdt_dpystack *ps = fdt_dump_pystack(FDT_CTX_PROC(ctx)->dump, (uint32_t)pystack);
    size_t n = ps ? ps->nframes : 0;
    if (out && i < n) {
        out->file = ps->frames[i].file;
        out->function = ps->frames[i].function;
        out->line = ps->frames[i].line;
    }
    return n;
}

static void fdt_m_earlier(void *ctx, size_t i, const char **trigger, long *seq)
{
    const struct fdt_proc *p = FDT_CTX_PROC(ctx);
    *trigger = p->earlier[i]->trigger;
    *seq = p->earlier[i]->seq;
}

static void fdt_m_suppressed(void *ctx, size_t i, const char **rule, size_t *count, size_t *groups)
{
    const struct fdt_proc *p = FDT_CTX_PROC(ctx);
    *rule = p->hits[i].rule;
    *count = p->hits[i].count;
    *groups = p->hits[i].groups;
}

/* A ready suppression entry under the group (--gen-suppressions), already made safe to print
 * by the generator. */
static void fdt_m_group_after(void *ctx, size_t g, fdc_sink_fn *sink, void *arg)
{
    struct fdt_rctx *c = ctx;
    bool dup;
    char *e = fdt_supp_gen_entry(c->gen, c->p, &c->p->groups[g], &dup);
    sink(arg, e, strlen(e));
    free(e);
}

static void fdt_sink(void *arg, const char *s, size_t n)
{
    fwrite(s, 1, n, arg);
}

static struct fdc_rproc fdt_m_proc(const struct fdt_proc *p)
{
    const struct fdt_dump *d = p->dump;
    return (struct fdc_rproc){
        .pid = d->pid,
        .exe = d->exe,
        .trigger = d->trigger,
        .signal = d->signal,
        .trigger_call = d->trigger_call,
        .trigger_enfile = d->trigger_errno == ENFILE,
        .threshold = d->threshold,
        .trigger_stack = d->trigger_stack,
        .open_fds = d->open_fds,
        .limit_nofile = d->limit_nofile,
        .leaked = p->leaked,
        .ngroups = p->ngroups,
        .ninherited = p->ninherited,
        .nunknown = p->nunknown,
        .stack_store_full = d->stats.stack_store_full,
        .path_store_full = d->stats.path_store_full,
        .truncated = p->truncated,
        .nearlier = p->nearlier,
        .nsuppressed = p->nsuppressed,
        .nsupp_groups = p->nsupp_groups,
        .nsupp_rules = p->nhits,
        .nmisuse = d->nmisuse,
        .misuse_dropped = (uint64_t)d->stats.misuse_dropped,
    };
}

static void fdt_m_misuse(void *ctx, size_t i, struct fdc_rmisuse *out)
{
    const struct fdt_dump *d = FDT_CTX_PROC(ctx)->dump;
    const struct fdt_dmisuse *e = &d->misuse[i];
    const struct fdt_dpystack *ps = fdt_dump_pystack(d, e->pystack);
    const struct fdt_dpystack *aps = fdt_dump_pystack(d, e->acquired_pystack);
    *out = (struct fdc_rmisuse){.kind = e->kind,
                                .call = e->call,
                                .closed_call = e->closed_call,
                                .acquired_call = e->acquired_call,
                                .owner = e->owner,
                                .fd = e->fd,
                                .count = (uint64_t)e->count,
                                .stack = e->stack,
                                .pystack = e->pystack,
                                .pytruncated = ps ? ps->truncated : 0,
                                .closed_stack = e->closed_stack,
                                .acquired_stack = e->acquired_stack,
                                .acquired_pystack = e->acquired_pystack,
                                .acquired_pytruncated = aps ? aps->truncated : 0};
}

bool fdt_render_nothing(const struct fdt_proc *p)
{
    struct fdc_rproc r = fdt_m_proc(p);
    return fdc_report_nothing(&r);
}

void fdt_render_text(FILE *out, struct fdt_proc *p, const struct fdt_render_opts *o)
{
    struct fdt_rctx ctx = {p, o->gen};
    struct fdc_rmodel m = {
        .ctx = &ctx,
        .proc = fdt_m_proc(p),
        .arg = fdt_m_arg,
        .group = fdt_m_group,
        .group_fd = fdt_m_group_fd,
        .frame = fdt_m_frame,
        .pyframe = fdt_m_pyframe,
        .other = fdt_m_other,
        .earlier = fdt_m_earlier,
        .suppressed = fdt_m_suppressed,
        .group_after = o->gen ? fdt_m_group_after : NULL,
        .misuse = fdt_m_misuse,
    };
    struct fdc_ropts ro = {
        .color = o->color,
        .max_fds = o->max_fds,
        .cwd = o->cwd,
        .show_inherited = o->show_inherited,
        .inh_hint = "--show-inherited lists them",
        .more_hint = "--fds=0 lists all",
    };
    fdc_report_text(&m, &ro, fdt_sink, out);
}

/* ------------------------------------------------------------------------------------ JSON */

void fdt_json_frame(struct fdt_jw *w, uint64_t ip, const char *module, uint64_t offset,
                    const char *function, const char *file, int line, bool inlined)
{
    char sip[32], soff[32];
    snprintf(sip, sizeof sip, "0x%llx", (unsigned long long)ip);
    snprintf(soff, sizeof soff, "0x%llx", (unsigned long long)offset);
    fdt_jw_obj(w, NULL);
    fdt_jw_str(w, "ip", sip);
    fdt_jw_str(w, "module", module);
    fdt_jw_str(w, "offset", soff);
    fdt_jw_str(w, "function", function);
    fdt_jw_str(w, "file", file);
    if (line)
        fdt_jw_int(w, "line", line);
    else
        fdt_jw_null(w, "line");
    fdt_jw_bool(w, "inlined", inlined);
    fdt_jw_end(w, '}');
}

static void fdt_json_frames(struct fdt_jw *w, const char *key, struct fdt_proc *p, uint32_t stack)
{
    const struct fdt_frame *const *v;
    size_t n = fdt_proc_frames(p, stack, &v);
    fdt_jw_arr(w, key);
    for (size_t i = 0; i < n; i++) {
        const struct fdt_frame *f = v[i];
        fdt_json_frame(w, f->ip, f->module, f->offset, f->function, f->file, f->line, f->inlined);
    }
    fdt_jw_end(w, ']');
}

void fdt_json_pyframe(struct fdt_jw *w, const char *file, const char *function, long line)
{
    fdt_jw_obj(w, NULL);
    fdt_jw_str(w, "file", file);
    fdt_jw_str(w, "function", function);
    fdt_jw_int(w, "line", line);
    fdt_jw_end(w, '}');
}

/* A Python stack as "key": [{file, function, line}], innermost first; returns it (NULL if
 * none). */
static const struct fdt_dpystack *fdt_json_pyframes(struct fdt_jw *w, const char *key,
                                                    const struct fdt_dump *d, uint32_t pystack)
{
    const struct fdt_dpystack *ps = fdt_dump_pystack(d, pystack);
    fdt_jw_arr(w, key);
    for (size_t i = 0; ps && i < ps->nframes; i++)
        fdt_json_pyframe(w, ps->frames[i].file, ps->frames[i].function, ps->frames[i].line);
    fdt_jw_end(w, ']');
    return ps;
}

static void fdt_json_fd(struct fdt_jw *w, const struct fdt_dfd *f)
{
    fdt_jw_obj(w, NULL);
    fdt_jw_int(w, "fd", f->fd);
    fdt_jw_str(w, "kind", f->kind);
    fdt_jw_str(w, "path", *f->path ? f->path : f->target);
    fdt_jw_str(w, "target", f->target);
    fdt_jw_str(w, "local", f->local);
    fdt_jw_str(w, "peer", f->peer);
    fdt_jw_bool(w, "cloexec", f->cloexec);
    fdt_jw_int(w, "age_ms", f->age_ms);
    fdt_jw_int(w, "tid", f->tid);
    fdt_jw_end(w, '}');
}

static void fdt_json_others(struct fdt_jw *w, const char *key, const struct fdt_dump *d,
                            const size_t *idx, size_t n)
{
    fdt_jw_arr(w, key);
    for (size_t i = 0; i < n; i++) {
        const struct fdt_dfd *f = &d->fds[idx[i]];
        fdt_jw_obj(w, NULL);
        fdt_jw_int(w, "fd", f->fd);
        fdt_jw_str(w, "kind", f->kind);
        fdt_jw_str(w, "path", *f->path ? f->path : f->target);
        fdt_jw_end(w, '}');
    }
    fdt_jw_end(w, ']');
}

void fdt_render_json(struct fdt_jw *w, struct fdt_proc *p)
{
    const struct fdt_dump *d = p->dump;
    fdt_jw_obj(w, NULL);
    fdt_jw_int(w, "pid", d->pid);
    fdt_jw_int(w, "ppid", d->ppid);
    fdt_jw_str(w, "exe", d->exe);
    fdt_jw_arr(w, "cmdline");
    for (size_t i = 0; i < d->ncmdline; i++)
        fdt_jw_str(w, NULL, d->cmdline[i]);
    fdt_jw_end(w, ']');
    fdt_jw_str(w, "dump", d->file);
    fdt_jw_int(w, "seq", d->seq);
    fdt_jw_str(w, "trigger", d->trigger);
    fdt_jw_int(w, "signal", d->signal);
    fdt_jw_str(w, "trigger_call", d->trigger_call);
    fdt_jw_int(w, "trigger_errno", d->trigger_errno);
    fdt_jw_int(w, "threshold", d->threshold);
    fdt_json_frames(w, "trigger_stack", p, d->trigger_stack);
    fdt_jw_int(w, "time_realtime_ns", d->time_realtime_ns);
    fdt_jw_int(w, "open_fds", d->open_fds);
    fdt_jw_int(w, "limit_nofile", d->limit_nofile);
    fdt_jw_int(w, "limit_nofile_max", d->limit_nofile_max);
    fdt_jw_int(w, "peak_open_fds", d->peak_open_fds);
    fdt_jw_int(w, "peak_time_realtime_ns", d->peak_time_realtime_ns);
    fdt_jw_bool(w, "earlier", p->shown_as_earlier);
    fdt_jw_int(w, "leaked", (int64_t)p->leaked);
    fdt_jw_arr(w, "groups");
    for (size_t gi = 0; gi < p->ngroups; gi++) {
        struct fdt_group *g = &p->groups[gi];
        fdt_jw_obj(w, NULL);
        fdt_jw_int(w, "count", (int64_t)g->count);
        fdt_jw_str(w, "call", g->call);
        fdt_jw_str(w, "kind", g->kind);
        fdt_json_frames(w, "stack", p, g->stack);
        const struct fdt_dpystack *ps = fdt_json_pyframes(w, "pystack", d, g->pystack);
        if (ps && ps->truncated)
            fdt_jw_int(w, "pystack_truncated", ps->truncated);
        fdt_jw_arr(w, "fds");
        for (size_t i = 0; i < g->count; i++)
            fdt_json_fd(w, &d->fds[g->fds[i]]);
        fdt_jw_end(w, ']');
        fdt_jw_end(w, '}');
    }
    fdt_jw_end(w, ']');
    fdt_jw_arr(w, "suppressed");
    for (size_t i = 0; i < p->nhits; i++) {
        fdt_jw_obj(w, NULL);
        fdt_jw_str(w, "rule", p->hits[i].rule);
        fdt_jw_int(w, "count", (int64_t)p->hits[i].count);
        fdt_jw_int(w, "groups", (int64_t)p->hits[i].groups);
        fdt_jw_end(w, '}');
    }
    fdt_jw_end(w, ']');
    fdt_jw_arr(w, "misuse");
    for (size_t i = 0; i < d->nmisuse; i++) {
        const struct fdt_dmisuse *e = &d->misuse[i];
        fdt_jw_obj(w, NULL);
        fdt_jw_str(w, "kind", e->kind);
        fdt_jw_int(w, "fd", e->fd);
        fdt_jw_str(w, "call", e->call);
        fdt_jw_int(w, "count", e->count);
        fdt_json_frames(w, "stack", p, e->stack);
        fdt_json_pyframes(w, "pystack", d, e->pystack);
        fdt_jw_str(w, "closed_call", e->closed_call);
        fdt_json_frames(w, "closed_stack", p, e->closed_stack);
        fdt_jw_str(w, "acquired_call", e->acquired_call);
        fdt_json_frames(w, "acquired_stack", p, e->acquired_stack);
        fdt_json_pyframes(w, "acquired_pystack", d, e->acquired_pystack);
        fdt_jw_str(w, "owner", e->owner);
        fdt_jw_end(w, '}');
    }
    fdt_jw_end(w, ']');
    fdt_json_others(w, "inherited", d, p->inherited, p->ninherited);
    fdt_json_others(w, "unknown_origin", d, p->unknown, p->nunknown);
    fdt_jw_arr(w, "earlier_dumps");
    for (size_t i = 0; i < p->nearlier; i++) {
        fdt_jw_obj(w, NULL);
        fdt_jw_int(w, "seq", p->earlier[i]->seq);
        fdt_jw_str(w, "trigger", p->earlier[i]->trigger);
        fdt_jw_str(w, "trigger_call", p->earlier[i]->trigger_call);
        fdt_jw_int(w, "threshold", p->earlier[i]->threshold);
        fdt_jw_end(w, '}');
    }
    fdt_jw_end(w, ']');
    fdt_jw_obj(w, "stats");
    fdt_jw_int(w, "acquired", d->stats.acquired);
    fdt_jw_int(w, "released", d->stats.released);
    fdt_jw_int(w, "stacks", d->stats.stacks);
    fdt_jw_int(w, "stack_store_full", d->stats.stack_store_full);
    fdt_jw_int(w, "path_store_full", d->stats.path_store_full);
    fdt_jw_int(w, "unwind_failed", d->stats.unwind_failed);
    fdt_jw_int(w, "misuse", (int64_t)d->nmisuse);
    fdt_jw_int(w, "misuse_dropped", d->stats.misuse_dropped);
    fdt_jw_end(w, '}');
    fdt_jw_end(w, '}');
}

int fdt_render_json_file(const char *path, struct fdt_proc *procs, size_t n)
{
    bool to_stdout = !strcmp(path, "-");
    FILE *f = to_stdout ? stdout : fopen(path, "we");
    if (!f) {
        fdt_msg("%s: %s", path, strerror(errno));
        return -1;
    }
    struct fdt_jw w;
    fdt_jw_init(&w, f);
    fdt_jw_obj(&w, NULL);
    fdt_jw_str(&w, "format", FDC_REPORT_FORMAT);
    fdt_jw_int(&w, "version", FDC_REPORT_VERSION);
    fdt_jw_arr(&w, "processes");
    for (size_t i = 0; i < n; i++)
        fdt_render_json(&w, &procs[i]);
    fdt_jw_end(&w, ']');
    fdt_jw_end(&w, '}');
    int rc = to_stdout ? fflush(f) : fclose(f);
    if (rc != 0) {
        fdt_msg("%s: cannot write the JSON report: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}
