"""The host program's signals under libfdleak.so: every libc entry point that sets a disposition
(tests/cases/hostsig.c), run bare and under the library, must give the same output and the same
wait status. The library's own handlers (fatal signals, the dump signal) stay invisible."""
import signal

import lib
from lib import check, eq

ENTRIES = ("signal", "bsd_signal", "ssignal", "sysv_signal", "__sysv_signal", "sigset",
           "sigaction", "__sigaction")


def _same(args, env=None, want_rc=None):
    """Runs hostsig bare and under the library; same stdout, same status. Returns the run
    under the library and its dumps."""
    exe = lib.fixture("hostsig")
    bare = lib.run_plain([exe] + list(args), env=env)
    res, dumps = lib.run_under_shim([exe] + list(args), env=env)
    what = "hostsig %s" % " ".join(args)
    eq(res.stdout, bare.stdout, "output of %s under the library" % what,
       "--- bare\n" + bare.stdout + "--- stderr under the library\n" + res.stderr[-2000:])
    eq(res.returncode, bare.returncode, "wait status of %s under the library" % what,
       res.describe())
    if want_rc is not None:
        eq(bare.returncode, want_rc, "wait status of %s bare" % what, bare.stdout, bare.stderr)
    return res, dumps


def _handle_and_restore(entry):
    _same([entry, "handle"], want_rc=0)
    res, dumps = _same([entry, "restore"], want_rc=-signal.SIGTERM)
    # SIG_DFL again: our fatal handler is back in charge and reports before dying
    d = lib.one_dump(dumps, "fatal-signal")
    eq(d["signal"], int(signal.SIGTERM), "signal in the dump")


def test_signal():
    _handle_and_restore("signal")


def test_bsd_signal():
    _handle_and_restore("bsd_signal")


def test_ssignal():
    _handle_and_restore("ssignal")


def test_sysv_signal():
    _handle_and_restore("sysv_signal")


def test___sysv_signal():
    _handle_and_restore("__sysv_signal")


def test_sigset():
    _handle_and_restore("sigset")


def test_sigaction():
    _handle_and_restore("sigaction")


def test___sigaction():
    _handle_and_restore("__sigaction")


def test_sigignore():
    _same(["sigignore", "ignore"], want_rc=0)
    _same(["sigignore", "restore"], want_rc=-signal.SIGTERM)


def test_siginterrupt():
    _same(["siginterrupt", "restore"], want_rc=-signal.SIGTERM)
    _same(["siginterrupt", "handle"], want_rc=0)


def test_siginterrupt_then_signal():
    _same(["intr"], want_rc=-signal.SIGTERM)


def test_sigset_hold():
    _same(["hold"], want_rc=-signal.SIGTERM)


def test_raw_rt_sigaction_replaced_our_handler():
    # the program's raw syscall replaced our handler: sigaction must say so, and SIG_DFL must
    # reach the kernel
    _same(["raw", "keep"], want_rc=5)
    _same(["raw", "restore"], want_rc=-signal.SIGTERM)


def test_bad_signal_numbers():
    res, _ = _same(["badsig"], want_rc=0)
    check("-1 sigaction" in res.stdout, "badsig printed nothing", res.stdout)


def test_sigaction_old_is_act():
    _same(["sameptr"], want_rc=-signal.SIGTERM)


def test_sa_resethand():
    _same(["resethand"], want_rc=-signal.SIGTERM)


def test_default_with_flags_reads_back_as_libc_gives_it():
    _same(["dflview"], want_rc=-signal.SIGTERM)


# An 8 KiB alternate stack (SIGSTKSZ) and a 7 KiB one. A handler of ours needs its own kernel
# frame there (~3.5 KiB with AVX-512): at 6 KiB that alone overflows, and nothing the library
# does can help; the report itself must not add to it.
ALTSTACKS = ("8192", "7168")


def test_exit_on_small_altstack():
    # a stack overflow caught by an SA_ONSTACK handler that calls _exit: the exit dump runs
    # from the alternate stack
    for size in ALTSTACKS:
        res, dumps = _same(["altstack_exit", size], want_rc=3)
        lib.one_dump(dumps, "exit")


def test_fatal_signal_on_small_altstack():
    if lib.asan_build():
        raise lib.Skip("ASan's instrumented frames (redzones) do not fit a small alternate stack "
                       "before the switch to ours; the normal and debug builds run this")
    # SIGTERM raised inside an SA_ONSTACK handler: our fatal handler runs on that stack
    for size in ALTSTACKS:
        res, dumps = _same(["altstack_term", size], want_rc=-signal.SIGTERM)
        lib.one_dump(dumps, "fatal-signal")


def test_dump_signal_on_small_altstack():
    if lib.asan_build():
        raise lib.Skip("ASan's instrumented frames (redzones) do not fit a small alternate stack "
                       "before the switch to ours; the normal and debug builds run this")
    sig = str(lib.default_dump_signal())
    exe = lib.fixture("hostsig")
    for size in ALTSTACKS:
        res, dumps = lib.run_under_shim([exe, "altstack_dump", sig, size])
        eq(res.returncode, 0, "exit status", res.describe())
        check("survived" in res.stdout, "the program did not go on", res.describe())
        lib.one_dump(dumps, "signal")


# CPython under the library: the audit hook must be registered with the interpreter's own
# allocator, or -X dev and PYTHONMALLOC=debug abort at exit ("_PyMem_DebugRawFree: bad ID").
PY_MODES = ((["-X", "dev"], None), ([], {"PYTHONMALLOC": "debug"}), ([], None))


def test_python_debug_allocator_exit_status():
    for opts, env in PY_MODES:
        argv = ["/usr/bin/python3"] + opts + ["-c", "pass"]
        bare = lib.run_plain(argv, env=env)
        res, dumps = lib.run_under_shim(argv, env=env)
        what = "%s %s" % (env or "", " ".join(argv))
        eq(res.returncode, bare.returncode, "exit status of %s under the library" % what,
           res.describe())
        eq(res.returncode, 0, "exit status of %s" % what, res.describe())
        check("Fatal Python error" not in res.stderr, "%s aborted" % what, res.stderr[-2000:])
        lib.one_dump(dumps, "exit")


def test_python_first_line_leak_keeps_python_stack():
    script = lib.py_script("first_line_leak.py")
    for opts, env in PY_MODES:
        argv = ["/usr/bin/python3"] + opts + [script]
        what = "%s %s" % (env or "", " ".join(argv))
        bare = lib.run_plain(argv, env=env)
        res, dumps = lib.run_under_shim(argv, env=env)
        eq(res.returncode, bare.returncode, "exit status of %s under the library" % what,
           res.describe())
        eq(res.returncode, 0, "exit status of %s" % what, res.describe())
        fd = lib.fact_fds(res.stdout, "leak", "file")[0]
        d = lib.one_dump(dumps, "exit")
        e = lib.need_fd(d, fd)
        frames = [p for p in d.get("pystacks", []) if p["id"] == e.get("pystack")]
        check(frames, "%s: the leak has no Python stack" % what, e)
        top = frames[0]["frames"][0]
        eq((str(top.get("file", "")).endswith("first_line_leak.py"), top.get("line")), (True, 1),
           "%s: innermost Python frame" % what, frames[0]["frames"])
