"""End-to-end tests of libfdleak.so: origins. Each fixture of tests/cases/ runs under the
library and its raw dumps (docs/dump-format.md) are checked against the facts it printed."""
import os

import lib
from lib import check, eq
from shimcase import _data_dir, _run, _ok, _exit_dump, _check_leaks


def test_unknown_origin():
    path = os.path.join(_data_dir(), "f")
    exe, res, _ = _run("unknown", [path])
    _ok(res)
    d = _exit_dump(res)
    _check_leaks(d, res, exe, {"open": {"kind": "file", "path": True}})
    n = 0
    for w in res.facts("unknown"):
        e = lib.need_fd(d, int(w[2]))
        eq(e["origin"], "unknown", "origin of fd %s opened by %s" % (w[2], w[1]))
        eq(e["call"], "", "call of unknown fd %s" % w[2])
        if w[1] == "syscall":
            eq(e["target"], os.path.realpath(path), "target of unknown fd %s" % w[2])
        n += 1
    check(n >= 1, "no unknown fd printed")


def test_inherited_across_exec():
    path = os.path.join(_data_dir(), "f")
    outdir = lib.new_outdir()
    exe = lib.fixture("inherited")
    env = {"FIXTURE_PRELOAD": lib.preload_value(),
           "FDLEAK_OUTPUT": os.path.join(outdir, "d.%p.%n.json")}
    if lib.asan_build():
        env["ASAN_OPTIONS"] = lib.ASAN_OPTIONS
    proc = lib.run_plain([exe, "parent", path], env=env)
    eq(proc.returncode, 0, "exit status", proc.stdout + proc.stderr)
    res = lib.Result(proc, *lib.read_dumps(outdir)[:1], outdir, [])
    child_pid = int(res.facts("pid")[0][1])
    d = _exit_dump(res, child_pid)
    for w in res.facts("inherited"):
        e = lib.need_fd(d, int(w[2]))
        eq(e["origin"], "inherited", "origin of inherited %s fd %s" % (w[1], w[2]))
        eq(e["call"], "", "call of inherited fd %s" % w[2])
        eq((e["tid"], e["age_ms"], e["stack"]), (0, 0, 0), "tid, age_ms, stack of inherited fd")
        if w[1] == "file":
            eq(e["target"], os.path.realpath(path), "target of inherited fd %s" % w[2])
    for fd in (0, 1, 2):
        eq(lib.need_fd(d, fd)["origin"], "inherited", "origin of fd %d" % fd)
    _check_leaks(d, res, exe, {"open": {"func": "child_leak", "kind": "file"}})


def test_inherited_pass_fds():
    exe = lib.fixture("simple")
    r, w = os.pipe()
    try:
        res, _ = lib.run_under_shim([exe], pass_fds=(r, w))
    finally:
        os.close(r)
        os.close(w)
    _ok(res)
    d = _exit_dump(res)
    for fd in (r, w):
        e = lib.need_fd(d, fd)
        eq(e["origin"], "inherited", "origin of passed fd %d" % fd)
    _check_leaks(d, res, exe, {"open": {"func": "simple_leak"}})


def test_stdio_not_leaks():
    exe, res, _ = _run("simple")
    _ok(res)
    d = _exit_dump(res)
    for fd in (0, 1, 2):
        e = lib.need_fd(d, fd)
        eq(e["origin"], "inherited", "origin of fd %d" % fd)
    check(all(e["fd"] > 2 for e in lib.leaks(d)), "stdio reported as leaks: %s" % lib.brief(d))


def _stdin_replaced(mode, call, func):
    path = os.path.join(_data_dir(), "f")
    exe, res, _ = _run("stdio_replace", [mode, path])
    _ok(res)
    d = _exit_dump(res)
    e = lib.need_fd(d, 0)
    # fds 0-2 are never a leak (issue 8): listed as inherited, with the replacing call kept
    eq(e["origin"], "inherited", "origin of replaced stdin")
    eq(e["call"], call, "call kept for replaced stdin")
    lib.need_stack_function(d, e, exe, func)
    for fd in (1, 2):
        eq(lib.need_fd(d, fd)["origin"], "inherited", "origin of fd %d" % fd)
    eq(sorted(e["fd"] for e in lib.leaks(d)),
       sorted(int(w[2]) for w in res.facts("leak") if int(w[2]) > 2), "tracked fds", lib.brief(d))


def test_stdin_replaced_by_dup2():
    _stdin_replaced("dup2", "dup2", "replace_stdin")


def test_stdin_replaced_by_freopen():
    _stdin_replaced("freopen", "freopen", "replace_stdin_freopen")


def test_stdin_closed_and_reopened():
    _stdin_replaced("reopen", "open", "reopen_stdin")


def test_wrapper_before_constructor():
    exe, res, _ = _run("ctor_before_shim")
    _ok(res)
    d = _exit_dump(res)
    _check_leaks(d, res, exe, {"open": {"kind": "file"}})
    fd = lib.fact_fds(res.stdout, "leak")[0]
    e = lib.need_fd(d, fd)
    if e["stack"]:
        so = os.path.join(lib.build_dir(), "tests", "libctoropen.so")
        lib.need_stack_function(d, e, so, "ctoropen_acquire")
