"""End-to-end tests of libfdleak.so: processes. Each fixture of tests/cases/ runs under the
library and its raw dumps (docs/dump-format.md) are checked against the facts it printed."""
import os

import lib
from lib import check, eq
from shimcase import _data_dir, _run, _ok, _exit_dump, _check_leaks


def _fork(mode):
    path = os.path.join(_data_dir(), "f")
    exe, res, dumps = _run("forkcase", [mode, path])
    _ok(res)
    ppid = int(res.facts("parent")[0][2])
    child = {w[1]: int(w[2]) for w in res.facts("child")}
    pd = _exit_dump(res, ppid)
    cd = _exit_dump(res, child["pid"])
    eq(cd["ppid"], ppid, "ppid in the child's dump")
    eq(len(dumps), 2, "dumps (parent and child)")
    a = int(res.facts("both")[0][2])
    for dd, who in ((pd, "parent"), (cd, "child")):
        e = lib.need_fd(dd, a)
        eq(e["call"], "open", "call of fd %d in the %s" % (a, who))
        lib.need_stack_function(dd, e, exe, "parent_open")
    c = child["closed"]
    e = lib.need_fd(pd, c)
    lib.need_stack_function(pd, e, exe, "parent_open")
    dfd = child["open"]
    e = lib.need_fd(cd, dfd)
    lib.need_stack_function(cd, e, exe, "child_open")
    check(not lib.stack_has_function(cd, e, exe, "parent_open"),
          "child's fd %d kept the parent's record" % dfd)
    if dfd != c:
        check(lib.fd_entry(cd, c) is None, "fd %d closed in the child still in its dump" % c)
        check(lib.fd_entry(pd, dfd) is None, "child's fd %d in the parent's dump" % dfd)
    # what came from the parent is the child's inheritance, acquisition kept (issue 8)
    eq(lib.need_fd(cd, a)["origin"], "inherited", "origin of the parent's fd %d in the child" % a)
    eq(sorted(e["fd"] for e in lib.leaks(cd)), [dfd], "child's tracked fds")
    eq(sorted(e["fd"] for e in lib.leaks(pd)), sorted({a, c}), "parent's tracked fds")


def test_fork_child_dumps_exit():
    _fork("exit")


def test_fork_child_dumps__exit():
    _fork("_exit")


def _vfork(mode):
    path = os.path.join(_data_dir(), "f")
    exe, res, dumps = _run("vforkcase", [mode, path])
    _ok(res)
    child = int(res.facts("child")[0][2])
    parent = [d for d in dumps if d["pid"] != child]
    check(parent, "no dump from the parent")
    d = lib.one_dump(parent, "exit")
    lib.check_complete(d)
    _check_leaks(d, res, exe, {"open": {"func": "parent_open", "kind": "file"}})
    check(lib.fd_entry(d, 30) is None, "vfork child's dup2 onto 30 shows in the parent")
    a, b = lib.fact_fds(res.stdout, "leak")[:2]
    for cd in dumps:
        if cd["pid"] != child:
            continue
        lib.check_complete(cd)
        if os.path.realpath(cd["exe"]) == os.path.realpath(exe):
            # the vfork child wrote its own dump: it must show its own table, not the parent's
            check(lib.fd_entry(cd, a) is None and lib.fd_entry(cd, b) is None,
                  "vfork child's dump lists fds it closed", lib.brief(cd))
            e = lib.need_fd(cd, 30)
            eq(e["call"], "dup2", "call of fd 30 in the vfork child's dump")
        else:
            eq(lib.leaks(cd), [], "tracked fds in the exec'd child's dump")
            eq(lib.need_fd(cd, 30)["origin"], "inherited", "origin of fd 30 after exec")
    return dumps, child


def test_vfork_child_does_not_corrupt_parent():
    _vfork("plain")


def test_vfork_exec():
    dumps, child = _vfork("exec")
    cds = [d for d in dumps if d["pid"] == child]
    eq(len(cds), 1, "dumps of the exec'd /bin/true")
    check(cds[0]["exe"].endswith("/true"), "exe of the exec'd child: %r" % cds[0]["exe"])


def test_exec_after_fork_labels_inherited():
    path = os.path.join(_data_dir(), "f")
    exe, res, dumps = _run("execcase", ["fork", path])
    _ok(res)
    pre = {w[1]: int(w[2]) for w in res.facts("pre")}
    post = {w[1]: int(w[2]) for w in res.facts("exec")}
    pd = _exit_dump(res, pre["pid"])
    cd = _exit_dump(res, post["pid"])
    e = lib.need_fd(pd, pre["inheritable"])
    eq(e["origin"], "tracked", "origin in the parent")
    lib.need_stack_function(pd, e, exe, "open_before_exec")
    e = lib.need_fd(cd, pre["inheritable"])
    eq(e["origin"], "inherited", "origin of fd %d after exec" % pre["inheritable"])
    if pre["cloexec"] != post["leak"]:
        check(lib.fd_entry(cd, pre["cloexec"]) is None, "O_CLOEXEC fd survived exec in the dump")
    e = lib.need_fd(cd, post["leak"])
    eq(e["origin"], "tracked", "origin of the exec'd program's own fd")
    lib.need_stack_function(cd, e, exe, "open_after_exec")
    eq([e["fd"] for e in lib.leaks(cd)], [post["leak"]], "tracked fds after exec")


def test_exec_direct_starts_fresh():
    path = os.path.join(_data_dir(), "f")
    exe, res, dumps = _run("execcase", ["direct", path])
    _ok(res)
    pre = {w[1]: int(w[2]) for w in res.facts("pre")}
    post = {w[1]: int(w[2]) for w in res.facts("exec")}
    eq(pre["pid"], post["pid"], "pid across exec")
    eq(len(dumps), 1, "dumps (exec without exit writes none for the old image)")
    d = _exit_dump(res)
    eq(lib.need_fd(d, pre["inheritable"])["origin"], "inherited", "origin after exec")
    eq([e["fd"] for e in lib.leaks(d)], [post["leak"]], "tracked fds after exec")


def test_threads_consistent():
    exe, res, _ = _run("threads", timeout=60)
    _ok(res)
    d = _exit_dump(res)
    _check_leaks(d, res, exe, {"open": {"func": "thread_leak", "kind": "file"}})
    tids = set()
    for w in res.facts("leak"):
        e = lib.need_fd(d, int(w[2]))
        eq(e["tid"], int(w[3]), "tid of fd %s" % w[2])
        tids.add(e["tid"])
    eq(len(tids), 8, "distinct acquiring threads")
    eq(len({e["stack"] for e in lib.leaks(d)}), 1, "distinct stacks of 24 leaks from one site")
    eq(len(lib.leaks(d)), 24, "leaks")
    st = d["stats"]
    check(st["acquired"] - st["released"] >= 24, "stats acquired-released < leaks: %s" % st)
