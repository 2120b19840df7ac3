"""Helpers shared by the end-to-end tests of libfdleak.so (tests/test_*.py): running a fixture
of tests/cases/ under the library and checking its exit dump against the facts it printed."""
import os

import lib
from lib import check, eq

KINDS = {"file", "directory", "pipe", "socket", "eventfd", "epoll", "timerfd", "signalfd",
         "inotify", "fanotify", "memfd", "pty", "shm", "mqueue", "pidfd", "unknown"}
OPEN_FAMILY = {"open", "open64", "openat", "openat64", "__open_2", "__open64_2", "__openat_2",
               "__openat64_2"}


def _data_dir():
    d = lib.new_tmpdir("fdleak-data-")
    for name, text in (("f", "hello\n"), ("g", "world\n")):
        with open(os.path.join(d, name), "w") as fh:
            fh.write(text)
    return d


def _run(name, args=(), **kw):
    exe = lib.fixture(name)
    res, dumps = lib.run_under_shim([exe] + list(args), **kw)
    res.exe = exe
    return exe, res, dumps


def _ok(res, rc=0):
    eq(res.returncode, rc, "exit status", res.describe())


def _exit_dump(res, pid=None):
    """The exit dump of the program: of pid, else of the pid the program printed (`pid N`),
    else of the only process whose exe is the fixture that ran."""
    dumps = res.dumps
    if pid is None and res.facts("pid"):
        pid = int(res.facts("pid")[0][1])
    if pid is None and getattr(res, "exe", None):
        real = os.path.realpath(res.exe)
        dumps = [d for d in dumps if os.path.realpath(d.get("exe", "")) == real]
    d = lib.one_dump(dumps, "exit", pid)
    lib.check_complete(d)
    return d


def _simple_leak_only(args):
    """Runs the `simple` fixture in a mode and checks its exit dump holds exactly its one leak,
    acquired by open() in simple_leak(). Returns (result, exit dump)."""
    exe, res, dumps = _run("simple", args)
    _ok(res)
    d = _exit_dump(res)
    _check_leaks(d, res, exe, {"open": {"func": "simple_leak"}})
    return res, d


def _check_leaks(d, res, exe, spec=None, exact=True, extra_tracked=()):
    """Every `leak <label> <fd> [extras]` line must be a tracked fd of the expected call, kind,
    path and cloexec (ground truth from `fdflags`), with the named function on its stack; every
    `closed` fd not reused must be absent; with exact, no other fd is tracked."""
    spec = spec or {}
    flags = {int(w[1]): w[2] == "1" for w in res.facts("fdflags")}
    leaked = {}
    for w in res.facts("leak", "replaced"):
        label, fd, extra = w[1], int(w[2]), w[3:]
        leaked[fd] = label
        s = spec.get(label, {})
        e = lib.need_fd(d, fd)
        where = "fd %d (%s %s)" % (fd, w[0], label)
        eq(e["origin"], "tracked", "origin of " + where, lib.brief(d))
        calls = s.get("calls", {label})
        check(e["call"] in calls, "call of %s: expected one of %s, got %r" % (
            where, sorted(calls), e["call"]))
        kind = s.get("kind") or next((x for x in extra if x in KINDS), None)
        if kind:
            eq(e["kind"], kind, "kind of " + where)
        paths = [x for x in extra if x.startswith("/") or x == "f"]
        if paths and s.get("path", True):
            eq(e["path"], paths[0], "path of " + where)
        for x in extra:
            if x.startswith("unix:"):
                eq(e.get("local"), x, "local address of " + where)
        if fd in flags:
            eq(e["cloexec"], flags[fd], "cloexec of %s (fcntl F_GETFD says %s)" % (
                where, flags[fd]))
        if "cloexec" in extra:
            eq(e["cloexec"], True, "cloexec of " + where)
        check(e.get("tid", 0) > 0, "tid of %s is %r" % (where, e.get("tid")))
        func = s.get("func")
        if func:
            lib.need_stack_function(d, e, exe, func)
    for w in res.facts("closed"):
        fd = int(w[2])
        if fd not in leaked:
            e = lib.fd_entry(d, fd)
            check(e is None, "fd %d closed by %s is still in the dump: %s" % (fd, w[1], e))
    if exact:
        tracked = {e["fd"] for e in lib.leaks(d)}
        want = set(leaked) | set(extra_tracked)
        eq(sorted(tracked), sorted(want), "tracked fds", lib.brief(d))
    return leaked
