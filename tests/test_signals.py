"""End-to-end tests of libfdleak.so: signals. Each fixture of tests/cases/ runs under the
library and its raw dumps (docs/dump-format.md) are checked against the facts it printed."""
import os
import signal
import time

import lib
from lib import check, eq
from shimcase import _run, _ok, _exit_dump, _check_leaks

DUMP_SIG = lib.default_dump_signal()


def _fatal(name):
    signum = getattr(signal, "SIG" + name)
    exe, res, dumps = _run("fatal", [name])
    eq(res.returncode, -signum, "wait status (died of SIG%s)" % name, res.describe())
    d = lib.one_dump(dumps, "fatal-signal")
    lib.check_complete(d)
    eq(d["signal"], int(signum), "signal in the dump")
    eq(lib.by_trigger(dumps, "exit"), [], "exit dumps")
    _check_leaks(d, res, exe, {"open": {"func": "leak_before_death", "kind": "file"},
                               "tmpfile": {"kind": "file"}})
    check("survived" not in res.stdout, "the program went on after SIG%s" % name)


def test_fatal_sigterm():
    _fatal("TERM")


def test_fatal_sigint():
    _fatal("INT")


def test_fatal_sighup():
    _fatal("HUP")


def test_fatal_sigquit():
    _fatal("QUIT")


def test_fatal_sigabrt():
    _fatal("ABRT")


def test_fatal_sigsegv():
    _fatal("SEGV")


def test_fatal_sigbus():
    _fatal("BUS")


def test_fatal_sigsegv_in_thread():
    exe, res, dumps = _run("fatal", ["SEGV_THREAD"])
    eq(res.returncode, -signal.SIGSEGV, "wait status (died of SIGSEGV)", res.describe())
    d = lib.one_dump(dumps, "fatal-signal")
    lib.check_complete(d)
    eq(d["signal"], int(signal.SIGSEGV), "signal in the dump")
    e = lib.need_fd(d, lib.fact_fds(res.stdout, "leak")[0])
    lib.need_stack_function(d, e, exe, "leak_before_death")


def test_handled_signal_not_fatal():
    exe, res, dumps = _run("fatal", ["handled"])
    _ok(res)
    check("handled 1" in res.stdout, "the program's own SIGTERM handler did not run",
          res.describe())
    eq(lib.by_trigger(dumps, "fatal-signal"), [], "fatal-signal dumps")
    d = _exit_dump(res)
    _check_leaks(d, res, exe, {"open": {"func": "leak_before_death"}})


def test_ignored_signal_stays_ignored():
    exe, res, dumps = _run("fatal", ["ignored"])
    _ok(res)
    check("ignored" in res.facts("ignored")[0], "the program did not go on", res.describe())
    eq(lib.by_trigger(dumps, "fatal-signal"), [], "fatal-signal dumps for an ignored SIGTERM")
    _exit_dump(res)


def test_handled_sigsegv_not_fatal():
    exe, res, dumps = _run("fatal", ["handled_segv"])
    eq(res.returncode, 7, "exit status from the program's own SIGSEGV handler", res.describe())
    check("caught segv" in res.stdout, "the program's SIGSEGV handler did not run")
    eq(lib.by_trigger(dumps, "fatal-signal"), [], "fatal-signal dumps for a handled SIGSEGV")


def _signal_dump_once(env, sig, output=None, outdir=None):
    exe = lib.fixture("simple")
    proc, outdir = lib.spawn_under_shim([exe, "wait"], env=env, outdir=outdir, output=output)
    seen = []
    try:
        seen = lib.wait_line(proc.stdout, "ready", lines=True)
        os.kill(proc.pid, sig)
        # the dump signal is handled asynchronously: wait (bounded) for the file
        for _ in range(200):
            try:
                dumps, _ = lib.read_dumps(outdir)
            except lib.TestFailure:  # a dump being written: complete only when it ends `}\n`
                dumps = []
            if lib.by_trigger(dumps, "signal"):
                break
            time.sleep(0.025)
        out, err = proc.communicate("go\n", timeout=lib.TIMEOUT)
    finally:
        lib.kill_group(proc)
        proc.wait(timeout=lib.TIMEOUT)
    return proc.returncode, "".join(seen) + out, err, lib.read_dumps(outdir)[0]


def test_dump_signal_default():
    rc, out, err, dumps = _signal_dump_once(None, DUMP_SIG)
    eq(rc, 0, "exit status after the dump signal", err)
    d = lib.one_dump(dumps, "signal")
    lib.check_complete(d)
    eq(d["signal"], DUMP_SIG, "signal of the on-demand dump")
    fd = lib.fact_fds(out, "leak")[0]
    eq(lib.need_fd(d, fd)["call"], "open", "call of the leak in the on-demand dump")
    lib.one_dump(dumps, "exit")


def test_dump_signal_setting_usr1():
    rc, out, err, dumps = _signal_dump_once({"FDLEAK_SIGNAL": "USR1"}, signal.SIGUSR1)
    eq(rc, 0, "exit status after SIGUSR1 with FDLEAK_SIGNAL=USR1", err)
    d = lib.one_dump(dumps, "signal")
    eq(d["signal"], int(signal.SIGUSR1), "signal of the on-demand dump")


def test_dump_signal_none():
    exe = lib.fixture("simple")
    proc, outdir = lib.spawn_under_shim([exe, "wait"], env={"FDLEAK_SIGNAL": "none"})
    try:
        lib.wait_line(proc.stdout, "ready")
        os.kill(proc.pid, DUMP_SIG)
        proc.communicate(timeout=lib.TIMEOUT)
    finally:
        lib.kill_group(proc)
        proc.wait(timeout=lib.TIMEOUT)
    eq(proc.returncode, -DUMP_SIG, "the default dump signal with FDLEAK_SIGNAL=none keeps its default action")
    dumps, _ = lib.read_dumps(outdir)
    eq(lib.by_trigger(dumps, "signal"), [], "on-demand dumps with FDLEAK_SIGNAL=none")


def test_signal_storm():
    exe = lib.fixture("storm")
    proc, outdir = lib.spawn_under_shim([exe])
    sent = 0
    seen = []
    try:
        seen = lib.wait_line(proc.stdout, "ready", lines=True)
        pid = int(seen[-1].split()[1])
        for _ in range(300):
            os.kill(pid, DUMP_SIG)
            sent += 1
            time.sleep(0.002)
        out, err = proc.communicate("stop\n", timeout=90)
        out = "".join(seen) + out
    finally:
        lib.kill_group(proc)
        proc.wait(timeout=lib.TIMEOUT)
    eq(proc.returncode, 0, "exit status after %d dump signals" % sent, err[-2000:])
    dumps, files = lib.read_dumps(outdir)  # raises on any truncated or invalid dump
    sig = lib.by_trigger(dumps, "signal")
    check(len(sig) >= 1, "no on-demand dump after %d signals" % sent)
    for d in sig:
        lib.check_complete(d)
        eq(d["signal"], DUMP_SIG, "signal of on-demand dump %s" % d["_file"])
    seqs = sorted(d["seq"] for d in dumps)
    eq(seqs, list(range(1, len(dumps) + 1)), "dump sequence numbers")
    d = lib.one_dump(dumps, "exit")
    lib.check_complete(d)
    leaked = lib.fact_fds(out, "leak")
    eq(sorted(e["fd"] for e in lib.leaks(d)), sorted(leaked), "tracked fds at exit",
       lib.brief(d))
