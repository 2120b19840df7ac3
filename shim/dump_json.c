/* The raw dump (docs/dump-format.md): JSON written field by field into the dump buffer,
 * holding instruction pointers and the module map so it can be symbolized elsewhere. */
#include "dump.h"
#include "intern.h"

#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static uint64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct fdl_out *out;

static void json_stack_ips(uint32_t id)
{
    uint32_t len;
    const uintptr_t *ips = fdl_intern_get(&fdl_stacks, id, &len);
    fdl_out_str(out, "{\"id\":");
    fdl_out_u64(out, id);
    fdl_out_str(out, ",\"ips\":[");
    for (uint32_t i = 0; ips && i < len / sizeof(uintptr_t); i++) {
        fdl_out_str(out, i ? ",\"" : "\"");
        fdl_out_hex(out, ips[i]);
        fdl_out_str(out, "\"");
    }
    fdl_out_str(out, "]}");
}

/* Python frames are stored as (u32 line, "file\0function\0"); a Python stack as u32 frame ids,
 * innermost first, and a count of frames dropped past the depth limit (see python.c). */
static void json_pystack(uint32_t id)
{
    uint32_t n, dropped;
    const uint32_t *frames = fdl_python_frames(id, &n, &dropped);
    fdl_out_str(out, "{\"id\":");
    fdl_out_u64(out, id);
    if (dropped) {
        fdl_out_str(out, ",\"truncated\":");
        fdl_out_u64(out, dropped);
    }
    fdl_out_str(out, ",\"frames\":[");
    for (uint32_t i = 0; frames && i < n; i++) {
        uint32_t flen;
        const char *f = fdl_intern_get(&fdl_pyframes, frames[i], &flen);
        if (!f || flen < 6)
            continue;
        uint32_t line;
        memcpy(&line, f, 4);
        const char *file = f + 4, *func = file + strlen(file) + 1;
        fdl_out_str(out, i ? ",{\"file\":" : "{\"file\":");
        fdl_out_jstr(out, file);
        fdl_out_str(out, ",\"function\":");
        fdl_out_jstr(out, func);
        fdl_out_str(out, ",\"line\":");
        fdl_out_u64(out, line);
        fdl_out_str(out, "}");
    }
    fdl_out_str(out, "]}");
}

static int in_sorted(const uint32_t *ids, size_t n, uint32_t id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ids[mid] == id)
            return 1;
        if (ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* Whether stack `id` was written for an earlier misuse event (or an earlier one of event i). */
static int misuse_stack_before(size_t i, int k, uint32_t id)
{
    for (size_t j = 0; j <= i; j++) {
        const struct fdl_misuse *ev = fdl_misuse_get(j);
        if (!ev)
            continue;
        uint32_t ids[3] = {ev->stack, ev->closed_stack, ev->acquired_stack};
        for (int m = 0; m < (j == i ? k : 3); m++)
            if (ids[m] == id)
                return 1;
    }
    return 0;
}

/* Whether Python stack `id` was written for an earlier misuse event (or an earlier one of
 * event i). */
static int misuse_pystack_before(size_t i, int k, uint32_t id)
{
    for (size_t j = 0; j <= i; j++) {
        const struct fdl_misuse *ev = fdl_misuse_get(j);
        if (!ev)
            continue;
        uint32_t ids[2] = {ev->pystack, ev->acquired_pystack};
        for (int m = 0; m < (j == i ? k : 2); m++)
            if (ids[m] == id)
                return 1;
    }
    return 0;
}

static void json_kv_u(const char *k, uint64_t v)
{
    fdl_out_str(out, ",\"");
    fdl_out_str(out, k);
    fdl_out_str(out, "\":");
    fdl_out_u64(out, v);
}

static void json_kv_s(const char *k, const char *v)
{
    fdl_out_str(out, ",\"");
    fdl_out_str(out, k);
    fdl_out_str(out, "\":");
    fdl_out_jstr(out, v);
}

void fdl_write_json(struct fdl_out *o, struct fdl_scratch *s, const struct fdl_dump_ctx *h)
{
    out = o;
    const struct fdl_dump_req *req = h->req;
    fdl_out_str(out, "{\"format\":\"" FDC_DUMP_FORMAT "\",\"version\":");
    fdl_out_u64(out, FDC_DUMP_VERSION);
    json_kv_u("pid", (uint64_t)syscall(SYS_getpid));
    json_kv_u("ppid", (uint64_t)syscall(SYS_getppid));
    json_kv_s("exe", h->exe);
    fdl_out_str(out, ",\"cmdline\":[");
    for (size_t i = 0, first = 1; i < h->cmdline_len; first = 0) {
        size_t l = strnlen(h->cmdline + i, h->cmdline_len - i);
        if (!first)
            fdl_out_str(out, ",");
        fdl_out_json(out, h->cmdline + i, l);
        i += l + 1;
    }
    fdl_out_str(out, "]");
    json_kv_u("seq", h->seq);
    json_kv_s("trigger", fdc_trigger_name(req->trigger));
    json_kv_u("signal", (uint64_t)req->signal);
    json_kv_s("trigger_call", fdc_call_name(req->call));
    json_kv_u("trigger_errno", (uint64_t)req->err);
    json_kv_u("trigger_stack", req->stack);
    json_kv_u("threshold", (uint64_t)req->threshold);
    json_kv_u("time_realtime_ns", realtime_ns());
    json_kv_u("open_fds", h->open_fds);
    uint64_t peak_ns;
    json_kv_u("peak_open_fds", (uint64_t)fdl_peak_get(&peak_ns));
    json_kv_u("peak_time_realtime_ns", peak_ns);
    json_kv_u("limit_nofile", h->rl.rlim_cur);
    json_kv_u("limit_nofile_max", h->rl.rlim_max);
    if (s->truncated)
        fdl_out_str(out, ",\"truncated\":true");

    fdl_out_str(out, ",\n\"fds\":[");
    for (size_t i = 0; i < s->n; i++) {
        const struct fdl_rec *r = &s->recs[i];
        struct fdl_details d;
        fdl_details(r, &d);
        fdl_out_str(out, i ? ",\n{\"fd\":" : "\n{\"fd\":");
        fdl_out_u64(out, (uint64_t)r->fd);
        json_kv_s("origin", fdc_origin_name(r->origin));
        json_kv_s("call", fdc_call_name(r->e.call));
        json_kv_s("kind", fdc_kind_name((unsigned)d.kind));
        json_kv_s("path", fdl_path_text(r->e.path));
        json_kv_s("target", d.target);
        fdl_out_str(out, (r->e.flags & FDL_F_CLOEXEC) ? ",\"cloexec\":true" : ",\"cloexec\":false");
        uint64_t age = r->origin == FDC_ORIGIN_TRACKED && h->now_coarse > r->e.time_ns
                           ? (h->now_coarse - r->e.time_ns) / 1000000
                           : 0;
        json_kv_u("age_ms", age);
        json_kv_u("tid", r->e.tid);
        json_kv_u("stack", r->e.stack);
        json_kv_u("pystack", r->e.pystack);
        json_kv_s("local", d.local);
        json_kv_s("peer", d.peer);
        fdl_out_str(out, "}");
    }
    fdl_out_str(out, "],\n\"stacks\":[");
    size_t n = fdl_referenced(s, s->ids, 0, req->stack);
    for (size_t i = 0; i < n; i++) {
        fdl_out_str(out, i ? ",\n" : "\n");
        json_stack_ips(s->ids[i]);
    }
    /* Stacks of misuse events that no descriptor refers to, each written once. */
    int any = n > 0;
    for (size_t i = 0, nm = fdl_misuse_count(); i < nm; i++) {
        const struct fdl_misuse *ev = fdl_misuse_get(i);
        if (!ev)
            continue;
        uint32_t ids[3] = {ev->stack, ev->closed_stack, ev->acquired_stack};
        for (int k = 0; k < 3; k++) {
            if (!ids[k] || in_sorted(s->ids, n, ids[k]) || misuse_stack_before(i, k, ids[k]))
                continue;
            fdl_out_str(out, any ? ",\n" : "\n");
            json_stack_ips(ids[k]);
            any = 1;
        }
    }
    fdl_out_str(out, "],\n\"pystacks\":[");
    n = fdl_referenced(s, s->ids, 1, 0);
    for (size_t i = 0; i < n; i++) {
        fdl_out_str(out, i ? ",\n" : "\n");
        json_pystack(s->ids[i]);
    }
    /* Python stacks of misuse events and of the acquisitions they name, likewise. */
    any = n > 0;
    for (size_t i = 0, nm = fdl_misuse_count(); i < nm; i++) {
        const struct fdl_misuse *ev = fdl_misuse_get(i);
        if (!ev)
            continue;
        uint32_t ids[2] = {ev->pystack, ev->acquired_pystack};
        for (int k = 0; k < 2; k++) {
            if (!ids[k] || in_sorted(s->ids, n, ids[k]) || misuse_pystack_before(i, k, ids[k]))
                continue;
            fdl_out_str(out, any ? ",\n" : "\n");
            json_pystack(ids[k]);
            any = 1;
        }
    }
    fdl_out_str(out, "],\n\"misuse\":[");
    size_t nw = 0;
    for (size_t i = 0, nm = fdl_misuse_count(); i < nm; i++) {
        const struct fdl_misuse *ev = fdl_misuse_get(i);
        if (!ev)
            continue;
        fdl_out_str(out, nw++ ? ",\n{\"kind\":" : "\n{\"kind\":");
        fdl_out_jstr(out, fdc_misuse_name(ev->kind));
        fdl_out_str(out, ",\"fd\":");
        fdl_out_i64(out, ev->fd);
        json_kv_s("call", fdc_call_name(ev->call));
        json_kv_u("count", __atomic_load_n(&ev->count, __ATOMIC_RELAXED));
        json_kv_u("stack", ev->stack);
        json_kv_u("pystack", ev->pystack);
        json_kv_s("closed_call", fdc_call_name(ev->closed_call));
        json_kv_u("closed_stack", ev->closed_stack);
        json_kv_s("acquired_call", fdc_call_name(ev->acquired_call));
        json_kv_u("acquired_stack", ev->acquired_stack);
        json_kv_u("acquired_pystack", ev->acquired_pystack);
        json_kv_s("owner", fdc_owner_name(ev->owner));
        fdl_out_str(out, "}");
    }
    fdl_out_str(out, "],\n\"modules\":[");
    for (int i = 0; i < fdl_maps_count(); i++) {
        const struct fdl_module *m = fdl_maps_get(i);
        fdl_out_str(out, i ? ",\n{\"path\":" : "\n{\"path\":");
        fdl_out_jstr(out, fdl_maps_path(m));
        fdl_out_str(out, ",\"base\":\"");
        fdl_out_hex(out, m->base);
        fdl_out_str(out, "\",\"start\":\"");
        fdl_out_hex(out, m->start);
        fdl_out_str(out, "\",\"end\":\"");
        fdl_out_hex(out, m->end);
        fdl_out_str(out, "\"");
        json_kv_s("build_id", m->build_id);
        fdl_out_str(out, "}");
    }
    fdl_out_str(out, "],\n\"stats\":{\"acquired\":");
    fdl_out_u64(out, fdl_stat_sum(&fdl_stat_acquired));
    json_kv_u("released", fdl_stat_sum(&fdl_stat_released));
    json_kv_u("stacks", fdl_stacks.count);
    json_kv_u("stack_store_full", fdl_stacks.full);
    json_kv_u("path_store_full", fdl_paths.full);
    json_kv_u("unwind_failed", fdl_stat_sum(&fdl_stat_unwind_failed));
    json_kv_u("misuse", nw);
    json_kv_u("misuse_dropped", fdl_misuse_dropped());
    fdl_out_str(out, "}}\n");
}
