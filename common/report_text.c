/* The text report (see report_text.h): layout, wording, start-up frame trimming and escaping,
 * the same for the library and the command. Everything is written piece by piece through the
 * caller's sink; numbers are formatted by hand, because the library renders in signal
 * handlers and at the fd limit, where stdio and malloc are not an option. */
#include "report_text.h"

#include "contract.h"
#include "signame.h"
#include "utf8.h"

#include <string.h>

struct fdc_r {
    fdc_sink_fn *sink;
    void *arg;
    const struct fdc_ropts *o;
    const struct fdc_rmodel *m;
};

#define C_RESET "\033[0m"
#define C_DIM "\033[2m"
#define C_BOLD "\033[1m"
#define C_RED "\033[1;31m"
#define C_CYAN "\033[36m"

static void put(const struct fdc_r *r, const char *s)
{
    r->sink(r->arg, s, strlen(s));
}

static void color(const struct fdc_r *r, const char *code)
{
    if (r->o->color)
        put(r, code);
}

static void put_esc(const struct fdc_r *r, const char *s)
{
    fdc_report_escape(s ? s : "", r->sink, r->arg);
}

static void put_u64(const struct fdc_r *r, uint64_t v)
{
    char b[24], *p = b + sizeof b;
    do
        *--p = (char)('0' + v % 10);
    while (v /= 10);
    r->sink(r->arg, p, (size_t)(b + sizeof b - p));
}

static void put_i64(const struct fdc_r *r, int64_t v)
{
    if (v < 0) {
        put(r, "-");
        put_u64(r, 0 - (uint64_t)v);
    } else {
        put_u64(r, (uint64_t)v);
    }
}

static void put_hex(const struct fdc_r *r, uint64_t v)
{
    char b[20], *p = b + sizeof b;
    do
        *--p = "0123456789abcdef"[v & 15];
    while (v >>= 4);
    put(r, "0x");
    r->sink(r->arg, p, (size_t)(b + sizeof b - p));
}

static void line_start(const struct fdc_r *r)
{
    color(r, C_DIM);
    put(r, "==");
    put_i64(r, r->m->proc.pid);
    put(r, "==");
    color(r, C_RESET);
    put(r, " ");
}

static void line(const struct fdc_r *r, const char *s)
{
    line_start(r);
    put(r, s);
    put(r, "\n");
}

static void blank(const struct fdc_r *r)
{
    color(r, C_DIM);
    put(r, "==");
    put_i64(r, r->m->proc.pid);
    put(r, "==");
    color(r, C_RESET);
    put(r, "\n");
}

static void plural(const struct fdc_r *r, uint64_t n, const char *one, const char *many)
{
    put_u64(r, n);
    put(r, n == 1 ? one : many);
}

/* ---------------------------------------------------------------------------- escaping */

void fdc_report_escape(const char *str, fdc_sink_fn *sink, void *arg)
{
    const unsigned char *s = (const unsigned char *)str, *run = s;
    while (*s) {
        size_t n;
        if (*s >= 0x20 && *s < 0x7f && *s != '\\') {
            s++;
            continue;
        }
        uint32_t cp;
        if (*s >= 0x80 && (n = fdc_utf8_seq((const char *)s, &cp)) > 0 && !fdc_utf8_unsafe(cp)) {
            s += n;
            continue;
        }
        sink(arg, (const char *)run, (size_t)(s - run));
        char e[4] = {'\\', 0, 0, 0};
        size_t len = 2;
        switch (*s) {
        case '\\':
            e[1] = '\\';
            break;
        case '\n':
            e[1] = 'n';
            break;
        case '\t':
            e[1] = 't';
            break;
        case '\r':
            e[1] = 'r';
            break;
        default:
            e[1] = 'x';
            e[2] = "0123456789abcdef"[*s >> 4];
            e[3] = "0123456789abcdef"[*s & 15];
            len = 4;
        }
        sink(arg, e, len);
        run = ++s;
    }
    sink(arg, (const char *)run, (size_t)(s - run));
}

/* ------------------------------------------------------------------------------ pieces */

static int is(const char *s, const char *t)
{
    return s && !strcmp(s, t);
}

static const char *basename_of(const char *path)
{
    const char *s = path ? strrchr(path, '/') : NULL;
    return s ? s + 1 : path ? path : "";
}

/* A file name as shown: relative to the working directory when under it. */
static void put_file(const struct fdc_r *r, const char *file)
{
    const char *cwd = r->o->cwd;
    size_t n = cwd ? strlen(cwd) : 0;
    if (n > 1 && !strncmp(file, cwd, n) && file[n] == '/')
        file += n + 1;
    put_esc(r, file);
}

int fdc_report_startup_frame(const char *fn)
{
    return fn && (!strcmp(fn, "_start") || !strncmp(fn, "__libc_start_main", 17) ||
                  !strcmp(fn, "__libc_start_call_main"));
}

int fdc_report_nothing(const struct fdc_rproc *p)
{
    return p->leaked == 0 && p->nunknown == 0 && p->nmisuse == 0 && p->misuse_dropped == 0;
}

static void frame_line(const struct fdc_r *r, const struct fdc_rframe *f, int at)
{
    line_start(r);
    put(r, at ? "   at " : "   by ");
    int fn = f->function && *f->function, mod = f->module && *f->module;
    if (fn) {
        color(r, C_BOLD);
        put_esc(r, f->function);
        color(r, C_RESET);
        put(r, " (");
    }
    if (fn && f->file && *f->file && f->line > 0) {
        put_file(r, f->file);
        put(r, ":");
        put_u64(r, (uint64_t)f->line);
    } else if (mod) {
        put_esc(r, basename_of(f->module));
        put(r, "+");
        put_hex(r, f->offset);
    } else if (fn) {
        put(r, "?");
    } else {
        put_hex(r, f->ip);
    }
    if (fn)
        put(r, ")");
    if (f->inlined)
        put(r, " [inlined]");
    put(r, "\n");
}

/* Start-up frames go from the outer end: _start, __libc_start_main, __libc_start_call_main,
 * and up to two nameless libc frames just inside a trimmed one: libc's start-up code when its
 * names are unknown (__libc_start_call_main is static; in a signal handler the library looks
 * no name up at all). */
static size_t trimmed_depth(const struct fdc_r *r, uint64_t stack, size_t n)
{
    struct fdc_rframe f;
    int trimmed = 0, nameless_libc = 0;
    while (n > 1) {
        memset(&f, 0, sizeof f);
        r->m->frame(r->m->ctx, stack, n - 1, &f);
        int nameless = !f.function || !*f.function;
        if (fdc_report_startup_frame(f.function))
            trimmed = 1;
        else if (trimmed && nameless && !strncmp(basename_of(f.module), "libc.so", 7) &&
                 nameless_libc < 2)
            nameless_libc++;
        else
            break;
        n--;
    }
    return n;
}

/* A C stack. Below a Python stack, the frames stop where the interpreter's eval loop begins:
 * the rest only repeats the Python stack. */
static void c_stack(const struct fdc_r *r, uint64_t stack, int python)
{
    size_t n = r->m->frame(r->m->ctx, stack, 0, NULL), hidden = 0;
    n = trimmed_depth(r, stack, n);
    struct fdc_rframe f;
    for (size_t i = 1; python && i < n; i++) {
        memset(&f, 0, sizeof f);
        r->m->frame(r->m->ctx, stack, i, &f);
        if (f.function && !strncmp(f.function, "_PyEval_EvalFrame", 17)) {
            hidden = n - i;
            n = i;
        }
    }
    if (n == 0)
        line(r, "   (no stack: unwinding failed or the call came before fdleak started)");
    for (size_t i = 0; i < n; i++) {
        memset(&f, 0, sizeof f);
        r->m->frame(r->m->ctx, stack, i, &f);
        frame_line(r, &f, i == 0);
    }
    if (hidden) {
        line_start(r);
        put(r, "   by ... (");
        put_u64(r, hidden);
        put(r, " frames in the Python interpreter; the JSON report lists them)\n");
    }
}

static void describe(const struct fdc_r *r, const struct fdc_rfd *f)
{
    int local = f->local && *f->local, peer = f->peer && *f->peer;
    if (is(f->kind, "socket") && (local || peer)) {
        if (local)
            put_esc(r, f->local);
        if (local && peer)
            put(r, " ");
        if (peer) {
            put(r, "-> ");
            put_esc(r, f->peer);
        }
    } else if (f->path && *f->path) {
        put_esc(r, f->path);
    } else {
        put(r, "(");
        put_esc(r, f->kind);
        put(r, ")");
    }
}

static void age(const struct fdc_r *r, int64_t ms)
{
    if (ms < 10000) {
        put_i64(r, ms);
        put(r, " ms");
    } else if (ms < 600000) {
        put_i64(r, ms / 1000);
        put(r, " s");
    } else {
        put_i64(r, ms / 60000);
        put(r, " min");
    }
}

static void more(const struct fdc_r *r, size_t n)
{
    line_start(r);
    put(r, "   ... and ");
    put_u64(r, n);
    put(r, " more");
    if (r->o->more_hint) {
        put(r, " (");
        put(r, r->o->more_hint);
        put(r, ")");
    }
    put(r, "\n");
}

static void header(const struct fdc_r *r)
{
    const struct fdc_rproc *p = &r->m->proc;
    line_start(r);
    color(r, C_BOLD);
    put(r, "fdleak: process ");
    put_i64(r, p->pid);
    put(r, " (");
    put_esc(r, p->exe && *p->exe ? p->exe : "?");
    const char *a;
    for (size_t i = 1; r->m->arg && (a = r->m->arg(r->m->ctx, i)) != NULL; i++) {
        put(r, " ");
        put_esc(r, a);
    }
    put(r, "), trigger: ");
    put_esc(r, p->trigger);
    const char *call = p->trigger_call && *p->trigger_call ? p->trigger_call : "a call";
    if (is(p->trigger, "fatal-signal") || is(p->trigger, "signal")) {
        char sig[32];
        put(r, " ");
        put(r, fdc_sig_name(p->signal, sig, sizeof sig));
    } else if (is(p->trigger, "emfile")) {
        put(r, " (");
        put_esc(r, call);
        put(r, p->trigger_enfile ? "() failed with ENFILE)" : "() failed with EMFILE)");
    } else if (is(p->trigger, "threshold")) {
        put(r, " (");
        put_i64(r, p->threshold);
        put(r, " live fds reached in ");
        put_esc(r, call);
        put(r, "())");
    } else if (is(p->trigger, "peak")) {
        put(r, " (");
        put_i64(r, p->threshold);
        put(r, " live fds: a new peak)");
    }
    color(r, C_RESET);
    put(r, "\n");
    if (p->trigger_stack && (is(p->trigger, "emfile") || is(p->trigger, "threshold"))) {
        line_start(r);
        put_esc(r, call);
        put(r, "() that triggered the dump:\n");
        c_stack(r, p->trigger_stack, 0);
    }
}

/* Whether a Python file is the standard library's or an installed package's (frozen modules
 * included): the first frame that is not is the program's own line. */
static int py_library(const char *file)
{
    return !strncmp(file, "<frozen ", 8) || strstr(file, "/site-packages/") ||
           strstr(file, "/dist-packages/") || strstr(file, "/lib/python") ||
           strstr(file, "/lib64/python");
}

static void py_frame(const struct fdc_r *r, const struct fdc_rpyframe *f)
{
    color(r, C_BOLD);
    put_file(r, f->file ? f->file : "?");
    put(r, ":");
    put_i64(r, f->line);
    color(r, C_RESET);
    put(r, " in ");
    put_esc(r, f->function);
    put(r, "\n");
}

/* A Python stack, innermost first; the innermost frame outside the library is marked "> "
 * (the program's line), and when library frames come before it, it is also named first, on a
 * "program line:" line above the stack, so that it is found at a glance and not 15 lines
 * down (a leak through urllib's redirects). Frames dropped past the depth limit are counted on
 * a last line. */
static void py_stack(const struct fdc_r *r, uint64_t pystack, size_t truncated, size_t n)
{
    const struct fdc_rmodel *m = r->m;
    size_t mine = n;
    struct fdc_rpyframe f;
    for (size_t i = 0; i < n && mine == n; i++) {
        memset(&f, 0, sizeof f);
        m->pyframe(m->ctx, pystack, i, &f);
        if (!py_library(f.file ? f.file : "?"))
            mine = i;
    }
    if (mine > 0 && mine < n) {
        memset(&f, 0, sizeof f);
        m->pyframe(m->ctx, pystack, mine, &f);
        line_start(r);
        put(r, "   program line: ");
        py_frame(r, &f);
    }
    line(r, "   Python stack:");
    for (size_t i = 0; i < n; i++) {
        memset(&f, 0, sizeof f);
        m->pyframe(m->ctx, pystack, i, &f);
        line_start(r);
        put(r, i == mine ? "   > " : "     ");
        py_frame(r, &f);
    }
    if (truncated) {
        line_start(r);
        put(r, "     ... ");
        plural(r, truncated, " more frame", " more frames");
        put(r, " (FDLEAK_PY_DEPTH)\n");
    }
}

/* An acquisition's stacks: the Python stack first (the program's line marked), then the C
 * frames, labelled "C stack:" below a Python one. Under Python the library keeps the native
 * frames from the call up to the interpreter's eval loop: what a C extension did between the
 * Python line and the system call (sqlite3_open_v2, unixOpen). */
static void stacks(const struct fdc_r *r, uint64_t stack, uint64_t pystack, size_t truncated)
{
    const struct fdc_rmodel *m = r->m;
    size_t npy = pystack && m->pyframe ? m->pyframe(m->ctx, pystack, 0, NULL) : 0;
    if (npy)
        py_stack(r, pystack, truncated, npy);
    int has_c = stack && m->frame(m->ctx, stack, 0, NULL) > 0;
    if (npy && has_c)
        line(r, "   C stack:");
    if (has_c || !npy)
        c_stack(r, stack, npy > 0);
}

static void group(const struct fdc_r *r, size_t gi)
{
    const struct fdc_rmodel *m = r->m;
    struct fdc_rgroup g;
    memset(&g, 0, sizeof g);
    m->group(m->ctx, gi, &g);
    blank(r);
    line_start(r);
    color(r, C_RED);
    plural(r, g.count, " fd leaked from ", " fds leaked from ");
    put_esc(r, g.call && *g.call ? g.call : "?");
    put(r, "()");
    color(r, C_RESET);
    put(r, " [");
    put_esc(r, g.kind);
    put(r, "]\n");
    stacks(r, g.stack, g.pystack, g.pytruncated);
    int mixed = is(g.kind, "mixed");
    size_t max = r->o->max_fds, shown = max && g.count > max ? max : g.count;
    for (size_t i = 0; i < shown; i++) {
        struct fdc_rfd f;
        memset(&f, 0, sizeof f);
        m->group_fd(m->ctx, gi, i, &f);
        line_start(r);
        put(r, "   ");
        color(r, C_CYAN);
        put(r, "fd ");
        put_i64(r, f.fd);
        color(r, C_RESET);
        put(r, "  ");
        describe(r, &f);
        if (mixed) {
            put(r, "  ");
            put_esc(r, f.kind);
        }
        put(r, "  age ");
        age(r, f.age_ms);
        put(r, "  tid ");
        put_i64(r, f.tid);
        if (f.cloexec)
            put(r, "  cloexec");
        put(r, "\n");
    }
    if (shown < g.count)
        more(r, g.count - shown);
    if (m->group_after)
        m->group_after(m->ctx, gi, r->sink, r->arg);
}

/* valgrind's layout: what happened and where, then where the descriptor was released before
 * and where it was acquired, each with its own stack. */
static void misuse(const struct fdc_r *r, const struct fdc_rmisuse *ev)
{
    const char *call = ev->call && *ev->call ? ev->call : "?";
    blank(r);
    line_start(r);
    color(r, C_RED);
    if (is(ev->kind, "double_close")) {
        put(r, "double close of fd ");
        put_i64(r, ev->fd);
    } else if (is(ev->kind, "bad_fd")) {
        put(r, "bad fd ");
        put_i64(r, ev->fd);
        put(r, " passed to ");
        put_esc(r, call);
        put(r, "()");
    } else if (is(ev->kind, "use_after_close")) {
        put(r, "use of closed fd ");
        put_i64(r, ev->fd);
        put(r, " by ");
        put_esc(r, call);
        put(r, "()");
    } else if (is(ev->kind, "owned_close")) {
        put_esc(r, call);
        put(r, "() of fd ");
        put_i64(r, ev->fd);
        put(r, " owned by a live ");
        put_esc(r, ev->owner && *ev->owner ? ev->owner : "FILE");
        put(r, "*");
    } else {
        put_esc(r, ev->kind ? ev->kind : "?");
        put(r, " of fd ");
        put_i64(r, ev->fd);
    }
    color(r, C_RESET);
    if (is(ev->kind, "double_close")) {
        put(r, " by ");
        put_esc(r, call);
        put(r, "()");
    }
    if (ev->count > 1) {
        put(r, " (");
        put_u64(r, ev->count);
        put(r, " times)");
    }
    put(r, "\n");
    stacks(r, ev->stack, ev->pystack, ev->pytruncated);
    if (ev->closed_call && *ev->closed_call) {
        line_start(r);
        put(r, " previously closed by ");
        put_esc(r, ev->closed_call);
        put(r, "()\n");
        if (ev->closed_stack)
            c_stack(r, ev->closed_stack, 0);
    }
    if (ev->acquired_call && *ev->acquired_call) {
        line_start(r);
        put(r, " acquired by ");
        put_esc(r, ev->acquired_call);
        put(r, "()\n");
        if (ev->acquired_stack || ev->acquired_pystack)
            stacks(r, ev->acquired_stack, ev->acquired_pystack, ev->acquired_pytruncated);
    } else if (ev->closed_call && *ev->closed_call && !is(ev->kind, "owned_close")) {
        line(r, " acquired before fdleak started (inherited)");
    }
}

void fdc_report_misuse(const struct fdc_rmodel *m, const struct fdc_ropts *o,
                       const struct fdc_rmisuse *ev, fdc_sink_fn *sink, void *sink_arg)
{
    struct fdc_r r = {.sink = sink, .arg = sink_arg, .o = o, .m = m};
    misuse(&r, ev);
}

static void other_line(const struct fdc_r *r, const struct fdc_rfd *f)
{
    line_start(r);
    put(r, "   fd ");
    put_i64(r, f->fd);
    put(r, "  ");
    describe(r, f);
    put(r, "  [");
    put_esc(r, f->kind);
    put(r, "]\n");
}

static void others(const struct fdc_r *r, int origin, size_t n)
{
    size_t max = r->o->max_fds, shown = max && n > max ? max : n;
    for (size_t i = 0; i < shown; i++) {
        struct fdc_rfd f;
        memset(&f, 0, sizeof f);
        r->m->other(r->m->ctx, origin, i, 1, &f);
        other_line(r, &f);
    }
    if (shown < n)
        more(r, n - shown);
}

/* "0-2, 5, 7-9", at most about 200 characters. */
static void fd_ranges(const struct fdc_r *r, size_t n)
{
    struct fdc_rfd f;
    size_t written = 0;
    for (size_t i = 0; i < n;) {
        memset(&f, 0, sizeof f);
        r->m->other(r->m->ctx, FDC_ORIGIN_INHERITED, i, 0, &f);
        int lo = f.fd, hi = f.fd;
        size_t j = i + 1;
        for (; j < n; j++, hi++) {
            r->m->other(r->m->ctx, FDC_ORIGIN_INHERITED, j, 0, &f);
            if (f.fd != hi + 1)
                break;
        }
        if (i)
            put(r, ", ");
        if (written >= 20) {
            put(r, "...");
            return;
        }
        put_i64(r, lo);
        if (hi > lo) {
            put(r, "-");
            put_i64(r, hi);
        }
        written++;
        i = j;
    }
}

/* "12 fds in 2 groups" */
static void fds_in_groups(const struct fdc_r *r, uint64_t fds, uint64_t groups)
{
    plural(r, fds, " fd in ", " fds in ");
    plural(r, groups, " group", " groups");
}

/* One line per suppression rule that matched, so a reader sees what was left out and why. */
static void suppressed(const struct fdc_r *r)
{
    const struct fdc_rproc *p = &r->m->proc;
    if (!p->nsupp_rules || !r->m->suppressed)
        return;
    blank(r);
    for (size_t i = 0; i < p->nsupp_rules; i++) {
        const char *rule = "";
        size_t count = 0, groups = 0;
        r->m->suppressed(r->m->ctx, i, &rule, &count, &groups);
        line_start(r);
        put(r, "suppressed by ");
        put_esc(r, rule);
        put(r, ": ");
        fds_in_groups(r, count, groups);
        put(r, "\n");
    }
}

static void summary(const struct fdc_r *r)
{
    const struct fdc_rproc *p = &r->m->proc;
    blank(r);
    line_start(r);
    color(r, C_BOLD);
    put(r, "summary: ");
    put_i64(r, p->open_fds);
    put(r, " open fds of limit ");
    put_i64(r, p->limit_nofile);
    put(r, "; ");
    put_u64(r, p->leaked);
    put(r, " leaked in ");
    plural(r, p->ngroups, " group", " groups");
    if (p->nmisuse) {
        put(r, "; ");
        plural(r, p->nmisuse, " misuse", " misuses");
    }
    put(r, "; trigger ");
    put_esc(r, p->trigger);
    if (p->nsuppressed) {
        put(r, "; suppressed: ");
        fds_in_groups(r, p->nsuppressed, p->nsupp_groups);
        put(r, " by ");
        plural(r, p->nsupp_rules, " rule", " rules");
    }
    if (p->stack_store_full || p->path_store_full) {
        put(r, "; stores full: ");
        put_i64(r, p->stack_store_full);
        put(r, " stacks, ");
        put_i64(r, p->path_store_full);
        put(r, " paths not kept");
    }
    if (p->truncated)
        put(r, "; list truncated");
    for (size_t i = 0; r->m->earlier && i < p->nearlier; i++) {
        const char *trig = "";
        long seq = 0;
        r->m->earlier(r->m->ctx, i, &trig, &seq);
        put(r, i ? ", " : "; earlier dumps: ");
        put_esc(r, trig);
        put(r, " (dump ");
        put_i64(r, seq);
        put(r, ")");
    }
    color(r, C_RESET);
    put(r, "\n");
}

void fdc_report_text(const struct fdc_rmodel *m, const struct fdc_ropts *o, fdc_sink_fn *sink,
                     void *sink_arg)
{
    struct fdc_r r = {.sink = sink, .arg = sink_arg, .o = o, .m = m};
    const struct fdc_rproc *p = &m->proc;
    header(&r);
    for (size_t i = 0; m->misuse && i < p->nmisuse; i++) {
        struct fdc_rmisuse ev;
        memset(&ev, 0, sizeof ev);
        m->misuse(m->ctx, i, &ev);
        misuse(&r, &ev);
    }
    if (p->misuse_dropped) {
        line_start(&r);
        put(&r, "misuse: ");
        put_u64(&r, p->misuse_dropped);
        put(&r, " more events not kept (the store was full)\n");
    }
    if (p->nmisuse)
        blank(&r);
    if (p->leaked == 0)
        line(&r, "no leaked descriptors");
    for (size_t g = 0; g < p->ngroups; g++)
        group(&r, g);
    if (p->nunknown) {
        blank(&r);
        line_start(&r);
        put(&r, "unknown origin (open, but not seen acquired): ");
        plural(&r, p->nunknown, " fd\n", " fds\n");
        others(&r, FDC_ORIGIN_UNKNOWN, p->nunknown);
    }
    if (p->ninherited) {
        blank(&r);
        line_start(&r);
        put(&r, "inherited: ");
        plural(&r, p->ninherited, " fd", " fds");
        if (o->show_inherited) {
            put(&r, "\n");
            others(&r, FDC_ORIGIN_INHERITED, p->ninherited);
        } else {
            put(&r, " (");
            fd_ranges(&r, p->ninherited);
            put(&r, ")");
            if (o->inh_hint) {
                put(&r, "; ");
                put(&r, o->inh_hint);
            }
            put(&r, "\n");
        }
    }
    suppressed(&r);
    summary(&r);
    if (o->footer)
        line(&r, o->footer);
}
