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
 * innermost first (see python.c). */
static void json_pystack(uint32_t id)
{
    uint32_t len;
    const uint32_t *frames = fdl_intern_get(&fdl_pyframes, id, &len);
    fdl_out_str(out, "{\"id\":");
    fdl_out_u64(out, id);
    fdl_out_str(out, ",\"frames\":[");
    for (uint32_t i = 0; frames && i < len / 4; i++) {
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
    fdl_out_str(out, "],\n\"pystacks\":[");
    n = fdl_referenced(s, s->ids, 1, 0);
    for (size_t i = 0; i < n; i++) {
        fdl_out_str(out, i ? ",\n" : "\n");
        json_pystack(s->ids[i]);
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
    fdl_out_str(out, "}}\n");
}
