"""End-to-end tests of libfdleak.so: exhaustion and thresholds. Each fixture of tests/cases/ runs under the
library and its raw dumps (docs/dump-format.md) are checked against the facts it printed."""
import lib
from lib import check, eq
from shimcase import _run, _ok, _exit_dump, _check_leaks


# The library keeps no descriptor in reserve: a dump file written at the soft limit needs a
# little room under the hard limit (soft == hard: the report goes to stderr, test_host_dump.py).
ROOM = (64, 128)


def test_emfile_dump_once():
    exe, res, dumps = _run("emfile", ["once"], ulimit_n=ROOM)
    _ok(res)
    em = lib.by_trigger(dumps, "emfile")
    eq(len(em), 1, "emfile dumps while the program keeps hitting EMFILE")
    d = em[0]
    lib.check_complete(d)
    eq(d["trigger_call"], "open", "trigger_call")
    eq(d["trigger_errno"], 24, "trigger_errno")
    eq(d["limit_nofile"], 64, "limit_nofile")
    check(d["trigger_stack"] != 0, "trigger_stack is 0")
    check(lib.stack_ips(d, d["trigger_stack"]), "trigger_stack %d not in stacks" %
          d["trigger_stack"])
    lib.need_stack_function(d, d["trigger_stack"], exe, "exhaust")
    eq(int(res.facts("emfile_failures")[0][1]), 200, "calls failing with EMFILE")
    opened = int(res.facts("opened")[0][1])
    check(len(lib.leaks(d)) >= opened, "emfile dump lists %d tracked fds, program holds %d" % (
        len(lib.leaks(d)), opened))
    x = _exit_dump(res)
    _check_leaks(x, res, exe, {"open": {"func": "exhaust"}})
    eq(len({e["stack"] for e in lib.leaks(x)}), 1, "distinct stacks of leaks from one site")


def test_emfile_rearmed_after_drop():
    exe, res, dumps = _run("emfile", ["rearm"], ulimit_n=ROOM)
    _ok(res)
    em = lib.by_trigger(dumps, "emfile")
    eq(len(em), 2, "emfile dumps (exhausted, closed all, exhausted again)")
    for d in em:
        lib.check_complete(d)
        eq(d["trigger_call"], "open", "trigger_call")


def _threshold(args, env, ulimit_n=None):
    exe, res, dumps = _run("threshold", args, env=env, ulimit_n=ulimit_n)
    _ok(res)
    th = lib.by_trigger(dumps, "threshold")
    for d in th:
        lib.check_complete(d)
        eq(d["trigger_call"], "open", "trigger_call of threshold dump")
        check(d["trigger_stack"] != 0, "trigger_stack of threshold dump is 0")
        lib.need_stack_function(d, d["trigger_stack"], exe, "climb")
        n = d["threshold"]
        check(n <= len(d["fds"]) <= n + 3, "threshold %d dump lists %d fds" % (n, len(d["fds"])))
    _check_leaks(_exit_dump(res), res, exe, {"open": {"func": "climb"}})
    return th


def test_threshold_once():
    th = _threshold(["up", "25"], {"FDLEAK_THRESHOLD": "20"})
    eq(len(th), 1, "threshold dumps for one crossing")
    eq(th[0]["threshold"], 20, "threshold")


def test_threshold_twice():
    th = _threshold(["twice", "25", "5"], {"FDLEAK_THRESHOLD": "20"})
    eq(len(th), 2, "threshold dumps for two crossings with a drop between")


def test_threshold_percent():
    th = _threshold(["up", "40"], {"FDLEAK_THRESHOLD": "50%"}, ulimit_n=64)
    eq(len(th), 1, "threshold dumps for FDLEAK_THRESHOLD=50% at RLIMIT_NOFILE 64")
    eq(th[0]["threshold"], 32, "threshold for 50% of 64")
