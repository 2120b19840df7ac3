/* The text report on stderr, for the shim used alone: descriptors grouped by acquisition
 * stack, largest group first, valgrind-style "==pid==" lines. Function names come from
 * dladdr outside signal handlers, module+offset otherwise; file:line is `fdleak`'s job. */
#include "dump.h"
#include "intern.h"

#include <dlfcn.h>
#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static char prefix[32];
static struct fdl_out *out;

static void line_start(void)
{
    fdl_out_str(out, prefix);
}

static void text_frame(uintptr_t ip, int first, int safe)
{
    line_start();
    fdl_out_str(out, first ? "   at " : "   by ");
    Dl_info info;
    /* dladdr takes the loader lock: only outside signal handlers. ip - 1: return addresses
     * point after the call, possibly into the next function. */
    if (safe && dladdr((void *)(ip - 1), &info) && info.dli_sname) {
        fdl_out_str(out, info.dli_sname);
        fdl_out_str(out, " (");
        const char *slash = info.dli_fname ? strrchr(info.dli_fname, '/') : NULL;
        fdl_out_str(out, slash ? slash + 1 : info.dli_fname ? info.dli_fname : "?");
        fdl_out_str(out, "+");
        fdl_out_hex(out, ip - 1 - (uintptr_t)info.dli_fbase);
        fdl_out_str(out, ")\n");
        return;
    }
    const struct fdl_module *m = fdl_maps_find(ip);
    if (m) {
        const char *path = fdl_maps_path(m), *slash = strrchr(path, '/');
        fdl_out_str(out, slash ? slash + 1 : path);
        fdl_out_str(out, "+");
        fdl_out_hex(out, ip - 1 - m->base); /* the call itself, as fdleak prints */
    } else {
        fdl_out_hex(out, ip);
    }
    fdl_out_str(out, "\n");
}

static void text_stack(uint32_t stack, uint32_t pystack, int safe)
{
    uint32_t len;
    const uint32_t *frames = fdl_intern_get(&fdl_pyframes, pystack, &len);
    for (uint32_t i = 0; frames && i < len / 4; i++) {
        uint32_t flen, lineno;
        const char *f = fdl_intern_get(&fdl_pyframes, frames[i], &flen);
        if (!f)
            continue;
        memcpy(&lineno, f, 4);
        const char *file = f + 4, *func = file + strlen(file) + 1;
        line_start();
        fdl_out_str(out, i ? "   by " : "   at ");
        fdl_out_str(out, func);
        fdl_out_str(out, " (");
        fdl_out_str(out, file);
        fdl_out_str(out, ":");
        fdl_out_u64(out, lineno);
        fdl_out_str(out, ") [python]\n");
    }
    const uintptr_t *ips = fdl_intern_get(&fdl_stacks, stack, &len);
    if (!ips && !frames) {
        line_start();
        fdl_out_str(out, "   (no stack)\n");
    }
    for (uint32_t i = 0; ips && i < len / sizeof(uintptr_t); i++)
        text_frame(ips[i], i == 0 && !frames, safe);
}

static int cmp_group(const void *a, const void *b)
{
    const struct fdl_rec *x = a, *y = b;
#define KEY(f)                                                                                     \
    if (x->f != y->f)                                                                              \
        return x->f < y->f ? -1 : 1;
    KEY(origin)
    KEY(e.stack)
    KEY(e.pystack)
    KEY(e.call)
    KEY(e.kind)
    KEY(fd)
#undef KEY
    return 0;
}

static int same_group(const struct fdl_rec *x, const struct fdl_rec *y)
{
    return x->origin == y->origin && x->e.stack == y->e.stack && x->e.pystack == y->e.pystack &&
           x->e.call == y->e.call && x->e.kind == y->e.kind;
}

struct group {
    uint32_t first, count;
};

static int cmp_group_size(const void *a, const void *b)
{
    /* For the heap: "larger" sorts last; we print from the end, largest first. */
    const struct group *x = a, *y = b;
    if (x->count != y->count)
        return x->count < y->count ? -1 : 1;
    return x->first > y->first ? -1 : x->first < y->first;
}

static void text_fd_line(const struct fdl_rec *r, const struct fdl_dump_ctx *h)
{
    struct fdl_details d;
    fdl_details(r, &d);
    line_start();
    fdl_out_str(out, "   fd ");
    fdl_out_u64(out, (uint64_t)r->fd);
    const char *p = r->e.path ? fdl_path_text(r->e.path) : d.target;
    if (*p) {
        fdl_out_str(out, " ");
        fdl_out_str(out, p);
    }
    if (d.local[0] || d.peer[0]) {
        fdl_out_str(out, " ");
        fdl_out_str(out, d.local[0] ? d.local : "?");
        fdl_out_str(out, " -> ");
        fdl_out_str(out, d.peer[0] ? d.peer : "(unconnected)");
    }
    if (r->e.flags & FDL_F_CLOEXEC)
        fdl_out_str(out, " cloexec");
    fdl_out_str(out, "  age ");
    fdl_out_u64(out, h->now_coarse > r->e.time_ns ? (h->now_coarse - r->e.time_ns) / 1000000 : 0);
    fdl_out_str(out, " ms  tid ");
    fdl_out_u64(out, r->e.tid);
    fdl_out_str(out, "\n");
}

void fdl_write_text(struct fdl_out *o, struct fdl_scratch *s, const struct fdl_dump_ctx *h)
{
    out = o;
    const struct fdl_dump_req *req = h->req;
    char *p = prefix;
    *p++ = '=';
    *p++ = '=';
    p += fdl_fmt_u64(p, (uint64_t)syscall(SYS_getpid));
    memcpy(p, "== ", 4);

    line_start();
    fdl_out_str(out, "fdleak report for pid ");
    fdl_out_u64(out, (uint64_t)syscall(SYS_getpid));
    fdl_out_str(out, " (");
    fdl_out_str(out, h->exe);
    fdl_out_str(out, "), trigger: ");
    fdl_out_str(out, fdc_trigger_name(req->trigger));
    if (req->trigger == FDC_TRIG_EMFILE) {
        fdl_out_str(out, " (");
        fdl_out_str(out, fdc_call_name(req->call));
        fdl_out_str(out, req->err == ENFILE ? "() failed with ENFILE)" : "() failed with EMFILE)");
    } else if (req->trigger == FDC_TRIG_THRESHOLD) {
        fdl_out_str(out, " (");
        fdl_out_u64(out, (uint64_t)req->threshold);
        fdl_out_str(out, " live descriptors)");
    } else if (req->signal) {
        fdl_out_str(out, " (signal ");
        fdl_out_u64(out, (uint64_t)req->signal);
        fdl_out_str(out, ")");
    }
    fdl_out_str(out, "\n");
    if (req->stack) {
        line_start();
        fdl_out_str(out, fdc_call_name(req->call));
        fdl_out_str(out, req->trigger == FDC_TRIG_EMFILE ? "() that failed:\n"
                                                         : "() that crossed it:\n");
        text_stack(req->stack, 0, req->safe);
    }

    fdl_heapsort(s->recs, s->n, sizeof(struct fdl_rec), cmp_group);
    /* Group list in the id scratch (two u32 per group). */
    struct group *g = (struct group *)s->ids;
    size_t ng = 0, leaked = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (s->recs[i].origin != FDC_ORIGIN_TRACKED)
            continue;
        leaked++;
        if (ng && same_group(&s->recs[g[ng - 1].first], &s->recs[i])) {
            g[ng - 1].count++;
        } else {
            g[ng].first = (uint32_t)i;
            g[ng].count = 1;
            ng++;
        }
    }
    fdl_heapsort(g, ng, sizeof(struct group), cmp_group_size);
    for (size_t k = ng; k-- > 0;) {
        const struct fdl_rec *r0 = &s->recs[g[k].first];
        line_start();
        fdl_out_str(out, "\n");
        line_start();
        fdl_out_u64(out, g[k].count);
        fdl_out_str(out, g[k].count == 1 ? " fd leaked from " : " fds leaked from ");
        fdl_out_str(out, fdc_call_name(r0->e.call));
        fdl_out_str(out, "() [");
        fdl_out_str(out, fdc_kind_name(r0->e.kind));
        fdl_out_str(out, "]\n");
        text_stack(r0->e.stack, r0->e.pystack, req->safe);
        for (uint32_t j = 0; j < g[k].count && j < 10; j++)
            text_fd_line(&s->recs[g[k].first + j], h);
        if (g[k].count > 10) {
            line_start();
            fdl_out_str(out, "   ... and ");
            fdl_out_u64(out, g[k].count - 10);
            fdl_out_str(out, " more\n");
        }
    }
    for (int origin = FDC_ORIGIN_INHERITED; origin <= FDC_ORIGIN_UNKNOWN; origin++) {
        int any = 0;
        for (size_t i = 0; i < s->n; i++) {
            const struct fdl_rec *r = &s->recs[i];
            if (r->origin != origin)
                continue;
            struct fdl_details d;
            fdl_details(r, &d);
            if (!any) {
                line_start();
                fdl_out_str(out, "\n");
                line_start();
                fdl_out_str(out, origin == FDC_ORIGIN_INHERITED ? "inherited:" : "unknown origin:");
                any = 1;
            }
            fdl_out_str(out, " fd ");
            fdl_out_u64(out, (uint64_t)r->fd);
            fdl_out_str(out, " ");
            fdl_out_str(out, d.target[0] ? d.target : "?");
            fdl_out_str(out, ";");
        }
        if (any)
            fdl_out_str(out, "\n");
    }
    line_start();
    fdl_out_str(out, "\n");
    line_start();
    fdl_out_str(out, "summary: ");
    fdl_out_u64(out, h->open_fds);
    fdl_out_str(out, " open fds of limit ");
    fdl_out_u64(out, h->rl.rlim_cur);
    fdl_out_str(out, "; ");
    fdl_out_u64(out, leaked);
    fdl_out_str(out, " leaked in ");
    fdl_out_u64(out, ng);
    fdl_out_str(out, ng == 1 ? " group; trigger " : " groups; trigger ");
    fdl_out_str(out, fdc_trigger_name(req->trigger));
    fdl_out_str(out, s->truncated ? " (list truncated)\n" : "\n");
    if (leaked) {
        line_start();
        fdl_out_str(out, "for source file:line, run the program under `fdleak run`\n");
    }
}
