/* `fdleak report DUMP...`: renders raw dumps saved earlier (FDLEAK_OUTPUT, or kept by `fdleak run
 * --keep-dumps`), one report per dump. The files are named by the invoking user, so they are
 * read as given; what they contain is checked by the dump reader (dumpfile.c). */
#include "dumpfile.h"
#include "options.h"
#include "util.h"

#include <stdbool.h>
#include <stdlib.h>

static const char fdt_usage_report[] =
    "Usage: fdleak report [OPTIONS] DUMP...\n"
    "Renders raw dumps written by libfdleak.so (FDLEAK_OUTPUT, or kept by 'fdleak run\n"
    "--keep-dumps') on stdout (or -o FILE), one report per dump. Symbols are read from the\n"
    "binaries named in each dump, which must be the same builds (checked by build-id).\n"
    "\n"
    "Options:\n";

static const struct fdt_cmd_spec fdt_report_spec = {
    .name = "report", .usage = fdt_usage_report, .report_fd = 1};

int fdt_cmd_report(int argc, char **argv)
{
    struct fdt_opts o;
    int first, rc = fdt_opts_parse(&fdt_report_spec, argc, argv, &o, &first);
    if (rc)
        return rc > 0 ? 0 : FDT_EXIT_USAGE;
    if (first >= argc) {
        fprintf(stderr, "fdleak report: no dump given (see 'fdleak report --help')\n");
        return FDT_EXIT_USAGE;
    }
    size_t n = 0;
    bool failed = false, leaked = false;
    struct fdt_proc *procs = fdt_xcalloc((size_t)(argc - first), sizeof *procs);
    for (int i = first; i < argc; i++) {
        char err[1024];
        struct fdt_dump *d = fdt_dump_load(argv[i], err, sizeof err);
        if (!d) {
            fdt_msg("%s", err);
            failed = true;
            continue;
        }
        fdt_proc_init(&procs[n], d);
        fdt_supp_apply(o.supp, &procs[n]);
        leaked |= procs[n].leaked > 0 || procs[n].dump->nmisuse > 0; /* misuse fails too */
        n++;
    }
    FILE *out = n ? fdt_open_output(&o, stdout) : NULL;
    if (n && !out)
        failed = true;
    if (out) {
        if (fdt_render_all(&o, out, procs, NULL, n))
            failed = true;
        if (fdt_close_output(&o, out))
            failed = true;
    }
    for (size_t i = 0; i < n; i++)
        fdt_proc_fini(&procs[i]);
    free(procs);
    if (failed)
        return 1;
    return leaked && o.error_exitcode > 0 ? o.error_exitcode : 0;
}
