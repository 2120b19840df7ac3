/* Configuration: the FDLEAK_* variables (docs/environment.md), read once at start-up because
 * some servers wipe their environment before their workers exit. A bad value costs one
 * "fdleak:" line and falls back to the default; the program always runs. */
#include "fdleak.h"
#include "signame.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

struct fdl_config fdl_cfg;

static void bad(const char *var, const char *val, const char *why, const char *dflt)
{
    char head[256];
    size_t n = 0;
    for (const char *p = var; *p && n < 100; p++)
        head[n++] = *p;
    head[n++] = '=';
    for (const char *p = val; *p && n < 200; p++)
        head[n++] = *p;
    head[n] = 0;
    fdl_msg(head, ": ", why, dflt);
}

/* Decimal integer in [lo, hi], whole string; -1 on error (all our ranges are >= 0). */
static long parse_long(const char *s, long lo, long hi)
{
    if (!s || !*s)
        return -1;
    long v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
        if (v > hi)
            return -1;
    }
    return v < lo ? -1 : v;
}

/* A number setting from lo to hi, else def (range, dflt: the message's words for them). */
static int number(const char *var, long lo, long hi, int def, const char *range, const char *dflt)
{
    const char *v = getenv(var);
    if (!v)
        return def;
    long d = parse_long(v, lo, hi);
    if (d >= 0)
        return (int)d;
    bad(var, v, range, dflt);
    return def;
}

static int parse_bool(const char *var, int dflt)
{
    const char *v = getenv(var);
    if (!v)
        return dflt;
    if (!strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "on") || !strcmp(v, "true"))
        return 1;
    if (!strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "off") || !strcmp(v, "false"))
        return 0;
    bad(var, v, "not 0 or 1; using ", dflt ? "1" : "0");
    return dflt;
}

void fdl_config_load(void)
{
    const char *v;
    struct fdl_config *c = &fdl_cfg;

    c->output[0] = 0;
    if ((v = getenv("FDLEAK_OUTPUT")) && *v) {
        if (strlen(v) >= sizeof(c->output))
            bad("FDLEAK_OUTPUT", "...", "too long; using ", "stderr");
        else
            strcpy(c->output, v);
        /* A relative template names a place relative to where the program started, not to
         * wherever it has chdir()ed by the time it dumps. */
        char cwd[512];
        if (c->output[0] && c->output[0] != '/' && getcwd(cwd, sizeof(cwd)) &&
            strlen(cwd) + 1 + strlen(c->output) < sizeof(c->output)) {
            char rel[sizeof(c->output)];
            strcpy(rel, c->output);
            strcpy(c->output, cwd);
            strcat(c->output, "/");
            strcat(c->output, rel);
        }
    }

    /* Unwinding costs ~7 ns a frame on every acquisition: 16 frames keep an open+close within
     * 10% of its bare cost (32 frames: ~17%) and already go past valgrind's default of 12. */
    c->depth = number("FDLEAK_DEPTH", 1, FDC_DEPTH_MAX, FDC_DEPTH_DEFAULT,
                      "not a number from 1 to 128; using ", "16");

    /* Python frames have their own limit: a walk of the interpreter's frame chain costs a few
     * loads a frame, and standard-library layers (urllib, asyncio) run 20 frames deep. */
    c->py_depth = number("FDLEAK_PY_DEPTH", 1, FDL_PY_DEPTH_MAX, FDL_PY_DEPTH_DEFAULT,
                         "not a number from 1 to 128; using ", "64");

    /* Below a Python line, the C frames up to the interpreter's eval loop (track.c). Each
     * frame unwound costs ~80 instructions on every Python acquisition (callgrind, bench
     * mixed.py: 10 frames put it at 1.031x bare, 8 at 1.029x). Debian's 3.11 reaches the eval
     * loop in 3 frames from os.pipe, 6 from open(), 9 from sqlite3.connect; 8 keeps all of
     * the C extension's frames of these and drops only the outermost call plumbing.
     * 0: no C stack under a Python one. */
    c->py_c_depth = number("FDLEAK_PY_C_DEPTH", 0, FDC_DEPTH_MAX, FDL_PY_C_DEPTH_DEFAULT,
                           "not a number from 0 to 128; using ", "8");

    /* A release keeps where it happened for misuse reports. One frame (the caller of close)
     * costs a cached intern; a deeper release stack is a full unwind per close. */
    c->release_depth = number("FDLEAK_RELEASE_DEPTH", 0, FDC_DEPTH_MAX, 1,
                              "not a number from 0 to 128; using ", "1");
    c->misuse = FDL_MISUSE_REPORT;
    if ((v = getenv("FDLEAK_MISUSE"))) {
        if (!strcmp(v, "report"))
            c->misuse = FDL_MISUSE_REPORT;
        else if (!strcmp(v, "abort"))
            c->misuse = FDL_MISUSE_ABORT;
        else if (!strcmp(v, "off"))
            c->misuse = FDL_MISUSE_OFF;
        else
            bad("FDLEAK_MISUSE", v, "not report, abort or off; using ", "report");
    }
    if (c->misuse == FDL_MISUSE_OFF)
        c->release_depth = 0;

    c->dump_signal = fdc_sig_default();
    if ((v = getenv("FDLEAK_SIGNAL"))) {
        int s;
        if (fdc_sig_parse(v, &s) != 0 || (s != 0 && !fdc_sig_usable_for_dump(s)))
            bad("FDLEAK_SIGNAL", v,
                "not a usable signal (USR1, USR2, RTMIN+N, RTMAX-N, a number, or none); using ",
                FDC_SIGNAL_DEFAULT_NAME);
        else
            c->dump_signal = s;
    }

    c->threshold = 0;
    if ((v = getenv("FDLEAK_THRESHOLD")) && *v) {
        size_t l = strlen(v);
        if (v[l - 1] == '%') {
            char num[16];
            long p = -1;
            if (l - 1 < sizeof(num)) {
                memcpy(num, v, l - 1);
                num[l - 1] = 0;
                p = parse_long(num, 1, 100);
            }
            struct rlimit rl;
            if (p < 0)
                bad("FDLEAK_THRESHOLD", v, "not a count or a percentage from 1% to 100%; using ",
                    "no threshold");
            else if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
                c->threshold = (long)((rl.rlim_cur * (unsigned long)p + 99) / 100);
        } else {
            long n = parse_long(v, 1, 1L << 30);
            if (n < 0)
                bad("FDLEAK_THRESHOLD", v, "not a count or a percentage from 1% to 100%; using ",
                    "no threshold");
            else
                c->threshold = n;
        }
    }

    c->on_exit = parse_bool("FDLEAK_EXIT", 1);
    c->on_fatal = parse_bool("FDLEAK_FATAL", 1);
    c->on_emfile = parse_bool("FDLEAK_EMFILE", 1);
    c->python = parse_bool("FDLEAK_PYTHON", 1);
    c->py_walk = parse_bool("FDLEAK_PY_WALK", 1);
    c->peak = parse_bool("FDLEAK_PEAK", 0);

    /* Empty: /tmp/fdleak-<euid>, named at dump time with the euid of that moment, so that a
     * daemon that dropped privileges writes where `fdleak snapshot` looks for its user. */
    c->snapdir[0] = 0;
    if ((v = getenv("FDLEAK_SNAPSHOT_DIR")) && *v && strlen(v) < sizeof(c->snapdir))
        strcpy(c->snapdir, v);
}
