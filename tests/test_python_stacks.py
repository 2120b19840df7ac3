"""Python stacks read from the interpreter's frame chain (shim/python.c): every acquisition a
Python thread makes carries the script's own line, whatever the call (tests/py/pystacks/: one
leaking script per call, its leak line marked `# LEAK`, and a clean control), on Debian's
CPython and on any other 3.11 found on PATH."""
import functools
import json
import os
import re
import shutil
import subprocess

import lib
from lib import check, eq

DIR = os.path.join(lib.TESTS, "py", "pystacks")
LIBRARY = re.compile(r"^<frozen |/site-packages/|/dist-packages/|/lib(64)?/python")


@functools.lru_cache(maxsize=None)
def _interpreters():
    """Debian's python3, and another CPython 3.11 on PATH (pyenv) if there is one."""
    found = ["/usr/bin/python3"]
    other = shutil.which("python3")
    if other:
        r = subprocess.run([other, "-c", "import sys; print(sys.executable, sys.version_info[:2])"],
                           capture_output=True, text=True, timeout=lib.TIMEOUT)
        exe = r.stdout.split(" ", 1)[0]
        if r.returncode == 0 and "(3, 11)" in r.stdout and \
                os.path.realpath(exe) != os.path.realpath("/usr/bin/python3"):
            found.append(exe)
    return found


def _leak_lines(script):
    with open(os.path.join(DIR, script)) as f:
        return [i for i, l in enumerate(f, 1) if l.rstrip().endswith("# LEAK")]


def _leak_line(script):
    return _leak_lines(script)[0]


def _args(script, work):
    if script == "leak_mmap.py":
        path = os.path.join(work, "m")
        with open(path, "wb") as f:
            f.write(b"x" * 4096)
        return [path]
    if script == "leak_sqlite.py":
        return [os.path.join(work, "db")]
    if script == "clean_all.py":
        return [work]
    return []


def _user_frame(frames):
    """The innermost frame outside the standard library and installed packages."""
    for f in frames:
        if not LIBRARY.search(f["file"]):
            return f
    return None


def _run(script, python, env=None):
    """Runs a corpus script under the library: its exit dump and the leaked records, each
    with its Python frames."""
    work = lib.new_tmpdir()
    path = os.path.join(DIR, script)
    res, dumps = lib.run_under_shim([python, path] + _args(script, work), env=env)
    eq(res.returncode, 0, "exit status of %s" % script, res.stderr[-2000:])
    mine = [d for d in dumps if d.get("trigger") == "exit" and path in d.get("cmdline", [])]
    eq(len(mine), 1, "exit dumps of %s" % script, [(d["pid"], d["cmdline"]) for d in dumps])
    d = mine[0]
    stacks = {p["id"]: p for p in d.get("pystacks", [])}
    leaked = []
    for e in lib.leaks(d):
        p = stacks.get(e.get("pystack"), {"frames": []})
        leaked.append((e, p))
    return d, leaked


def _check_corpus(script):
    lines = _leak_lines(script)
    path = os.path.join(DIR, script)
    for python in _interpreters():
        d, leaked = _run(script, python)
        at = [(e, p) for e, p in leaked if (_user_frame(p["frames"]) or {}).get("file") == path]
        check(at, "%s under %s: no leak with a Python stack reaching the script" % (script, python),
              [(e["fd"], e["call"], e.get("pystack")) for e, _ in leaked])
        for e, p in at:
            u = _user_frame(p["frames"])
            check(u["line"] in lines, "%s under %s: the script's line of fd %d (%s) is %d, not %s"
                  % (script, python, e["fd"], e["call"], u["line"], lines), p["frames"])
        eq(sorted({_user_frame(p["frames"])["line"] for _, p in at}), lines,
           "%s under %s: leak lines reported" % (script, python))


def test_pipe():
    _check_corpus("leak_pipe.py")


def test_dup():
    _check_corpus("leak_dup.py")


def test_eventfd():
    _check_corpus("leak_eventfd.py")


def test_openpty():
    _check_corpus("leak_openpty.py")


def test_epoll():
    _check_corpus("leak_epoll.py")


def test_mmap():
    _check_corpus("leak_mmap.py")


def test_popen_pipe():
    _check_corpus("leak_popen.py")


def test_multiprocessing_pipe():
    _check_corpus("leak_mp_pipe.py")


def test_sqlite():
    _check_corpus("leak_sqlite.py")


def test_ctypes_call():
    _check_corpus("leak_ctypes.py")


def test_threads_generator_coroutine():
    """Threads (each its own frame chain), a generator's frame and a coroutine's (frames that
    live in heap objects, not on the thread's data stack)."""
    _check_corpus("leak_threads.py")


def test_socketpair_after_closed_one():
    """Issue 8 item 2: two socketpairs made and closed at other lines, then the leaked one: both
    of its ends at its own line (the audit event of an earlier one must not lend its stack)."""
    _check_corpus("leak_socketpair.py")
    d, leaked = _run("leak_socketpair.py", "/usr/bin/python3")
    eq(sorted(e["call"] for e, _ in leaked), ["socketpair", "socketpair"], "leaked records")


def test_clean_control():
    for python in _interpreters():
        d, leaked = _run("clean_all.py", python)
        path = os.path.join(DIR, "clean_all.py")
        mine = [(e["fd"], e["call"], p["frames"]) for e, p in leaked
                if any(f["file"] == path for f in p["frames"])]
        eq(mine, [], "leaks reported for the clean control under %s" % python)


def test_deep_stack_keeps_and_marks_the_script_line():
    """30 frames in a library (a site-packages directory), under the script: all 32 frames
    kept, none dropped, and the text report marks the script's line."""
    line = _leak_line("leak_deep.py")
    path = os.path.join(DIR, "leak_deep.py")
    d, leaked = _run("leak_deep.py", "/usr/bin/python3")
    check(leaked, "no leak")
    for e, p in leaked:
        eq(len(p["frames"]), 32, "frames of fd %d" % e["fd"])
        check("truncated" not in p, "frames dropped: %r" % p.get("truncated"))
        eq((_user_frame(p["frames"])["file"], _user_frame(p["frames"])["line"]), (path, line),
           "the script's frame")
    r = subprocess.run([lib.tool(), "run", "--", "/usr/bin/python3", path], cwd=lib.ROOT,
                       env=lib.tool_env(), capture_output=True, text=True, timeout=lib.TIMEOUT)
    eq(r.returncode, 0, "fdleak run", r.stderr[-2000:])
    marked = [l for l in r.stderr.splitlines() if re.search(r"==\d+==\s+> ", l)]
    eq(len(marked), 1, "marked lines", r.stderr)
    check(marked[0].endswith("tests/py/pystacks/leak_deep.py:%d in main" % line), marked[0])


def test_depth_limit_counts_dropped_frames():
    """FDLEAK_PY_DEPTH=5: five frames kept, the 27 others counted in the raw dump, in the JSON
    report (pystack_truncated) and in the text report."""
    path = os.path.join(DIR, "leak_deep.py")
    d, leaked = _run("leak_deep.py", "/usr/bin/python3", env={"FDLEAK_PY_DEPTH": "5"})
    check(leaked, "no leak")
    for e, p in leaked:
        eq((len(p["frames"]), p.get("truncated")), (5, 27), "frames kept and dropped")
    j = os.path.join(lib.new_tmpdir(), "r.json")
    r = subprocess.run([lib.tool(), "run", "--json", j, "--", "/usr/bin/python3", path],
                       cwd=lib.ROOT, env=lib.tool_env({"FDLEAK_PY_DEPTH": "5"}),
                       capture_output=True, text=True, timeout=lib.TIMEOUT)
    eq(r.returncode, 0, "fdleak run", r.stderr[-2000:])
    check("... 27 more frames (FDLEAK_PY_DEPTH)" in r.stderr, "text report", r.stderr)
    groups = json.load(open(j))["processes"][0]["groups"]
    eq([(len(g["pystack"]), g.get("pystack_truncated")) for g in groups if g["kind"] == "pipe"],
       [(5, 27)], "JSON report groups")


def test_audit_hook_fallback():
    """FDLEAK_PY_WALK=0: the audit hook, as on a CPython whose layout is not known. open()
    still gets its Python stack; os.pipe() raises no event: a C stack only."""
    d, leaked = _run("leak_popen.py", "/usr/bin/python3", env={"FDLEAK_PY_WALK": "0"})
    check(leaked, "no leak")
    for e, p in leaked:
        eq(e.get("pystack"), 0, "pystack of a pipe with the audit hook")
        check(e["stack"], "no C stack")
    d, leaked = _run("leak_sqlite.py", "/usr/bin/python3", env={"FDLEAK_PY_WALK": "0"})
    check(leaked, "no leak")
    d, leaked = _run("../first_line_leak.py", "/usr/bin/python3", env={"FDLEAK_PY_WALK": "0"})
    frames = [p["frames"] for e, p in leaked if p["frames"]]
    eq([(f[0]["function"], f[0]["line"]) for f in frames], [("<module>", 1)], "open() leak")


def test_no_python_stacks_when_off():
    d, leaked = _run("leak_pipe.py", "/usr/bin/python3", env={"FDLEAK_PYTHON": "0"})
    check(leaked, "no leak")
    for e, p in leaked:
        eq(e.get("pystack"), 0, "pystack with FDLEAK_PYTHON=0")
        check(e["stack"], "no C stack with FDLEAK_PYTHON=0")


def test_daemon_threads_during_finalization():
    """Daemon threads churning pipes and files while the interpreter finalizes: the process
    exits normally, with its exit dump, every time (the walk stops at finalization)."""
    path = os.path.join(DIR, "daemon_exit.py")
    for python in _interpreters():
        for _ in range(8):
            res, dumps = lib.run_under_shim([python, path])
            eq(res.returncode, 0, "exit status under %s" % python, res.stderr[-2000:])
            eq(len([d for d in dumps if d.get("trigger") == "exit"]), 1, "exit dumps")
