/* The command's report model (model.h): grouping and symbolized stacks, kept apart from how
 * reports are rendered (render.c) so that text and JSON say the same thing. */
#include "model.h"

#include "json.h"
#include "report_text.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

struct fdt_stack_frames {
    bool done;
    size_t n;
    const struct fdt_frame **v;
};

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
    p->frames = fdt_xcalloc(d->nstacks, sizeof *p->frames);
    const struct fdt_jval *t = fdt_json_get(fdt_json_root(d->doc), "truncated");
    p->truncated = t && t->type == FDT_J_TRUE;
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
    free(p->hits);
    for (size_t i = 0; p->dump && i < p->dump->nstacks; i++)
        free(p->frames[i].v);
    free(p->frames);
    fdt_sym_free(p->sym);
    fdt_dump_free(p->dump);
    memset(p, 0, sizeof *p);
}

size_t fdt_proc_frames(struct fdt_proc *p, uint32_t stack, const struct fdt_frame *const **frames)
{
    const struct fdt_dstack *st = fdt_dump_stack(p->dump, stack);
    *frames = NULL;
    if (!st)
        return 0;
    struct fdt_stack_frames *c = &p->frames[st - p->dump->stacks];
    if (!c->done) {
        size_t cap = 0;
        for (size_t i = 0; i < st->nips; i++) {
            const struct fdt_frame *fr;
            size_t k = fdt_sym_ip(p->sym, st->ips[i], &fr);
            for (size_t j = 0; j < k; j++) {
                if (c->n == cap) {
                    cap = cap ? 2 * cap : 32;
                    c->v = fdt_xrealloc(c->v, cap * sizeof *c->v);
                }
                c->v[c->n++] = &fr[j];
            }
        }
        c->done = true;
    }
    *frames = c->v;
    return c->n;
}

/* The outer end of a C stack without the start-up frames, and up to two nameless libc frames
 * just inside one (the text renderer's rule: common/report_text.c, trimmed_depth). */
static size_t fdt_trimmed(const struct fdt_frame *const *v, size_t n)
{
    bool trimmed = false;
    int nameless_libc = 0;
    while (n > 1) {
        const struct fdt_frame *f = v[n - 1];
        const char *base = strrchr(f->module, '/');
        base = base ? base + 1 : f->module;
        if (fdc_report_startup_frame(f->function))
            trimmed = true;
        else if (trimmed && !f->function && !strncmp(base, "libc.so", 7) && nameless_libc < 2)
            nameless_libc++;
        else
            break;
        n--;
    }
    return n;
}

size_t fdt_proc_xstack(struct fdt_proc *p, const struct fdt_group *g, struct fdt_xframe **out)
{
    const struct fdt_frame *const *v;
    size_t nc = fdt_proc_frames(p, g->stack, &v);
    nc = fdt_trimmed(v, nc);
    const struct fdt_dpystack *ps = fdt_dump_pystack(p->dump, g->pystack);
    size_t npy = ps ? ps->nframes : 0;
    for (size_t i = 1; npy && i < nc; i++)
        if (v[i]->function && !strncmp(v[i]->function, "_PyEval_EvalFrame", 17))
            nc = i;
    *out = NULL;
    if (nc + npy == 0)
        return 0;
    struct fdt_xframe *x = fdt_xcalloc(nc + npy, sizeof *x);
    for (size_t i = 0; i < nc; i++)
        x[i].c = v[i];
    for (size_t i = 0; i < npy; i++)
        x[nc + i].py = &ps->frames[i];
    *out = x;
    return nc + npy;
}

void fdt_proc_remove_fds(struct fdt_proc *p, const bool *removed)
{
    const struct fdt_dump *d = p->dump;
    size_t ng = 0;
    p->leaked = 0;
    for (size_t gi = 0; gi < p->ngroups; gi++) {
        struct fdt_group g = p->groups[gi];
        size_t n = 0;
        for (size_t i = 0; i < g.count; i++)
            if (!removed[g.fds[i]])
                g.fds[n++] = g.fds[i];
        if (!n) {
            free(g.fds);
            continue;
        }
        g.count = n;
        g.kind = d->fds[g.fds[0]].kind;
        for (size_t i = 1; i < n; i++)
            if (strcmp(d->fds[g.fds[i]].kind, g.kind) != 0)
                g.kind = "mixed";
        p->leaked += n;
        p->groups[ng++] = g;
    }
    p->ngroups = ng;
    fdt_sort_dump = d;
    qsort(p->groups, p->ngroups, sizeof *p->groups, fdt_cmp_group);
}
