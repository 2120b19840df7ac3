/* The fdleak command's entry point: picks the command (run, snapshot, report, diff, watch: one file
 * each, cmd_*.c) and answers --help and --version. Options are parsed by options.c. */
#include "options.h"

#include <stdio.h>
#include <string.h>

static const char fdt_usage_main[] =
    "Usage: fdleak COMMAND [OPTIONS] ...\n"
    "Finds file-descriptor leaks: which call, from which line, opened each descriptor a\n"
    "process still holds.\n"
    "\n"
    "Commands:\n"
    "  run [OPTIONS] -- CMD [ARGS...]   run CMD under fdleak and report its leaks at the end\n"
    "  snapshot [OPTIONS] PID            report what a live process under fdleak holds now\n"
    "  report [OPTIONS] DUMP...          render raw dumps saved earlier (FDLEAK_OUTPUT)\n"
    "  diff [OPTIONS] OLD NEW            which groups grew between two dumps or reports\n"
    "  watch [OPTIONS] PID               snapshot PID every interval: what grows, how fast\n"
    "\n"
    "'fdleak COMMAND --help' describes each command. See also fdleak(1) and README.md.\n";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(fdt_usage_main, stderr);
        return FDT_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "run"))
        return fdt_cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "snapshot"))
        return fdt_cmd_snapshot(argc - 1, argv + 1);
    if (!strcmp(cmd, "report"))
        return fdt_cmd_report(argc - 1, argv + 1);
    if (!strcmp(cmd, "diff"))
        return fdt_cmd_diff(argc - 1, argv + 1);
    if (!strcmp(cmd, "watch"))
        return fdt_cmd_watch(argc - 1, argv + 1);
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        fputs(fdt_usage_main, stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("fdleak %s\n", FDT_VERSION);
        return 0;
    }
    fprintf(stderr,
            "fdleak: unknown command '%s' (expected run, snapshot, report, diff or watch; see "
            "'fdleak --help')\n",
            cmd);
    return FDT_EXIT_USAGE;
}
