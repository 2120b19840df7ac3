/* Reports: grouping a dump's leaked (tracked) descriptors by (stack, Python stack, call),
 * largest group first and ties by lowest fd, then rendering as text or JSON. Each group's stack
 * is symbolized once, so the cost follows distinct stacks, not descriptors. */
#include "render.h"

#include "contract.h"
#include "signame.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static int fdt_cmp_str(const char *a, const char *b)
{
    int c = strcmp(a, b);
    return c < 0 ? -1 : c > 0;
}

static const struct fdt_dump *fdt_sort_dump; /* qsort has no context argument */

static int fdt_cmp_tracked(const void *a, const void *b)
{
    const struct fdt_dfd *x = &fdt_sort_dump->fds[*(const size_t *)a];
    const struct fdt_dfd *y = &fdt_sort_dump->fds[*(const size_t *)b];
    if (x->stack != y->stack)
        return x->stack < y->stack ? -1 : 1;
    if (x->pystack != y->pystack)
        return x->pystack < y->pystack ? -1 : 1;
    int c = fdt_cmp_str(x->call, y->call);
    if (c)
        return c;
    return x->fd < y->fd ? -1 : x->fd > y->fd;
}

static int fdt_cmp_group(const void *a, const void *b)
{
    const struct fdt_group *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    int fx = fdt_sort_dump->fds[x->fds[0]].fd, fy = fdt_sort_dump->fds[y->fds[0]].fd;
    return fx < fy ? -1 : fx > fy;
}

void fdt_proc_init(struct fdt_proc *p, struct fdt_dump *d)
{
    memset(p, 0, sizeof *p);
    p->dump = d;
    p->sym = fdt_sym_new(d);
    size_t *tracked = fdt_xcalloc(d->nfds, sizeof *tracked);
    p->inherited = fdt_xcalloc(d->nfds, sizeof *p->inherited);
    p->unknown = fdt_xcalloc(d->nfds, sizeof *p->unknown);
    for (size_t i = 0; i < d->nfds; i++) {
        switch (d->fds[i].origin) {
        case FDC_ORIGIN_TRACKED:
            tracked[p->leaked++] = i;
            break;
        case FDC_ORIGIN_INHERITED:
            p->inherited[p->ninherited++] = i;
            break;
        default:
            p->unknown[p->nunknown++] = i;
        }
    }
    fdt_sort_dump = d;
    qsort(tracked, p->leaked, sizeof *tracked, fdt_cmp_tracked);
    p->groups = fdt_xcalloc(p->leaked, sizeof *p->groups);
    for (size_t i = 0; i < p->leaked;) {
        const struct fdt_dfd *f = &d->fds[tracked[i]];
        size_t j = i + 1;
        while (j < p->leaked && d->fds[tracked[j]].stack == f->stack &&
               d->fds[tracked[j]].pystack == f->pystack &&
               !strcmp(d->fds[tracked[j]].call, f->call))
            j++;
        struct fdt_group *g = &p->groups[p->ngroups++];
        g->call = f->call;
        g->kind = f->kind;
        g->stack = f->stack;
        g->pystack = f->pystack;
        g->count = j - i;
        g->fds = fdt_xcalloc(g->count, sizeof *g->fds);
        memcpy(g->fds, tracked + i, g->count * sizeof *g->fds);
        for (size_t k = i; k < j; k++)
            if (strcmp(d->fds[tracked[k]].kind, g->kind) != 0)
                g->kind = "mixed";
        i = j;
    }
    qsort(p->groups, p->ngroups, sizeof *p->groups, fdt_cmp_group);
    free(tracked);
}

void fdt_proc_fini(struct fdt_proc *p)
{
    for (size_t i = 0; i < p->ngroups; i++)
        free(p->groups[i].fds);
    free(p->groups);
    free(p->inherited);
    free(p->unknown);
    free(p->earlier);
    fdt_sym_free(p->sym);
    fdt_dump_free(p->dump);
    memset(p, 0, sizeof *p);
}

/* Symbolizes a stack into a malloc'd array of frame pointers (inlined frames expanded). */
static size_t fdt_stack_frames(struct fdt_proc *p, uint32_t id, const struct fdt_frame ***out)
{
    const struct fdt_dstack *st = fdt_dump_stack(p->dump, id);
    size_t n = 0, cap = 0;
    const struct fdt_frame **v = NULL;
    for (size_t i = 0; st && i < st->nips; i++) {
        const struct fdt_frame *fr;
        size_t k = fdt_sym_ip(p->sym, st->ips[i], &fr);
        for (size_t j = 0; j < k; j++) {
            if (n == cap) {
                cap = cap ? 2 * cap : 32;
                v = fdt_xrealloc(v, cap * sizeof *v);
            }
            v[n++] = &fr[j];
        }
    }
    *out = v;
    return n;
}

static const char *fdt_basename(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static int fdt_is_startup(const char *fn)
{
    return fn && (!strcmp(fn, "_start") || !strncmp(fn, "__libc_start_main", 17) ||
                  !strcmp(fn, "__libc_start_call_main"));
}

/* ------------------------------------------------------------------------------------ text */

struct fdt_text {
    FILE *out;
    const struct fdt_render_opts *o;
    long pid;
};

#define FDT_C_RESET "\033[0m"
#define FDT_C_DIM "\033[2m"
#define FDT_C_BOLD "\033[1m"
#define FDT_C_RED "\033[1;31m"
#define FDT_C_CYAN "\033[36m"

static const char *fdt_c(const struct fdt_text *t, const char *code)
{
    return t->o->color ? code : "";
}

static void fdt_line(const struct fdt_text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void fdt_line(const struct fdt_text *t, const char *fmt, ...)
{
    va_list ap;
    fprintf(t->out, "%s==%ld==%s ", fdt_c(t, FDT_C_DIM), t->pid, fdt_c(t, FDT_C_RESET));
    va_start(ap, fmt);
    vfprintf(t->out, fmt, ap);
    va_end(ap);
    fputc('\n', t->out);
}

static void fdt_blank(const struct fdt_text *t)
{
    fprintf(t->out, "%s==%ld==%s\n", fdt_c(t, FDT_C_DIM), t->pid, fdt_c(t, FDT_C_RESET));
}

static const char *fdt_show_file(const struct fdt_text *t, const char *file)
{
    size_t n = t->o->cwd ? strlen(t->o->cwd) : 0;
    if (n > 1 && !strncmp(file, t->o->cwd, n) && file[n] == '/')
        return file + n + 1;
    return file;
}

/* Prints a symbolized stack. With python set (a Python stack was printed above), the C frames
 * stop where the interpreter's eval loop begins: below it they only repeat the Python stack. */
static void fdt_text_frames(const struct fdt_text *t, struct fdt_proc *p, uint32_t stack,
                            bool first_at, bool python)
{
    const struct fdt_frame **v;
    size_t n = fdt_stack_frames(p, stack, &v), hidden = 0;
    while (n > 1 && fdt_is_startup(v[n - 1]->function))
        n--;
    for (size_t i = 1; python && i < n; i++)
        if (v[i]->function && !strncmp(v[i]->function, "_PyEval_EvalFrame", 17)) {
            hidden = n - i;
            n = i;
        }
    if (n == 0)
        fdt_line(t, "   (no stack: unwinding failed or the call came before fdleak started)");
    for (size_t i = 0; i < n; i++) {
        const struct fdt_frame *f = v[i];
        const char *word = i == 0 && first_at ? "at" : "by";
        const char *inl = f->inlined ? " [inlined]" : "";
        if (f->function && f->file && f->line)
            fdt_line(t, "   %s %s%s%s (%s:%d)%s", word, fdt_c(t, FDT_C_BOLD), f->function,
                     fdt_c(t, FDT_C_RESET), fdt_show_file(t, f->file), f->line, inl);
        else if (f->function)
            fdt_line(t, "   %s %s%s%s (%s)%s", word, fdt_c(t, FDT_C_BOLD), f->function,
                     fdt_c(t, FDT_C_RESET), *f->module ? fdt_basename(f->module) : "?", inl);
        else if (*f->module)
            fdt_line(t, "   %s %s+0x%llx", word, fdt_basename(f->module),
                     (unsigned long long)f->offset);
        else
            fdt_line(t, "   %s 0x%llx", word, (unsigned long long)f->ip);
    }
    if (hidden)
        fdt_line(t, "   by ... (%zu frames in the Python interpreter; --json lists them)", hidden);
    free(v);
}

/* What a descriptor refers to, for one line of text. */
static void fdt_describe(const struct fdt_dfd *f, char *buf, size_t len)
{
    if (!strcmp(f->kind, "socket") && (*f->local || *f->peer)) {
        if (*f->local && *f->peer)
            snprintf(buf, len, "%s -> %s", f->local, f->peer);
        else if (*f->local)
            snprintf(buf, len, "%s", f->local);
        else
            snprintf(buf, len, "-> %s", f->peer);
    } else if (*f->path) {
        snprintf(buf, len, "%s", f->path);
    } else if (*f->target) {
        snprintf(buf, len, "%s", f->target);
    } else {
        snprintf(buf, len, "(%s)", f->kind);
    }
}

static void fdt_age(int64_t ms, char *buf, size_t len)
{
    if (ms < 10000)
        snprintf(buf, len, "%lld ms", (long long)ms);
    else if (ms < 600000)
        snprintf(buf, len, "%lld s", (long long)(ms / 1000));
    else
        snprintf(buf, len, "%lld min", (long long)(ms / 60000));
}

static const char *fdt_plural(size_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

/* "0-2, 5, 7-9" */
static void fdt_fd_ranges(const struct fdt_dump *d, const size_t *idx, size_t n, char *buf,
                          size_t len)
{
    size_t used = 0;
    buf[0] = 0;
    for (size_t i = 0; i < n && used + 32 < len;) {
        size_t j = i;
        while (j + 1 < n && d->fds[idx[j + 1]].fd == d->fds[idx[j]].fd + 1)
            j++;
        int w = j > i ? snprintf(buf + used, len - used, "%s%d-%d", i ? ", " : "",
                                 d->fds[idx[i]].fd, d->fds[idx[j]].fd)
                      : snprintf(buf + used, len - used, "%s%d", i ? ", " : "", d->fds[idx[i]].fd);
        used += (size_t)w;
        i = j + 1;
        if (i < n && used + 32 >= len)
            snprintf(buf + used, len - used, ", ...");
    }
}

/* One line per inherited or unknown-origin descriptor, at most --fds of them. */
static void fdt_text_others(const struct fdt_text *t, const struct fdt_dump *d, const size_t *idx,
                            size_t n)
{
    size_t shown = t->o->max_fds && n > t->o->max_fds ? t->o->max_fds : n;
    for (size_t i = 0; i < shown; i++) {
        const struct fdt_dfd *f = &d->fds[idx[i]];
        char what[1024];
        fdt_describe(f, what, sizeof what);
        fdt_line(t, "   fd %d  %s  [%s]", f->fd, what, f->kind);
    }
    if (shown < n)
        fdt_line(t, "   ... and %zu more (--fds=0 lists all)", n - shown);
}

static void fdt_trigger_text(const struct fdt_dump *d, char *buf, size_t len)
{
    char sig[32];
    if (!strcmp(d->trigger, "fatal-signal") || !strcmp(d->trigger, "signal"))
        snprintf(buf, len, "%s %s", d->trigger, fdc_sig_name(d->signal, sig, sizeof sig));
    else if (!strcmp(d->trigger, "emfile"))
        snprintf(buf, len, "emfile (%s() failed with %s)",
                 *d->trigger_call ? d->trigger_call : "a call",
                 d->trigger_errno == 23 ? "ENFILE" : "EMFILE");
    else if (!strcmp(d->trigger, "threshold"))
        snprintf(buf, len, "threshold (%ld live fds reached in %s())", d->threshold,
                 *d->trigger_call ? d->trigger_call : "a call");
    else
        snprintf(buf, len, "%s", d->trigger);
}

void fdt_render_text(FILE *out, struct fdt_proc *p, const struct fdt_render_opts *o)
{
    const struct fdt_dump *d = p->dump;
    struct fdt_text t = {.out = out, .o = o, .pid = d->pid};
    char buf[4096], trig[256];
    size_t used = (size_t)snprintf(buf, sizeof buf, "%s", *d->exe ? d->exe : "?");
    for (size_t i = 1; i < d->ncmdline && used < sizeof buf; i++)
        used += (size_t)snprintf(buf + used, sizeof buf - used, " %s", d->cmdline[i]);
    fdt_trigger_text(d, trig, sizeof trig);
    fdt_line(&t, "%sfdleak: process %ld (%s), trigger: %s%s", fdt_c(&t, FDT_C_BOLD), d->pid, buf,
             trig, fdt_c(&t, FDT_C_RESET));
    if (d->trigger_stack && (!strcmp(d->trigger, "emfile") || !strcmp(d->trigger, "threshold"))) {
        fdt_line(&t, "%s() that triggered the dump:", d->trigger_call);
        fdt_text_frames(&t, p, d->trigger_stack, true, false);
    }
    if (p->leaked == 0)
        fdt_line(&t, "no leaked descriptors");
    for (size_t gi = 0; gi < p->ngroups; gi++) {
        struct fdt_group *g = &p->groups[gi];
        fdt_blank(&t);
        fdt_line(&t, "%s%zu %s leaked from %s()%s [%s]", fdt_c(&t, FDT_C_RED), g->count,
                 fdt_plural(g->count, "fd", "fds"), *g->call ? g->call : "?",
                 fdt_c(&t, FDT_C_RESET), g->kind);
        const struct fdt_dpystack *ps = fdt_dump_pystack(d, g->pystack);
        if (ps && ps->nframes) {
            fdt_line(&t, "   Python stack:");
            for (size_t i = 0; i < ps->nframes; i++)
                fdt_line(&t, "     %s%s:%ld%s in %s", fdt_c(&t, FDT_C_BOLD),
                         fdt_show_file(&t, ps->frames[i].file), ps->frames[i].line,
                         fdt_c(&t, FDT_C_RESET), ps->frames[i].function);
        }
        /* Python acquisitions carry no C stack (the shim skips the interpreter's frames);
         * one recorded through C under Python still shows both. */
        const struct fdt_frame **cv;
        bool has_c = fdt_stack_frames(p, g->stack, &cv) > 0;
        if (ps && ps->nframes && has_c)
            fdt_line(&t, "   C stack:");
        if (has_c || !(ps && ps->nframes))
            fdt_text_frames(&t, p, g->stack, true, ps && ps->nframes);
        size_t shown = o->max_fds && g->count > o->max_fds ? o->max_fds : g->count;
        for (size_t i = 0; i < shown; i++) {
            const struct fdt_dfd *f = &d->fds[g->fds[i]];
            char what[1024], age[32];
            fdt_describe(f, what, sizeof what);
            fdt_age(f->age_ms, age, sizeof age);
            fdt_line(&t, "   %sfd %d%s  %s%s%s  age %s  tid %ld%s", fdt_c(&t, FDT_C_CYAN), f->fd,
                     fdt_c(&t, FDT_C_RESET), what, strcmp(g->kind, "mixed") ? "" : "  ",
                     strcmp(g->kind, "mixed") ? "" : f->kind, age, f->tid,
                     f->cloexec ? "  cloexec" : "");
        }
        if (shown < g->count)
            fdt_line(&t, "   ... and %zu more (--fds=0 lists all)", g->count - shown);
    }
    if (p->nunknown) {
        fdt_blank(&t);
        fdt_line(&t, "unknown origin (open, but not seen acquired): %zu %s", p->nunknown,
                 fdt_plural(p->nunknown, "fd", "fds"));
        fdt_text_others(&t, d, p->unknown, p->nunknown);
    }
    if (p->ninherited) {
        if (o->show_inherited) {
            fdt_blank(&t);
            fdt_line(&t, "inherited: %zu %s", p->ninherited,
                     fdt_plural(p->ninherited, "fd", "fds"));
            fdt_text_others(&t, d, p->inherited, p->ninherited);
        } else {
            char ranges[256];
            fdt_fd_ranges(d, p->inherited, p->ninherited, ranges, sizeof ranges);
            fdt_blank(&t);
            fdt_line(&t, "inherited: %zu %s (%s); --show-inherited lists them", p->ninherited,
                     fdt_plural(p->ninherited, "fd", "fds"), ranges);
        }
    }
    fdt_blank(&t);
    used = (size_t)snprintf(buf, sizeof buf,
                            "summary: %ld open fds of limit %ld; %zu leaked in %zu %s; trigger %s",
                            d->open_fds, d->limit_nofile, p->leaked, p->ngroups,
                            fdt_plural(p->ngroups, "group", "groups"), d->trigger);
    if (d->stats.stack_store_full || d->stats.path_store_full)
        used += (size_t)snprintf(
            buf + used, sizeof buf - used, "; stores full: %lld stacks, %lld paths not kept",
            (long long)d->stats.stack_store_full, (long long)d->stats.path_store_full);
    for (size_t i = 0; i < p->nearlier && used < sizeof buf; i++)
        used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s (dump %ld)",
                                 i ? ", " : "; earlier dumps: ", p->earlier[i]->trigger,
                                 p->earlier[i]->seq);
    fdt_line(&t, "%s%s%s", fdt_c(&t, FDT_C_BOLD), buf, fdt_c(&t, FDT_C_RESET));
}

/* ------------------------------------------------------------------------------------ JSON */

static void fdt_json_frames(struct fdt_jw *w, const char *key, struct fdt_proc *p, uint32_t stack)
{
    const struct fdt_frame **v;
    size_t n = fdt_stack_frames(p, stack, &v);
    fdt_jw_arr(w, key);
    for (size_t i = 0; i < n; i++) {
        const struct fdt_frame *f = v[i];
        char ip[32], off[32];
        snprintf(ip, sizeof ip, "0x%llx", (unsigned long long)f->ip);
        snprintf(off, sizeof off, "0x%llx", (unsigned long long)f->offset);
        fdt_jw_obj(w, NULL);
        fdt_jw_str(w, "ip", ip);
        fdt_jw_str(w, "module", f->module);
        fdt_jw_str(w, "offset", off);
        fdt_jw_str(w, "function", f->function);
        fdt_jw_str(w, "file", f->file);
        if (f->line)
            fdt_jw_int(w, "line", f->line);
        else
            fdt_jw_null(w, "line");
        fdt_jw_bool(w, "inlined", f->inlined);
        fdt_jw_end(w, '}');
    }
    fdt_jw_end(w, ']');
    free(v);
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
    fdt_jw_int(w, "leaked", (int64_t)p->leaked);
    fdt_jw_arr(w, "groups");
    for (size_t gi = 0; gi < p->ngroups; gi++) {
        struct fdt_group *g = &p->groups[gi];
        fdt_jw_obj(w, NULL);
        fdt_jw_int(w, "count", (int64_t)g->count);
        fdt_jw_str(w, "call", g->call);
        fdt_jw_str(w, "kind", g->kind);
        fdt_json_frames(w, "stack", p, g->stack);
        fdt_jw_arr(w, "pystack");
        const struct fdt_dpystack *ps = fdt_dump_pystack(d, g->pystack);
        for (size_t i = 0; ps && i < ps->nframes; i++) {
            fdt_jw_obj(w, NULL);
            fdt_jw_str(w, "file", ps->frames[i].file);
            fdt_jw_str(w, "function", ps->frames[i].function);
            fdt_jw_int(w, "line", ps->frames[i].line);
            fdt_jw_end(w, '}');
        }
        fdt_jw_end(w, ']');
        fdt_jw_arr(w, "fds");
        for (size_t i = 0; i < g->count; i++)
            fdt_json_fd(w, &d->fds[g->fds[i]]);
        fdt_jw_end(w, ']');
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
