/* `fdleak watch PID`: a snapshot every interval (the checks and the safe reading of
 * cmd_snapshot.c, through snapshot.h), each followed by a short table of the groups that grow
 * and when the process will reach its soft RLIMIT_NOFILE at its present rate; at the end a
 * summary like `fdleak diff` of the first and last snapshots, the --json series and the --plot.
 * Only counts and origins are kept between samples, never a whole dump. */
#include "contract.h"
#include "growth.h"
#include "json.h"
#include "options.h"
#include "plot.h"
#include "safefile.h"
#include "snapshot.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FDT_WATCH_TABLE_ROWS 10 /* growing groups shown after each snapshot */
#define FDT_WATCH_PLOT_SERIES 8 /* groups drawn in the plot */

static const char fdt_usage_watch[] =
    "Usage: fdleak watch [OPTIONS] PID\n"
    "Snapshots PID, a live process under libfdleak.so, every --interval seconds (with the\n"
    "checks of 'fdleak snapshot') until --count snapshots, its exit or Ctrl-C. After each it\n"
    "prints the groups that grow: count now, growth since the first snapshot, rate per\n"
    "minute, and when the process reaches its soft RLIMIT_NOFILE at its rate so far. Ends\n"
    "with a summary like 'fdleak diff' of the first and last snapshots.\n"
    "\n"
    "Options:\n"
    "      --interval=SEC       seconds between snapshots (default 10; fractions allowed)\n"
    "      --count=N            stop after N snapshots (default: until exit or Ctrl-C)\n"
    "      --plot=FILE          write descriptors over time as FILE.svg or a FILE.html page\n"
    "      --timeout=SEC        wait at most SEC seconds for each dump (default 5)\n"
    "  --json=FILE: the series as JSON (format fdleak-watch); --error-exitcode=N: exit N if\n"
    "  the process grew.\n";

static const struct fdt_cmd_spec fdt_watch_spec = {.name = "watch",
                                                   .usage = fdt_usage_watch,
                                                   .opts = FDT_OPTS_WATCH | FDT_OPTS_SNAPSHOT,
                                                   .report_fd = 1};

static volatile sig_atomic_t fdt_watch_stop;

static void fdt_watch_on_signal(int sig)
{
    (void)sig;
    fdt_watch_stop = 1;
}

struct fdt_wgroup {
    struct fdt_ggroup g; /* origin only (fdt_ggroup_copy) */
    long *counts;        /* per sample */
    double rate;         /* per minute, least squares over the samples */
};

struct fdt_watch {
    long pid, limit;
    char *exe;
    size_t n, cap;
    int64_t *time_ns;
    long *open_fds;
    double *x; /* seconds since the first sample */
    size_t ngroups;
    struct fdt_wgroup *groups;
    struct fdt_gset first, last;
};

/* Slope of y over x (per second), least squares: steadier than the last interval alone. */
static double fdt_slope(const double *x, const long *y, size_t n)
{
    if (n < 2)
        return 0;
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (size_t i = 0; i < n; i++) {
        sx += x[i];
        sy += (double)y[i];
        sxx += x[i] * x[i];
        sxy += x[i] * (double)y[i];
    }
    double den = (double)n * sxx - sx * sx;
    return den > 0 ? ((double)n * sxy - sx * sy) / den : 0;
}

/* Seconds from the last sample until the limit at the process's rate; < 0 = never. */
static double fdt_projection(const struct fdt_watch *w)
{
    double r = fdt_slope(w->x, w->open_fds, w->n);
    if (r <= 0 || w->limit <= 0 || w->n < 2)
        return -1;
    double left = (double)(w->limit - w->open_fds[w->n - 1]);
    return left > 0 ? left / r : 0;
}

static void fdt_watch_add(struct fdt_watch *w, struct fdt_gset *s)
{
    const struct fdt_gproc *p = &s->procs[0];
    if (w->n == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 16;
        w->time_ns = fdt_xrealloc(w->time_ns, w->cap * sizeof *w->time_ns);
        w->open_fds = fdt_xrealloc(w->open_fds, w->cap * sizeof *w->open_fds);
        w->x = fdt_xrealloc(w->x, w->cap * sizeof *w->x);
        for (size_t i = 0; i < w->ngroups; i++)
            w->groups[i].counts =
                fdt_xrealloc(w->groups[i].counts, w->cap * sizeof *w->groups[i].counts);
    }
    size_t k = w->n++;
    w->time_ns[k] = p->time_ns;
    w->open_fds[k] = p->open_fds;
    w->x[k] = k ? (double)(p->time_ns - w->time_ns[0]) / 1e9 : 0;
    w->limit = p->limit_nofile;
    if (!w->exe)
        w->exe = fdt_xstrdup(p->exe ? p->exe : "");
    for (size_t i = 0; i < w->ngroups; i++) {
        const struct fdt_ggroup *g = fdt_gproc_find(p, w->groups[i].g.key);
        w->groups[i].counts[k] = g ? (long)g->count : 0;
    }
    for (size_t i = 0; i < p->ngroups; i++) {
        size_t j = 0;
        while (j < w->ngroups && fdt_gkey_cmp(w->groups[j].g.key, p->groups[i].key))
            j++;
        if (j < w->ngroups)
            continue;
        w->groups = fdt_xrealloc(w->groups, (w->ngroups + 1) * sizeof *w->groups);
        struct fdt_wgroup *ng = &w->groups[w->ngroups++];
        memset(ng, 0, sizeof *ng);
        fdt_ggroup_copy(&ng->g, &p->groups[i]);
        ng->counts = fdt_xcalloc(w->cap, sizeof *ng->counts);
        ng->counts[k] = (long)p->groups[i].count;
    }
    for (size_t i = 0; i < w->ngroups; i++)
        w->groups[i].rate = fdt_slope(w->x, w->groups[i].counts, w->n) * 60;
}

static long fdt_growth(const struct fdt_watch *w, const struct fdt_wgroup *g)
{
    return g->counts[w->n - 1] - g->counts[0];
}

static const struct fdt_watch *fdt_sort_watch; /* qsort has no context argument */

static int fdt_cmp_wgroup(const void *a, const void *b)
{
    const struct fdt_wgroup *x = a, *y = b;
    long gx = fdt_growth(fdt_sort_watch, x), gy = fdt_growth(fdt_sort_watch, y);
    if (gx != gy)
        return gx > gy ? -1 : 1;
    long cx = x->counts[fdt_sort_watch->n - 1], cy = y->counts[fdt_sort_watch->n - 1];
    if (cx != cy)
        return cx > cy ? -1 : 1;
    return fdt_gkey_cmp(x->g.key, y->g.key);
}

static void fdt_watch_sort(struct fdt_watch *w)
{
    fdt_sort_watch = w;
    if (w->ngroups)
        qsort(w->groups, w->ngroups, sizeof *w->groups, fdt_cmp_wgroup);
}

static void fdt_watch_table(FILE *out, struct fdt_watch *w, double interval, const char *cwd)
{
    size_t k = w->n - 1;
    fprintf(out, "fdleak watch: process %ld, snapshot %zu at +", w->pid, w->n);
    fdt_gprint_duration(out, w->x[k]);
    fprintf(out, ": %ld open fds of limit %ld", w->open_fds[k], w->limit);
    if (k == 0) {
        fputs("; next in ", out);
        fdt_gprint_duration(out, interval);
        fputs("\n", out);
        return;
    }
    double r = fdt_slope(w->x, w->open_fds, w->n) * 60, eta = fdt_projection(w);
    fprintf(out, ", %+ld since the first (%+.1f/min); ", w->open_fds[k] - w->open_fds[0], r);
    if (eta < 0) {
        fputs("limit: never at this rate\n", out);
    } else {
        fputs("limit reached in ", out);
        fdt_gprint_duration(out, eta);
        fputs(" at this rate\n", out);
    }
    fdt_watch_sort(w);
    size_t shown = 0;
    for (size_t i = 0; i < w->ngroups && shown < FDT_WATCH_TABLE_ROWS; i++) {
        const struct fdt_wgroup *g = &w->groups[i];
        if (fdt_growth(w, g) <= 0)
            break;
        if (!shown++)
            fputs("      now   growth   per min  group\n", out);
        fprintf(out, "  %7ld  %+7ld  %8.1f  ", g->counts[k], fdt_growth(w, g), g->rate);
        fdt_gprint_origin(out, &g->g, cwd);
        fputc('\n', out);
    }
    if (!shown)
        fputs("  no group grew since the first snapshot\n", out);
}

static int fdt_watch_json(const char *path, struct fdt_watch *w)
{
    FILE *f = !strcmp(path, "-") ? stdout : fopen(path, "we");
    if (!f) {
        fdt_msg("%s: %s", path, strerror(errno));
        return -1;
    }
    struct fdt_jw j;
    fdt_jw_init(&j, f);
    fdt_jw_obj(&j, NULL);
    fdt_jw_str(&j, "format", FDC_WATCH_FORMAT);
    fdt_jw_int(&j, "version", FDC_WATCH_VERSION);
    fdt_jw_int(&j, "pid", w->pid);
    fdt_jw_str(&j, "exe", w->exe);
    fdt_jw_int(&j, "limit_nofile", w->limit);
    fdt_jw_arr(&j, "samples");
    for (size_t i = 0; i < w->n; i++) {
        fdt_jw_obj(&j, NULL);
        fdt_jw_int(&j, "time_realtime_ns", w->time_ns[i]);
        fdt_jw_int(&j, "open_fds", w->open_fds[i]);
        fdt_jw_end(&j, '}');
    }
    fdt_jw_end(&j, ']');
    fdt_jw_double(&j, "rate_per_min", fdt_slope(w->x, w->open_fds, w->n) * 60);
    fdt_jw_arr(&j, "groups");
    for (size_t i = 0; i < w->ngroups; i++) {
        const struct fdt_wgroup *g = &w->groups[i];
        fdt_jw_obj(&j, NULL);
        fdt_jw_str(&j, "call", g->g.call);
        fdt_jw_str(&j, "kind", g->g.kind);
        fdt_gjson_stacks(&j, &g->g);
        fdt_jw_arr(&j, "counts");
        for (size_t k = 0; k < w->n; k++)
            fdt_jw_int(&j, NULL, g->counts[k]);
        fdt_jw_end(&j, ']');
        fdt_jw_double(&j, "rate_per_min", g->rate);
        fdt_jw_end(&j, '}');
    }
    fdt_jw_end(&j, ']');
    double eta = fdt_projection(w);
    if (eta < 0)
        fdt_jw_null(&j, "projected_exhaustion_s");
    else
        fdt_jw_double(&j, "projected_exhaustion_s", eta);
    fdt_jw_end(&j, '}');
    if ((f == stdout ? fflush(f) : fclose(f)) != 0) {
        fdt_msg("%s: cannot write the JSON series: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int fdt_watch_plot(const char *path, struct fdt_watch *w, const char *cwd)
{
    size_t ns = 0;
    struct fdt_plot_series series[FDT_WATCH_PLOT_SERIES];
    char *labels[FDT_WATCH_PLOT_SERIES];
    for (size_t i = 0; i < w->ngroups && ns < FDT_WATCH_PLOT_SERIES; i++) {
        if (w->groups[i].counts[w->n - 1] <= 0 && fdt_growth(w, &w->groups[i]) <= 0)
            continue;
        size_t len;
        FILE *m = open_memstream(&labels[ns], &len);
        if (!m)
            break;
        fdt_gprint_origin(m, &w->groups[i].g, cwd);
        fclose(m);
        series[ns].label = labels[ns];
        series[ns].y = w->groups[i].counts;
        ns++;
    }
    char *title = fdt_xasprintf("fdleak watch: process %ld (%s), every snapshot", w->pid, w->exe);
    struct fdt_plot p = {.title = title,
                         .n = w->n,
                         .x = w->x,
                         .total = w->open_fds,
                         .limit = w->limit,
                         .nseries = ns,
                         .series = series};
    int rc = fdt_plot_write(path, &p);
    for (size_t i = 0; i < ns; i++)
        free(labels[i]);
    free(title);
    return rc;
}

static double fdt_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int fdt_cmd_watch(int argc, char **argv)
{
    struct fdt_opts o;
    int first, rc = fdt_opts_parse(&fdt_watch_spec, argc, argv, &o, &first);
    long pid;
    if (rc)
        return rc > 0 ? 0 : FDT_EXIT_USAGE;
    if (fdt_opts_pid("watch", argc, argv, first, &pid))
        return FDT_EXIT_USAGE;
    struct fdt_target t;
    if (fdt_target_open(&t, pid))
        return 1;
    FILE *out = fdt_open_output(&o, stdout);
    if (!out) {
        fdt_target_close(&t);
        return 1;
    }
    /* Ctrl-C ends the watch, not the command: the summary, JSON and plot still come. */
    struct sigaction sa = {.sa_handler = fdt_watch_on_signal}, oint, oterm;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &oint);
    sigaction(SIGTERM, &sa, &oterm);
    char cwdbuf[PATH_MAX];
    const char *cwd = getcwd(cwdbuf, sizeof cwdbuf);
    struct fdt_watch w = {.pid = pid};
    bool failed = false, exited = false;
    double start = fdt_mono();
    while (!fdt_watch_stop && (!o.count || (long)w.n < o.count)) {
        struct fdt_dump *d = fdt_snapshot_take(&t, o.timeout, &exited);
        if (!d) {
            failed = !exited;
            break;
        }
        struct fdt_proc *p = fdt_xcalloc(1, sizeof *p);
        fdt_proc_init(p, d);
        struct fdt_gset s;
        fdt_gset_from_proc(&s, p);
        fdt_watch_add(&w, &s);
        /* the first and the latest are kept whole, for the summary */
        if (w.n == 1) {
            w.first = s;
        } else {
            fdt_gset_free(&w.last);
            w.last = s;
        }
        fdt_watch_table(out, &w, o.interval, cwd);
        fflush(out);
        if (o.count && (long)w.n >= o.count)
            break;
        /* the next snapshot at start + n * interval: the dump's own time does not drift it */
        for (int i = 0; !fdt_watch_stop && i < 100000; i++) {
            double left = start + (double)w.n * o.interval - fdt_mono();
            if (left <= 0)
                break;
            if (fdt_target_wait_exit(&t, left > 1 ? 1000 : (int)(left * 1000) + 1)) {
                exited = true;
                break;
            }
        }
        if (exited)
            break;
    }
    sigaction(SIGINT, &oint, NULL);
    sigaction(SIGTERM, &oterm, NULL);
    fdt_target_close(&t);
    if (exited)
        fprintf(out, "fdleak watch: process %ld exited\n", pid);
    bool grew = false;
    if (w.n >= 2) {
        size_t n;
        const struct fdt_gproc *a = &w.first.procs[0], *b = &w.last.procs[0];
        struct fdt_gdelta *v = fdt_gdiff(a, b, &n);
        fputs("\n", out);
        grew = fdt_gprint_changes(out, a, b, v, n, o.render.max_fds, cwd);
        fdt_gdiff_free(v, n);
    }
    fdt_watch_sort(&w);
    if (w.n && o.json && fdt_watch_json(o.json, &w))
        failed = true;
    if (w.n && o.plot && fdt_watch_plot(o.plot, &w, cwd))
        failed = true;
    if (fdt_close_output(&o, out))
        failed = true;
    (void)start;
    for (size_t i = 0; i < w.ngroups; i++) {
        fdt_ggroup_free(&w.groups[i].g);
        free(w.groups[i].counts);
    }
    free(w.groups);
    if (w.n)
        fdt_gset_free(&w.first);
    if (w.n > 1)
        fdt_gset_free(&w.last);
    free(w.time_ns);
    free(w.open_fds);
    free(w.x);
    free(w.exe);
    if (failed || !w.n)
        return 1;
    return grew && o.error_exitcode > 0 ? o.error_exitcode : 0;
}
