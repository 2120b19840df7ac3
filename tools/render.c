/* Reports: grouping a dump's leaked (tracked) descriptors by (stack, Python stack, call),
 * largest group first and ties by lowest fd, then rendering as text or JSON. Each group's stack
 * is symbolized once, so the cost follows distinct stacks, not descriptors. */
#include "render.h"

#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static int fdl_cmp_str(const char *a, const char *b)
{
    int c = strcmp(a, b);
    return c < 0 ? -1 : c > 0;
}

static const struct fdl_dump *fdl_sort_dump; /* qsort has no context argument */

static int fdl_cmp_tracked(const void *a, const void *b)
{
    const struct fdl_dfd *x = &fdl_sort_dump->fds[*(const size_t *)a];
    const struct fdl_dfd *y = &fdl_sort_dump->fds[*(const size_t *)b];
    if (x->stack != y->stack)
        return x->stack < y->stack ? -1 : 1;
    if (x->pystack != y->pystack)
        return x->pystack < y->pystack ? -1 : 1;
    int c = fdl_cmp_str(x->call, y->call);
    if (c)
        return c;
    return x->fd < y->fd ? -1 : x->fd > y->fd;
}

static int fdl_cmp_group(const void *a, const void *b)
{
    const struct fdl_group *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    int fx = fdl_sort_dump->fds[x->fds[0]].fd, fy = fdl_sort_dump->fds[y->fds[0]].fd;
    return fx < fy ? -1 : fx > fy;
}

void fdl_proc_init(struct fdl_proc *p, struct fdl_dump *d)
{
    memset(p, 0, sizeof *p);
    p->dump = d;
    p->sym = fdl_sym_new(d);
    size_t *tracked = fdl_xcalloc(d->nfds, sizeof *tracked);
    p->inherited = fdl_xcalloc(d->nfds, sizeof *p->inherited);
    p->unknown = fdl_xcalloc(d->nfds, sizeof *p->unknown);
    for (size_t i = 0; i < d->nfds; i++) {
        switch (d->fds[i].origin) {
        case FDL_ORIGIN_TRACKED:
            tracked[p->leaked++] = i;
            break;
        case FDL_ORIGIN_INHERITED:
            p->inherited[p->ninherited++] = i;
            break;
        default:
            p->unknown[p->nunknown++] = i;
        }
    }
    fdl_sort_dump = d;
    qsort(tracked, p->leaked, sizeof *tracked, fdl_cmp_tracked);
    p->groups = fdl_xcalloc(p->leaked, sizeof *p->groups);
    for (size_t i = 0; i < p->leaked;) {
        const struct fdl_dfd *f = &d->fds[tracked[i]];
        size_t j = i + 1;
        while (j < p->leaked && d->fds[tracked[j]].stack == f->stack &&
               d->fds[tracked[j]].pystack == f->pystack &&
               !strcmp(d->fds[tracked[j]].call, f->call))
            j++;
        struct fdl_group *g = &p->groups[p->ngroups++];
        g->call = f->call;
        g->kind = f->kind;
        g->stack = f->stack;
        g->pystack = f->pystack;
        g->count = j - i;
        g->fds = fdl_xcalloc(g->count, sizeof *g->fds);
        memcpy(g->fds, tracked + i, g->count * sizeof *g->fds);
        for (size_t k = i; k < j; k++)
            if (strcmp(d->fds[tracked[k]].kind, g->kind) != 0)
                g->kind = "mixed";
        i = j;
    }
    qsort(p->groups, p->ngroups, sizeof *p->groups, fdl_cmp_group);
    free(tracked);
}

void fdl_proc_fini(struct fdl_proc *p)
{
    for (size_t i = 0; i < p->ngroups; i++)
        free(p->groups[i].fds);
    free(p->groups);
    free(p->inherited);
    free(p->unknown);
    free(p->earlier);
    fdl_sym_free(p->sym);
    fdl_dump_free(p->dump);
    memset(p, 0, sizeof *p);
}

/* Symbolizes a stack into a malloc'd array of frame pointers (inlined frames expanded). */
static size_t fdl_stack_frames(struct fdl_proc *p, uint32_t id, const struct fdl_frame ***out)
{
    const struct fdl_dstack *st = fdl_dump_stack(p->dump, id);
    size_t n = 0, cap = 0;
    const struct fdl_frame **v = NULL;
    for (size_t i = 0; st && i < st->nips; i++) {
        const struct fdl_frame *fr;
        size_t k = fdl_sym_ip(p->sym, st->ips[i], &fr);
        for (size_t j = 0; j < k; j++) {
            if (n == cap) {
                cap = cap ? 2 * cap : 32;
                v = fdl_xrealloc(v, cap * sizeof *v);
            }
            v[n++] = &fr[j];
        }
    }
    *out = v;
    return n;
}

static const char *fdl_basename(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static int fdl_is_startup(const char *fn)
{
    return fn && (!strcmp(fn, "_start") || !strncmp(fn, "__libc_start_main", 17) ||
                  !strcmp(fn, "__libc_start_call_main"));
}

/* ------------------------------------------------------------------------------------ text */

struct fdl_text {
    FILE *out;
    const struct fdl_render_opts *o;
    long pid;
};

#define FDL_C_RESET "\033[0m"
#define FDL_C_DIM "\033[2m"
#define FDL_C_BOLD "\033[1m"
#define FDL_C_RED "\033[1;31m"
#define FDL_C_CYAN "\033[36m"

static const char *fdl_c(const struct fdl_text *t, const char *code)
{
    return t->o->color ? code : "";
}

static void fdl_line(const struct fdl_text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void fdl_line(const struct fdl_text *t, const char *fmt, ...)
{
    va_list ap;
    fprintf(t->out, "%s==%ld==%s ", fdl_c(t, FDL_C_DIM), t->pid, fdl_c(t, FDL_C_RESET));
    va_start(ap, fmt);
    vfprintf(t->out, fmt, ap);
    va_end(ap);
    fputc('\n', t->out);
}

static void fdl_blank(const struct fdl_text *t)
{
    fprintf(t->out, "%s==%ld==%s\n", fdl_c(t, FDL_C_DIM), t->pid, fdl_c(t, FDL_C_RESET));
}

static const char *fdl_show_file(const struct fdl_text *t, const char *file)
{
    size_t n = t->o->cwd ? strlen(t->o->cwd) : 0;
    if (n > 1 && !strncmp(file, t->o->cwd, n) && file[n] == '/')
        return file + n + 1;
    return file;
}

/* Prints a symbolized stack. With python set (a Python stack was printed above), the C frames
 * stop where the interpreter's eval loop begins: below it they only repeat the Python stack. */
static void fdl_text_frames(const struct fdl_text *t, struct fdl_proc *p, uint32_t stack,
                            bool first_at, bool python)
{
    const struct fdl_frame **v;
    size_t n = fdl_stack_frames(p, stack, &v), hidden = 0;
    while (n > 1 && fdl_is_startup(v[n - 1]->function))
        n--;
    for (size_t i = 1; python && i < n; i++)
        if (v[i]->function && !strncmp(v[i]->function, "_PyEval_EvalFrame", 17)) {
            hidden = n - i;
            n = i;
        }
    if (n == 0)
        fdl_line(t, "   (no stack: unwinding failed or the call came before fdleak started)");
    for (size_t i = 0; i < n; i++) {
        const struct fdl_frame *f = v[i];
        const char *word = i == 0 && first_at ? "at" : "by";
        const char *inl = f->inlined ? " [inlined]" : "";
        if (f->function && f->file && f->line)
            fdl_line(t, "   %s %s%s%s (%s:%d)%s", word, fdl_c(t, FDL_C_BOLD), f->function,
                     fdl_c(t, FDL_C_RESET), fdl_show_file(t, f->file), f->line, inl);
        else if (f->function)
            fdl_line(t, "   %s %s%s%s (%s)%s", word, fdl_c(t, FDL_C_BOLD), f->function,
                     fdl_c(t, FDL_C_RESET), *f->module ? fdl_basename(f->module) : "?", inl);
        else if (*f->module)
            fdl_line(t, "   %s %s+0x%llx", word, fdl_basename(f->module),
                     (unsigned long long)f->offset);
        else
            fdl_line(t, "   %s 0x%llx", word, (unsigned long long)f->ip);
    }
    if (hidden)
        fdl_line(t, "   by ... (%zu frames in the Python interpreter; --json lists them)", hidden);
    free(v);
}

/* What a descriptor refers to, for one line of text. */
static void fdl_describe(const struct fdl_dfd *f, char *buf, size_t len)
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

static void fdl_age(int64_t ms, char *buf, size_t len)
{
    if (ms < 10000)
        snprintf(buf, len, "%lld ms", (long long)ms);
    else if (ms < 600000)
        snprintf(buf, len, "%lld s", (long long)(ms / 1000));
    else
        snprintf(buf, len, "%lld min", (long long)(ms / 60000));
}

static const char *fdl_plural(size_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

/* "0-2, 5, 7-9" */
static void fdl_fd_ranges(const struct fdl_dump *d, const size_t *idx, size_t n, char *buf,
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
static void fdl_text_others(const struct fdl_text *t, const struct fdl_dump *d, const size_t *idx,
                            size_t n)
{
    size_t shown = t->o->max_fds && n > t->o->max_fds ? t->o->max_fds : n;
    for (size_t i = 0; i < shown; i++) {
        const struct fdl_dfd *f = &d->fds[idx[i]];
        char what[1024];
        fdl_describe(f, what, sizeof what);
        fdl_line(t, "   fd %d  %s  [%s]", f->fd, what, f->kind);
    }
    if (shown < n)
        fdl_line(t, "   ... and %zu more (--fds=0 lists all)", n - shown);
}

static void fdl_trigger_text(const struct fdl_dump *d, char *buf, size_t len)
{
    char sig[32];
    if (!strcmp(d->trigger, "fatal-signal") || !strcmp(d->trigger, "signal"))
        snprintf(buf, len, "%s %s", d->trigger, fdl_signal_name(d->signal, sig, sizeof sig));
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

void fdl_render_text(FILE *out, struct fdl_proc *p, const struct fdl_render_opts *o)
{
    const struct fdl_dump *d = p->dump;
    struct fdl_text t = {.out = out, .o = o, .pid = d->pid};
    char buf[4096], trig[256];
    size_t used = (size_t)snprintf(buf, sizeof buf, "%s", *d->exe ? d->exe : "?");
    for (size_t i = 1; i < d->ncmdline && used < sizeof buf; i++)
        used += (size_t)snprintf(buf + used, sizeof buf - used, " %s", d->cmdline[i]);
    fdl_trigger_text(d, trig, sizeof trig);
    fdl_line(&t, "%sfdleak: process %ld (%s), trigger: %s%s", fdl_c(&t, FDL_C_BOLD), d->pid, buf,
             trig, fdl_c(&t, FDL_C_RESET));
    if (d->trigger_stack && (!strcmp(d->trigger, "emfile") || !strcmp(d->trigger, "threshold"))) {
        fdl_line(&t, "%s() that triggered the dump:", d->trigger_call);
        fdl_text_frames(&t, p, d->trigger_stack, true, false);
    }
    if (p->leaked == 0)
        fdl_line(&t, "no leaked descriptors");
    for (size_t gi = 0; gi < p->ngroups; gi++) {
        struct fdl_group *g = &p->groups[gi];
        fdl_blank(&t);
        fdl_line(&t, "%s%zu %s leaked from %s()%s [%s]", fdl_c(&t, FDL_C_RED), g->count,
                 fdl_plural(g->count, "fd", "fds"), *g->call ? g->call : "?",
                 fdl_c(&t, FDL_C_RESET), g->kind);
        const struct fdl_dpystack *ps = fdl_dump_pystack(d, g->pystack);
        if (ps && ps->nframes) {
            fdl_line(&t, "   Python stack:");
            for (size_t i = 0; i < ps->nframes; i++)
                fdl_line(&t, "     %s%s:%ld%s in %s", fdl_c(&t, FDL_C_BOLD),
                         fdl_show_file(&t, ps->frames[i].file), ps->frames[i].line,
                         fdl_c(&t, FDL_C_RESET), ps->frames[i].function);
        }
        /* Python acquisitions carry no C stack (the shim skips the interpreter's frames);
         * one recorded through C under Python still shows both. */
        const struct fdl_frame **cv;
        bool has_c = fdl_stack_frames(p, g->stack, &cv) > 0;
        if (ps && ps->nframes && has_c)
            fdl_line(&t, "   C stack:");
        if (has_c || !(ps && ps->nframes))
            fdl_text_frames(&t, p, g->stack, true, ps && ps->nframes);
        size_t shown = o->max_fds && g->count > o->max_fds ? o->max_fds : g->count;
        for (size_t i = 0; i < shown; i++) {
            const struct fdl_dfd *f = &d->fds[g->fds[i]];
            char what[1024], age[32];
            fdl_describe(f, what, sizeof what);
            fdl_age(f->age_ms, age, sizeof age);
            fdl_line(&t, "   %sfd %d%s  %s%s%s  age %s  tid %ld%s", fdl_c(&t, FDL_C_CYAN), f->fd,
                     fdl_c(&t, FDL_C_RESET), what, strcmp(g->kind, "mixed") ? "" : "  ",
                     strcmp(g->kind, "mixed") ? "" : f->kind, age, f->tid,
                     f->cloexec ? "  cloexec" : "");
        }
        if (shown < g->count)
            fdl_line(&t, "   ... and %zu more (--fds=0 lists all)", g->count - shown);
    }
    if (p->nunknown) {
        fdl_blank(&t);
        fdl_line(&t, "unknown origin (open, but not seen acquired): %zu %s", p->nunknown,
                 fdl_plural(p->nunknown, "fd", "fds"));
        fdl_text_others(&t, d, p->unknown, p->nunknown);
    }
    if (p->ninherited) {
        if (o->show_inherited) {
            fdl_blank(&t);
            fdl_line(&t, "inherited: %zu %s", p->ninherited,
                     fdl_plural(p->ninherited, "fd", "fds"));
            fdl_text_others(&t, d, p->inherited, p->ninherited);
        } else {
            char ranges[256];
            fdl_fd_ranges(d, p->inherited, p->ninherited, ranges, sizeof ranges);
            fdl_blank(&t);
            fdl_line(&t, "inherited: %zu %s (%s); --show-inherited lists them", p->ninherited,
                     fdl_plural(p->ninherited, "fd", "fds"), ranges);
        }
    }
    fdl_blank(&t);
    used = (size_t)snprintf(buf, sizeof buf,
                            "summary: %ld open fds of limit %ld; %zu leaked in %zu %s; trigger %s",
                            d->open_fds, d->limit_nofile, p->leaked, p->ngroups,
                            fdl_plural(p->ngroups, "group", "groups"), d->trigger);
    if (d->stats.stack_store_full || d->stats.path_store_full)
        used += (size_t)snprintf(
            buf + used, sizeof buf - used, "; stores full: %lld stacks, %lld paths not kept",
            (long long)d->stats.stack_store_full, (long long)d->stats.path_store_full);
    for (size_t i = 0; i < p->nearlier && used < sizeof buf; i++)
        used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s (dump %ld)",
                                 i ? ", " : "; earlier dumps: ", p->earlier[i]->trigger,
                                 p->earlier[i]->seq);
    fdl_line(&t, "%s%s%s", fdl_c(&t, FDL_C_BOLD), buf, fdl_c(&t, FDL_C_RESET));
}

/* ------------------------------------------------------------------------------------ JSON */

static void fdl_json_frames(struct fdl_jw *w, const char *key, struct fdl_proc *p, uint32_t stack)
{
    const struct fdl_frame **v;
    size_t n = fdl_stack_frames(p, stack, &v);
    fdl_jw_arr(w, key);
    for (size_t i = 0; i < n; i++) {
        const struct fdl_frame *f = v[i];
        char ip[32], off[32];
        snprintf(ip, sizeof ip, "0x%llx", (unsigned long long)f->ip);
        snprintf(off, sizeof off, "0x%llx", (unsigned long long)f->offset);
        fdl_jw_obj(w, NULL);
        fdl_jw_str(w, "ip", ip);
        fdl_jw_str(w, "module", f->module);
        fdl_jw_str(w, "offset", off);
        fdl_jw_str(w, "function", f->function);
        fdl_jw_str(w, "file", f->file);
        if (f->line)
            fdl_jw_int(w, "line", f->line);
        else
            fdl_jw_null(w, "line");
        fdl_jw_bool(w, "inlined", f->inlined);
        fdl_jw_end(w, '}');
    }
    fdl_jw_end(w, ']');
    free(v);
}

static void fdl_json_fd(struct fdl_jw *w, const struct fdl_dfd *f)
{
    fdl_jw_obj(w, NULL);
    fdl_jw_int(w, "fd", f->fd);
    fdl_jw_str(w, "kind", f->kind);
    fdl_jw_str(w, "path", *f->path ? f->path : f->target);
    fdl_jw_str(w, "target", f->target);
    fdl_jw_str(w, "local", f->local);
    fdl_jw_str(w, "peer", f->peer);
    fdl_jw_bool(w, "cloexec", f->cloexec);
    fdl_jw_int(w, "age_ms", f->age_ms);
    fdl_jw_int(w, "tid", f->tid);
    fdl_jw_end(w, '}');
}

static void fdl_json_others(struct fdl_jw *w, const char *key, const struct fdl_dump *d,
                            const size_t *idx, size_t n)
{
    fdl_jw_arr(w, key);
    for (size_t i = 0; i < n; i++) {
        const struct fdl_dfd *f = &d->fds[idx[i]];
        fdl_jw_obj(w, NULL);
        fdl_jw_int(w, "fd", f->fd);
        fdl_jw_str(w, "kind", f->kind);
        fdl_jw_str(w, "path", *f->path ? f->path : f->target);
        fdl_jw_end(w, '}');
    }
    fdl_jw_end(w, ']');
}

void fdl_render_json(struct fdl_jw *w, struct fdl_proc *p)
{
    const struct fdl_dump *d = p->dump;
    fdl_jw_obj(w, NULL);
    fdl_jw_int(w, "pid", d->pid);
    fdl_jw_int(w, "ppid", d->ppid);
    fdl_jw_str(w, "exe", d->exe);
    fdl_jw_arr(w, "cmdline");
    for (size_t i = 0; i < d->ncmdline; i++)
        fdl_jw_str(w, NULL, d->cmdline[i]);
    fdl_jw_end(w, ']');
    fdl_jw_str(w, "dump", d->file);
    fdl_jw_int(w, "seq", d->seq);
    fdl_jw_str(w, "trigger", d->trigger);
    fdl_jw_int(w, "signal", d->signal);
    fdl_jw_str(w, "trigger_call", d->trigger_call);
    fdl_jw_int(w, "trigger_errno", d->trigger_errno);
    fdl_jw_int(w, "threshold", d->threshold);
    fdl_json_frames(w, "trigger_stack", p, d->trigger_stack);
    fdl_jw_int(w, "time_realtime_ns", d->time_realtime_ns);
    fdl_jw_int(w, "open_fds", d->open_fds);
    fdl_jw_int(w, "limit_nofile", d->limit_nofile);
    fdl_jw_int(w, "limit_nofile_max", d->limit_nofile_max);
    fdl_jw_int(w, "leaked", (int64_t)p->leaked);
    fdl_jw_arr(w, "groups");
    for (size_t gi = 0; gi < p->ngroups; gi++) {
        struct fdl_group *g = &p->groups[gi];
        fdl_jw_obj(w, NULL);
        fdl_jw_int(w, "count", (int64_t)g->count);
        fdl_jw_str(w, "call", g->call);
        fdl_jw_str(w, "kind", g->kind);
        fdl_json_frames(w, "stack", p, g->stack);
        fdl_jw_arr(w, "pystack");
        const struct fdl_dpystack *ps = fdl_dump_pystack(d, g->pystack);
        for (size_t i = 0; ps && i < ps->nframes; i++) {
            fdl_jw_obj(w, NULL);
            fdl_jw_str(w, "file", ps->frames[i].file);
            fdl_jw_str(w, "function", ps->frames[i].function);
            fdl_jw_int(w, "line", ps->frames[i].line);
            fdl_jw_end(w, '}');
        }
        fdl_jw_end(w, ']');
        fdl_jw_arr(w, "fds");
        for (size_t i = 0; i < g->count; i++)
            fdl_json_fd(w, &d->fds[g->fds[i]]);
        fdl_jw_end(w, ']');
        fdl_jw_end(w, '}');
    }
    fdl_jw_end(w, ']');
    fdl_json_others(w, "inherited", d, p->inherited, p->ninherited);
    fdl_json_others(w, "unknown_origin", d, p->unknown, p->nunknown);
    fdl_jw_arr(w, "earlier_dumps");
    for (size_t i = 0; i < p->nearlier; i++) {
        fdl_jw_obj(w, NULL);
        fdl_jw_int(w, "seq", p->earlier[i]->seq);
        fdl_jw_str(w, "trigger", p->earlier[i]->trigger);
        fdl_jw_str(w, "trigger_call", p->earlier[i]->trigger_call);
        fdl_jw_int(w, "threshold", p->earlier[i]->threshold);
        fdl_jw_end(w, '}');
    }
    fdl_jw_end(w, ']');
    fdl_jw_obj(w, "stats");
    fdl_jw_int(w, "acquired", d->stats.acquired);
    fdl_jw_int(w, "released", d->stats.released);
    fdl_jw_int(w, "stacks", d->stats.stacks);
    fdl_jw_int(w, "stack_store_full", d->stats.stack_store_full);
    fdl_jw_int(w, "path_store_full", d->stats.path_store_full);
    fdl_jw_int(w, "unwind_failed", d->stats.unwind_failed);
    fdl_jw_end(w, '}');
    fdl_jw_end(w, '}');
}

int fdl_render_json_file(const char *path, struct fdl_proc *procs, size_t n)
{
    bool to_stdout = !strcmp(path, "-");
    FILE *f = to_stdout ? stdout : fopen(path, "we");
    if (!f) {
        fdl_msg("%s: %s", path, strerror(errno));
        return -1;
    }
    struct fdl_jw w;
    fdl_jw_init(&w, f);
    fdl_jw_obj(&w, NULL);
    fdl_jw_str(&w, "format", "fdleak-report");
    fdl_jw_int(&w, "version", 1);
    fdl_jw_arr(&w, "processes");
    for (size_t i = 0; i < n; i++)
        fdl_render_json(&w, &procs[i]);
    fdl_jw_end(&w, ']');
    fdl_jw_end(&w, '}');
    int rc = to_stdout ? fflush(f) : fclose(f);
    if (rc != 0) {
        fdl_msg("%s: cannot write the JSON report: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}
