/* `fdleak diff OLD NEW`: what grew between two moments of the same process. OLD and NEW are
 * raw dumps or --json reports (growth.c reads either), read through safefile.c; groups are
 * matched by origin (growth.h), never by address or stack id, so a snapshot diffs against a
 * report of a later `fdleak run`, or a dump symbolized on another day. */
#include "contract.h"
#include "growth.h"
#include "json.h"
#include "options.h"
#include "safefile.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char fdt_usage_diff[] =
    "Usage: fdleak diff [OPTIONS] OLD NEW\n"
    "Compares two dumps or --json reports of the same process (from snapshot, report, run):\n"
    "the groups that grew first, largest growth first, then new groups, then shrunk and gone\n"
    "ones, with the descriptors that are new in NEW. Groups are matched by call, kind and\n"
    "stack (function, file and line; module+offset without symbols; Python frames).\n"
    "--error-exitcode=N exits with N when a group grew or appeared.\n"
    "\n"
    "Options:\n";

static const struct fdt_cmd_spec fdt_diff_spec = {
    .name = "diff", .usage = fdt_usage_diff, .report_fd = 1};

static const char *const fdt_class_name[] = {"grew", "new", "shrunk", "gone"};

static void fdt_diff_json_proc(struct fdt_jw *w, const struct fdt_gproc *a,
                               const struct fdt_gproc *b, const struct fdt_gdelta *v, size_t n)
{
    fdt_jw_obj(w, NULL);
    fdt_jw_int(w, "pid", b->pid);
    fdt_jw_str(w, "exe", b->exe);
    const struct fdt_gproc *side[2] = {a, b};
    for (int s = 0; s < 2; s++) {
        fdt_jw_obj(w, s ? "after" : "before");
        fdt_jw_int(w, "pid", side[s]->pid);
        fdt_jw_int(w, "time_realtime_ns", side[s]->time_ns);
        fdt_jw_int(w, "open_fds", side[s]->open_fds);
        fdt_jw_int(w, "limit_nofile", side[s]->limit_nofile);
        fdt_jw_end(w, '}');
    }
    fdt_jw_arr(w, "groups");
    for (size_t i = 0; i < n; i++) {
        const struct fdt_gdelta *d = &v[i];
        const struct fdt_ggroup *g = d->after ? d->after : d->before;
        fdt_jw_obj(w, NULL);
        fdt_jw_str(w, "change", fdt_class_name[d->cls]);
        fdt_jw_int(w, "delta", d->delta);
        fdt_jw_int(w, "before", d->before ? (int64_t)d->before->count : 0);
        fdt_jw_int(w, "after", d->after ? (int64_t)d->after->count : 0);
        fdt_jw_str(w, "call", g->call);
        fdt_jw_str(w, "kind", g->kind);
        fdt_gjson_stacks(w, g);
        fdt_jw_arr(w, "new_fds");
        for (size_t k = 0; k < d->nnew; k++)
            fdt_jw_int(w, NULL, d->after->fds[d->new_fds[k]].fd);
        fdt_jw_end(w, ']');
        fdt_jw_end(w, '}');
    }
    fdt_jw_end(w, ']');
    fdt_jw_end(w, '}');
}

/* The process of `from` that `p` is compared with: the same pid, or the only one of each. */
static const struct fdt_gproc *fdt_pair(const struct fdt_gset *from, const struct fdt_gset *to,
                                        const struct fdt_gproc *p)
{
    for (size_t i = 0; i < from->nprocs; i++)
        if (from->procs[i].pid == p->pid)
            return &from->procs[i];
    return from->nprocs == 1 && to->nprocs == 1 ? &from->procs[0] : NULL;
}

int fdt_cmd_diff(int argc, char **argv)
{
    struct fdt_opts o;
    int first, rc = fdt_opts_parse(&fdt_diff_spec, argc, argv, &o, &first);
    if (rc)
        return rc > 0 ? 0 : FDT_EXIT_USAGE;
    if (first != argc - 2) {
        fprintf(stderr, "fdleak diff: expected two files, OLD and NEW (see 'fdleak diff "
                        "--help')\n");
        return FDT_EXIT_USAGE;
    }
    struct fdt_gset s[2];
    char err[2048], esc[2048];
    for (int i = 0; i < 2; i++) {
        if (fdt_gset_load(argv[first + i], &s[i], err, sizeof err)) {
            fdt_msg("%s", fdt_escape(err, esc, sizeof esc));
            if (i)
                fdt_gset_free(&s[0]);
            return 1;
        }
    }
    char cwdbuf[PATH_MAX];
    const char *cwd = getcwd(cwdbuf, sizeof cwdbuf);
    FILE *out = fdt_open_output(&o, stdout);
    FILE *jf = NULL;
    struct fdt_jw w;
    bool failed = !out, grew = false;
    if (out && o.json) {
        jf = !strcmp(o.json, "-") ? stdout : fopen(o.json, "we");
        if (!jf) {
            fdt_msg("%s: %s", o.json, strerror(errno));
            failed = true;
        } else {
            fdt_jw_init(&w, jf);
            fdt_jw_obj(&w, NULL);
            fdt_jw_str(&w, "format", FDC_DIFF_FORMAT);
            fdt_jw_int(&w, "version", FDC_DIFF_VERSION);
            fdt_jw_arr(&w, "processes");
        }
    }
    size_t paired = 0;
    for (size_t i = 0; out && !failed && i < s[1].nprocs; i++) {
        const struct fdt_gproc *b = &s[1].procs[i], *a = fdt_pair(&s[0], &s[1], b);
        if (!a) {
            fdt_msg("process %ld of %s is not in %s; not compared", b->pid,
                    fdt_escape(argv[first + 1], esc, sizeof esc), argv[first]);
            continue;
        }
        if (a->pid != b->pid)
            fdt_msg("%s is process %ld, %s is process %ld; compared anyway",
                    fdt_escape(argv[first], esc, sizeof esc), a->pid, argv[first + 1], b->pid);
        if (a->time_ns > b->time_ns)
            fdt_msg("OLD was taken after NEW (process %ld): the growth shown is negative time",
                    b->pid);
        size_t n;
        struct fdt_gdelta *v = fdt_gdiff(a, b, &n);
        if (paired++)
            fputc('\n', out);
        grew |= fdt_gprint_changes(out, a, b, v, n, o.render.max_fds, cwd);
        if (jf)
            fdt_diff_json_proc(&w, a, b, v, n);
        fdt_gdiff_free(v, n);
    }
    if (!failed && !paired)
        fdt_msg("no process of %s is in %s: nothing to compare",
                fdt_escape(argv[first + 1], esc, sizeof esc), argv[first]);
    if (jf) {
        fdt_jw_end(&w, ']');
        fdt_jw_end(&w, '}');
        if ((jf == stdout ? fflush(jf) : fclose(jf)) != 0) {
            fdt_msg("%s: cannot write the JSON diff: %s", o.json, strerror(errno));
            failed = true;
        }
    }
    if (out && fdt_close_output(&o, out))
        failed = true;
    fdt_gset_free(&s[0]);
    fdt_gset_free(&s[1]);
    if (failed || !paired)
        return 1;
    return grew && o.error_exitcode > 0 ? o.error_exitcode : 0;
}
