"""Descriptor misuse (issue 9): double close, bad fds, use after close, closing what a FILE* or
DIR* owns. tests/cases/misuse.c runs one scenario per argument; every call whose result
matters prints `ret <what> <value> <errno>`, compared with a bare run (the host is unchanged),
and the exit dump's "misuse" array is checked, then the command's text and JSON reports."""
import json
import os

import lib
from lib import check, eq
from shimcase import _run, _ok, _exit_dump


def _scenario(mode, **kw):
    exe, res, _ = _run("misuse", [mode], **kw)
    _ok(res)
    bare = lib.run_plain([exe, mode])
    eq(res.facts("ret"), lib.facts(bare.stdout, "ret"), "call results, bare vs library")
    return res, _exit_dump(res)


def _events(d, kind=None):
    return [m for m in d.get("misuse", []) if kind is None or m["kind"] == kind]


def _fd(res):
    return int(res.facts("fd")[0][1])


def test_double_close():
    res, d = _scenario("close_twice")
    ev = _events(d)
    eq(len(ev), 1, "events", d.get("misuse"))
    e = ev[0]
    eq((e["kind"], e["fd"], e["call"], e["closed_call"], e["acquired_call"], e["count"]),
       ("double_close", _fd(res), "close", "close", "creat", 1), "event")
    check(e["stack"] and e["closed_stack"] and e["acquired_stack"], "three stacks", e)
    eq(d["stats"]["misuse"], 1, "stats.misuse")
    eq(d["stats"]["misuse_dropped"], 0, "stats.misuse_dropped")
    exe = lib.fixture("misuse")
    check(lib.stack_has_function(d, e["stack"], exe, "closefile"), "stack names closefile")
    check(lib.stack_has_function(d, e["acquired_stack"], exe, "openfile"),
          "acquired stack names openfile")


def test_double_close_text_report_of_the_library():
    exe, res, _ = _run("misuse", ["close_twice"], output=False)
    _ok(res)
    pid = int(res.facts("pid")[0][1])
    fd = _fd(res)
    err = res.stderr
    p = "==%d== " % pid
    for want in ("double close of fd %d" % fd, " previously closed by close()",
                 " acquired by creat()", "   at misuse+0x"):
        check(want in err, "library text lacks %r" % want, err[-3000:])
    check(p + "double close of fd %d" % fd in err, "line prefix", err[-3000:])


def test_double_close_command_reports():
    exe = lib.fixture("misuse")
    outdir = lib.new_outdir()
    jpath = os.path.join(outdir, "report.json")
    r = lib.run_tool(["run", "--json=" + jpath, "--error-exitcode=7", "--", exe,
                      "close_twice"], timeout=120)
    eq(r.returncode, 7, "--error-exitcode on misuse", r.stderr[-3000:])
    for want in ("double close of fd", "at closefile (tests/cases/misuse.c:",
                 "previously closed by close()", "acquired by creat()",
                 "at openfile (tests/cases/misuse.c:"):
        check(want in r.stderr, "fdleak run text lacks %r" % want, r.stderr[-3000:])
    with open(jpath) as f:
        rep = json.load(f)
    procs = [p for p in rep["processes"] if p.get("misuse")]
    eq(len(procs), 1, "processes with misuse")
    m = procs[0]["misuse"][0]
    eq(sorted(m), sorted(["kind", "fd", "call", "count", "stack", "closed_call", "closed_stack",
                          "acquired_call", "acquired_stack", "acquired_pystack", "owner",
                          "pystack"]), "misuse keys")
    eq((m["pystack"], m["acquired_pystack"]), ([], []), "Python stacks (a C program: none)")
    eq((m["kind"], m["call"], m["closed_call"], m["acquired_call"], m["owner"]),
       ("double_close", "close", "close", "creat", ""), "misuse fields")
    check(any(f.get("function") == "closefile" for f in m["stack"]), "stack frames", m)
    eq(procs[0]["stats"]["misuse"], 1, "report stats.misuse")


def test_fclose_after_close_of_fileno():
    res, d = _scenario("fclose_after_close")
    fd = _fd(res)
    own = _events(d, "owned_close")
    eq([(e["fd"], e["call"], e["owner"], e["acquired_call"]) for e in own],
       [(fd, "close", "FILE", "fopen")], "owned_close")
    dbl = _events(d, "double_close")
    eq([(e["fd"], e["call"], e["closed_call"], e["acquired_call"]) for e in dbl],
       [(fd, "fclose", "close", "fopen")], "double close by fclose")


def test_closedir_after_close_of_dirfd():
    res, d = _scenario("closedir_after_close")
    fd = _fd(res)
    eq([(e["kind"], e["fd"], e["call"], e["owner"]) for e in _events(d)],
       [("owned_close", fd, "close", "DIR"), ("double_close", fd, "closedir", "")], "events")


def test_dup2_onto_a_streams_fd():
    res, d = _scenario("dup2_onto_file")
    fd = _fd(res)
    eq([(e["kind"], e["fd"], e["call"], e["owner"]) for e in _events(d)],
       [("owned_close", fd, "dup2", "FILE"), ("double_close", fd, "fclose", "")], "events")
    eq(_events(d, "double_close")[0]["closed_call"], "dup2", "closed by dup2")


def test_bounded_close_range_twice():
    res, d = _scenario("range_twice")
    fds = [int(w[1]) for w in res.facts("fd")]
    ev = _events(d)
    eq(sorted(e["fd"] for e in ev), sorted(fds), "numbers reported (never the never-open ones)")
    for e in ev:
        eq((e["kind"], e["call"], e["closed_call"], e["acquired_call"]),
           ("double_close", "close_range", "close_range", "open"), "event")


def test_bad_fds():
    res, d = _scenario("bad")
    eq(sorted((e["fd"], e["call"]) for e in _events(d, "bad_fd")),
       sorted([(-1, "close"), (-1, "fcntl"), (-5, "dup2"), (900, "close")]), "bad_fd events")
    eq(len(_events(d)), 4, "no other events")
    for e in _events(d):
        eq((e["closed_call"], e["acquired_call"]), ("", ""), "no history for a bad fd")


def test_use_after_close():
    res, d = _scenario("use_after_close")
    fd = _fd(res)
    eq(sorted((e["kind"], e["fd"], e["call"], e["closed_call"]) for e in _events(d)),
       [("use_after_close", fd, "dup", "close"), ("use_after_close", fd, "fcntl", "close")],
       "events")


def test_inherited_closed_twice():
    # the number os.open gives, passed on: a dup2 onto a fixed number here would close a
    # descriptor of this runner (a pipe of a Popen still referenced), which then closes a
    # later test's pipe in its place (seen: EBADF in another test's communicate())
    fd = os.open("/dev/null", os.O_RDONLY)
    try:
        exe, res, _ = _run("misuse", ["inherited_twice", str(fd)], pass_fds=(fd,))
    finally:
        os.close(fd)
    _ok(res)
    d = _exit_dump(res)
    eq([(e["kind"], e["fd"], e["closed_call"], e["acquired_call"], e["acquired_stack"])
        for e in _events(d)], [("double_close", fd, "close", "", 0)], "events")


def test_identical_events_merge():
    res, d = _scenario("repeat")
    ev = _events(d, "double_close")
    eq(len(ev), 1, "merged events", d.get("misuse"))
    eq(ev[0]["count"], 5, "count")


def test_negative_controls_stay_silent():
    for mode in ("silent", "threads"):
        res, d = _scenario(mode)
        eq(_events(d), [], "misuse events in %s" % mode)
        eq(d["stats"]["misuse"], 0, "stats.misuse in %s" % mode)


def test_forked_child_reports_in_its_own_entry():
    exe, res, dumps = _run("misuse", ["fork"])
    _ok(res)
    parent = int(res.facts("pid")[0][1])
    child = int(res.facts("child")[0][1])
    eq(_events(_exit_dump(res, parent)), [], "parent's events")
    ev = _events(_exit_dump(res, child))
    eq([(e["kind"], e["call"], e["closed_call"]) for e in ev],
       [("double_close", "close", "close")], "child's events")


def test_misuse_off_and_abort():
    exe, res, _ = _run("misuse", ["close_twice"], env={"FDLEAK_MISUSE": "off"})
    _ok(res)
    eq(_events(_exit_dump(res)), [], "events with FDLEAK_MISUSE=off")
    exe, res, _ = _run("misuse", ["close_twice"], env={"FDLEAK_MISUSE": "abort"},
                       output=False)
    check(res.returncode != 0, "FDLEAK_MISUSE=abort did not abort", res.describe())
    check("double close of fd" in res.stderr and "aborting" in res.stderr,
          "abort message", res.stderr[-3000:])


def test_misuse_without_leaks_still_reported_by_the_library():
    exe, res, _ = _run("misuse", ["bad"], output=False)
    _ok(res)
    check("bad fd -1 passed to close()" in res.stderr, "report printed", res.stderr[-3000:])


def test_use_after_close_by_the_calls_that_use_a_descriptor():
    res, d = _scenario("use_io")
    fd, sock, target = (int(res.facts(w)[0][1]) for w in ("fd", "sock", "target"))
    exe = lib.fixture("misuse")
    want = sorted([(fd, c, "open") for c in ("read", "write", "fstat", "lseek", "mmap")] +
                  [(sock, c, "socketpair") for c in ("send", "recv")] +
                  [(target, "epoll_ctl", "open")])
    ev = _events(d)
    eq(sorted((e["fd"], e["call"], e["acquired_call"]) for e in ev), want, "events")
    user = {"read": "use_file", "write": "use_file", "fstat": "use_file", "lseek": "use_file",
            "mmap": "use_file", "send": "use_socket", "recv": "use_socket",
            "epoll_ctl": "use_epoll"}
    for e in ev:
        eq((e["kind"], e["closed_call"], e["count"]), ("use_after_close", "close", 1), "event", e)
        check(lib.stack_has_function(d, e["stack"], exe, user[e["call"]]),
              "stack names %s" % user[e["call"]], e)
        check(lib.stack_has_function(d, e["closed_stack"], exe, "close_it"),
              "closed stack names close_it", e)
        check(e["call"] == "send" or e["call"] == "recv" or
              lib.stack_has_function(d, e["acquired_stack"], exe, "open_rw"),
              "acquired stack names open_rw", e)
        check(e["acquired_stack"], "acquired stack", e)
    rets = dict((f[1], f[2:]) for f in res.facts("ret") if f[1] != "close")
    eq(rets, {c: ["-1", "9"] for c in user}, "every use failed with EBADF (as bare)")

def test_bad_fd_by_read_and_write():
    res, d = _scenario("bad_io")
    eq(sorted((e["kind"], e["fd"], e["call"], e["closed_call"]) for e in _events(d)),
       [("bad_fd", 900, "read", ""), ("bad_fd", 901, "write", "")], "events")
    eq([tuple(f[1:]) for f in res.facts("ret")],
       [("read", "-1", "9"), ("write", "-1", "9")], "results as bare: -1 EBADF")
