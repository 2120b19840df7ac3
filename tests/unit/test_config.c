/* Unit tests of the signal parser (common/signame.c) and of the settings (shim/config.c),
 * linked directly. Settings are read from the environment by fdl_config_load, the way the
 * library reads them; what it says about bad values is caught from fd 2. */
#include "fdleak.h"
#include "signame.h"
#include "unit.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

static int parsed(const char *s)
{
    int sig = -12345;
    return fdc_sig_parse(s, &sig) == 0 ? sig : -1;
}

static void test_sig_names(void)
{
    EXPECT_EQ(parsed("USR1"), SIGUSR1);
    EXPECT_EQ(parsed("usr1"), SIGUSR1);
    EXPECT_EQ(parsed("SIGUSR2"), SIGUSR2);
    EXPECT_EQ(parsed("sigUsr2"), SIGUSR2);
    EXPECT_EQ(parsed("Sigterm"), SIGTERM);
    EXPECT_EQ(parsed("WINCH"), SIGWINCH);
    EXPECT_EQ(parsed("sigkill"), SIGKILL);
    EXPECT_EQ(parsed("STKFLT"), SIGSTKFLT);
}

static void test_sig_numbers(void)
{
    EXPECT_EQ(parsed("10"), 10);
    EXPECT_EQ(parsed("1"), 1);
    EXPECT_EQ(parsed("64"), 64);
    EXPECT_EQ(parsed("65"), -1);
    EXPECT_EQ(parsed("-1"), -1);
    EXPECT_EQ(parsed("99999999999"), -1);
    EXPECT_EQ(parsed("0"), 0);
    EXPECT_EQ(parsed("none"), 0);
    EXPECT_EQ(parsed("NONE"), 0);
    EXPECT_EQ(parsed("NoNe"), 0);
}

static void test_sig_realtime(void)
{
    int span = SIGRTMAX - SIGRTMIN;
    char buf[32];
    EXPECT_EQ(parsed("RTMIN"), SIGRTMIN);
    EXPECT_EQ(parsed("rtmax"), SIGRTMAX);
    EXPECT_EQ(parsed("SIGRTMIN+3"), SIGRTMIN + 3);
    EXPECT_EQ(parsed("rtmax-3"), SIGRTMAX - 3);
    EXPECT_EQ(parsed("RTMIN+0"), SIGRTMIN);
    snprintf(buf, sizeof buf, "RTMIN+%d", span);
    EXPECT_EQ(parsed(buf), SIGRTMAX);
    snprintf(buf, sizeof buf, "RTMIN+%d", span + 1);
    EXPECT_EQ(parsed(buf), -1);
    snprintf(buf, sizeof buf, "RTMAX-%d", span);
    EXPECT_EQ(parsed(buf), SIGRTMIN);
    snprintf(buf, sizeof buf, "RTMAX-%d", span + 1);
    EXPECT_EQ(parsed(buf), -1);
    EXPECT_EQ(parsed("RTMIN-1"), -1); /* each counts one way only */
    EXPECT_EQ(parsed("RTMAX+1"), -1);
    EXPECT_EQ(parsed("RTMIN+"), -1);
    EXPECT_EQ(parsed("RTMAX-x"), -1);
    EXPECT_EQ(parsed("RTMIN3"), -1);
}

static void test_sig_garbage(void)
{
    int sig = 77;
    EXPECT_EQ(fdc_sig_parse(NULL, &sig), -1);
    EXPECT_EQ(fdc_sig_parse("", &sig), -1);
    EXPECT_EQ(sig, 77); /* untouched on error */
    EXPECT_EQ(parsed("SIG"), -1);
    EXPECT_EQ(parsed("USR"), -1);
    EXPECT_EQ(parsed("USR1x"), -1);
    EXPECT_EQ(parsed(" USR1"), -1);
    EXPECT_EQ(parsed("USR1 "), -1);
    EXPECT_EQ(parsed("1x"), -1);
    EXPECT_EQ(parsed("SIGSIGUSR1"), -1);
    EXPECT_EQ(parsed("+10"), -1);
    EXPECT_EQ(parsed("nonesuch"), -1);
}

static void test_sig_usable_for_dump(void)
{
    static const int refused[] = {0,       SIGTERM, SIGINT, SIGKILL, SIGSEGV, SIGHUP,
                                  SIGQUIT, SIGABRT, SIGBUS, SIGSTOP, SIGCHLD, SIGPIPE,
                                  SIGALRM, 32,      33,     65,      -1};
    for (unsigned i = 0; i < sizeof refused / sizeof refused[0]; i++)
        EXPECT(!fdc_sig_usable_for_dump(refused[i]));
    static const int usable[] = {SIGUSR1, SIGUSR2, SIGWINCH, SIGPWR, SIGURG};
    for (unsigned i = 0; i < sizeof usable / sizeof usable[0]; i++)
        EXPECT(fdc_sig_usable_for_dump(usable[i]));
    for (int s = SIGRTMIN; s <= SIGRTMAX; s++)
        EXPECT(fdc_sig_usable_for_dump(s));
    EXPECT(fdc_sig_usable_for_dump(fdc_sig_default()));
}

/* Every name printed parses back to its signal (32 and 33, glibc's own, have no name). */
static void test_sig_name_round_trip(void)
{
    char buf[32];
    for (int s = 1; s <= SIGRTMAX; s++) {
        if (s == 32 || s == 33)
            continue;
        fdc_sig_name(s, buf, sizeof buf);
        EXPECT(strncmp(buf, "SIG", 3) == 0);
        if (parsed(buf) != s)
            printf("    %d printed as %s, parsed as %d\n", s, buf, parsed(buf));
        EXPECT_EQ(parsed(buf), s);
    }
    EXPECT(strcmp(fdc_sig_name(99, buf, sizeof buf), "signal 99") == 0);
    EXPECT(strcmp(fdc_sig_name(SIGRTMAX - 3, buf, sizeof buf), "SIGRTMAX-3") == 0);
    EXPECT(strcmp(fdc_sig_name(SIGUSR1, buf, 5), "SIGU") == 0); /* truncated, terminated */
}

/* ---- settings ---- */

static const char *const vars[] = {"FDLEAK_DEPTH",  "FDLEAK_THRESHOLD", "FDLEAK_SIGNAL",
                                   "FDLEAK_EXIT",   "FDLEAK_FATAL",     "FDLEAK_EMFILE",
                                   "FDLEAK_PYTHON", "FDLEAK_OUTPUT",    "FDLEAK_SNAPSHOT_DIR"};
static char said[4096];

/* Loads the settings with only VAR=VAL set (VAL NULL: nothing set); returns the number of
 * "fdleak:" lines written, the text in said. */
static int load(const char *var, const char *val)
{
    for (unsigned i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
    if (var && val)
        setenv(var, val, 1);
    /* One file for every case: the library writes to fd 2 only while it is the file it was
     * at its first message (shim/msg.c), as a daemon's reopened fd 2 must not get reports. */
    static int mfd = -1;
    if (mfd < 0)
        mfd = memfd_create("said", 0);
    int saved = dup(2);
    if (mfd < 0 || saved < 0 || ftruncate(mfd, 0) != 0 || lseek(mfd, 0, SEEK_SET) != 0 ||
        dup2(mfd, 2) < 0) {
        printf("    cannot catch stderr\n");
        unit_case_failed = 1;
        return -1;
    }
    fdl_config_load();
    dup2(saved, 2);
    close(saved);
    ssize_t n = pread(mfd, said, sizeof said - 1, 0);
    said[n > 0 ? n : 0] = 0;
    int lines = 0;
    for (const char *p = said; (p = strstr(p, "fdleak: ")); p++)
        lines++;
    if (var)
        unsetenv(var);
    return lines;
}

#define GOOD(var, val, field, want)                                                                \
    do {                                                                                           \
        EXPECT_EQ(load(var, val), 0);                                                              \
        EXPECT_EQ(fdl_cfg.field, want);                                                            \
    } while (0)

/* A bad value: one line naming the variable and the value, the default kept. */
#define BAD(var, val, field, want)                                                                 \
    do {                                                                                           \
        EXPECT_EQ(load(var, val), 1);                                                              \
        EXPECT_EQ(fdl_cfg.field, want);                                                            \
        EXPECT(strncmp(said, "fdleak: " var "=" val, strlen("fdleak: " var "=" val)) == 0);        \
    } while (0)

static void test_defaults(void)
{
    EXPECT_EQ(load(NULL, NULL), 0);
    EXPECT_EQ(fdl_cfg.depth, FDC_DEPTH_DEFAULT);
    EXPECT_EQ(fdl_cfg.threshold, 0);
    EXPECT_EQ(fdl_cfg.dump_signal, fdc_sig_default());
    EXPECT_EQ(fdl_cfg.on_exit, 1);
    EXPECT_EQ(fdl_cfg.on_fatal, 1);
    EXPECT_EQ(fdl_cfg.on_emfile, 1);
    EXPECT_EQ(fdl_cfg.python, 1);
    EXPECT_EQ(fdl_cfg.output[0], 0);
}

static void test_depth(void)
{
    GOOD("FDLEAK_DEPTH", "1", depth, 1);
    GOOD("FDLEAK_DEPTH", "8", depth, 8);
    GOOD("FDLEAK_DEPTH", "0128", depth, FDC_DEPTH_MAX);
    BAD("FDLEAK_DEPTH", "0", depth, FDC_DEPTH_DEFAULT);
    BAD("FDLEAK_DEPTH", "129", depth, FDC_DEPTH_DEFAULT);
    BAD("FDLEAK_DEPTH", "99999999999999999999", depth, FDC_DEPTH_DEFAULT);
    BAD("FDLEAK_DEPTH", "-4", depth, FDC_DEPTH_DEFAULT);
    BAD("FDLEAK_DEPTH", "16 ", depth, FDC_DEPTH_DEFAULT);
    BAD("FDLEAK_DEPTH", "deep", depth, FDC_DEPTH_DEFAULT);
    BAD("FDLEAK_DEPTH", "", depth, FDC_DEPTH_DEFAULT);
}

/* C frames under a Python stack: 0 (none) is allowed, unlike FDLEAK_DEPTH. */
static void test_py_c_depth(void)
{
    EXPECT_EQ(load(NULL, NULL), 0);
    EXPECT_EQ(fdl_cfg.py_c_depth, FDL_PY_C_DEPTH_DEFAULT);
    GOOD("FDLEAK_PY_C_DEPTH", "0", py_c_depth, 0);
    GOOD("FDLEAK_PY_C_DEPTH", "12", py_c_depth, 12);
    GOOD("FDLEAK_PY_C_DEPTH", "128", py_c_depth, FDC_DEPTH_MAX);
    BAD("FDLEAK_PY_C_DEPTH", "129", py_c_depth, FDL_PY_C_DEPTH_DEFAULT);
    BAD("FDLEAK_PY_C_DEPTH", "-1", py_c_depth, FDL_PY_C_DEPTH_DEFAULT);
    BAD("FDLEAK_PY_C_DEPTH", "short", py_c_depth, FDL_PY_C_DEPTH_DEFAULT);
}

static void test_threshold(void)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    GOOD("FDLEAK_THRESHOLD", "100", threshold, 100);
    GOOD("FDLEAK_THRESHOLD", "1", threshold, 1);
    GOOD("FDLEAK_THRESHOLD", "", threshold, 0);
    GOOD("FDLEAK_THRESHOLD", "50%", threshold, (long)((rl.rlim_cur * 50 + 99) / 100));
    GOOD("FDLEAK_THRESHOLD", "100%", threshold, (long)rl.rlim_cur);
    GOOD("FDLEAK_THRESHOLD", "1%", threshold, (long)((rl.rlim_cur + 99) / 100));
    BAD("FDLEAK_THRESHOLD", "0", threshold, 0);
    BAD("FDLEAK_THRESHOLD", "0%", threshold, 0);
    BAD("FDLEAK_THRESHOLD", "101%", threshold, 0);
    BAD("FDLEAK_THRESHOLD", "%", threshold, 0);
    BAD("FDLEAK_THRESHOLD", "5%%", threshold, 0);
    BAD("FDLEAK_THRESHOLD", "12345678901234567890%", threshold, 0);
    BAD("FDLEAK_THRESHOLD", "many", threshold, 0);
    BAD("FDLEAK_THRESHOLD", "9999999999", threshold, 0);
}

static void test_booleans(void)
{
    static const char *const on[] = {"1", "yes", "on", "true"};
    static const char *const off[] = {"0", "no", "off", "false"};
    for (unsigned i = 0; i < 4; i++) {
        EXPECT_EQ(load("FDLEAK_EXIT", off[i]), 0);
        EXPECT_EQ(fdl_cfg.on_exit, 0);
        EXPECT_EQ(load("FDLEAK_EXIT", on[i]), 0);
        EXPECT_EQ(fdl_cfg.on_exit, 1);
        EXPECT_EQ(load("FDLEAK_PYTHON", off[i]), 0);
        EXPECT_EQ(fdl_cfg.python, 0);
    }
    GOOD("FDLEAK_FATAL", "no", on_fatal, 0);
    GOOD("FDLEAK_EMFILE", "off", on_emfile, 0);
    BAD("FDLEAK_EXIT", "maybe", on_exit, 1);
    BAD("FDLEAK_FATAL", "YES", on_fatal, 1); /* exact words only */
    BAD("FDLEAK_EMFILE", "", on_emfile, 1);
    BAD("FDLEAK_PYTHON", "2", python, 1);
}

static void test_signal_setting(void)
{
    GOOD("FDLEAK_SIGNAL", "usr2", dump_signal, SIGUSR2);
    GOOD("FDLEAK_SIGNAL", "SIGRTMIN+1", dump_signal, SIGRTMIN + 1);
    GOOD("FDLEAK_SIGNAL", "none", dump_signal, 0);
    GOOD("FDLEAK_SIGNAL", "0", dump_signal, 0);
    GOOD("FDLEAK_SIGNAL", "10", dump_signal, SIGUSR1);
    BAD("FDLEAK_SIGNAL", "TERM", dump_signal, fdc_sig_default());
    BAD("FDLEAK_SIGNAL", "SIGINT", dump_signal, fdc_sig_default());
    BAD("FDLEAK_SIGNAL", "kill", dump_signal, fdc_sig_default());
    BAD("FDLEAK_SIGNAL", "9", dump_signal, fdc_sig_default());
    BAD("FDLEAK_SIGNAL", "RTMAX+1", dump_signal, fdc_sig_default());
    BAD("FDLEAK_SIGNAL", "whistle", dump_signal, fdc_sig_default());
    BAD("FDLEAK_SIGNAL", "", dump_signal, fdc_sig_default());
}

int main(void)
{
    RUN(test_sig_names);
    RUN(test_sig_numbers);
    RUN(test_sig_realtime);
    RUN(test_sig_garbage);
    RUN(test_sig_usable_for_dump);
    RUN(test_sig_name_round_trip);
    RUN(test_defaults);
    RUN(test_depth);
    RUN(test_py_c_depth);
    RUN(test_threshold);
    RUN(test_booleans);
    RUN(test_signal_setting);
    return UNIT_RESULT();
}
