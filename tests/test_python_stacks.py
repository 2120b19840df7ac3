"""Python stacks read from the interpreter's frame chain (shim/python.c): every acquisition a
Python thread makes carries the script's own line, whatever the call (tests/py/pystacks/: one
leaking script per call, its leak line marked `# LEAK`, and a clean control), on Debian's
CPython and on any other 3.11 found on PATH."""
import functools
import glob
import json
import os
import re
import shutil
import subprocess

import lib
from lib import check, eq

DIR = os.path.join(lib.TESTS, "py", "pystacks")
LIBRARY = re.compile(r"^<frozen |/site-packages/|/dist-packages/|/lib(64)?/python")


PYENV = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
VERSIONS = [(3, v) for v in range(8, 14)]  # the CPythons the walk knows


def _version_of(exe):
    try:
        r = subprocess.run([exe, "-c", "import sys; print(sys.executable, *sys.version_info[:2])"],
                           capture_output=True, text=True, timeout=lib.TIMEOUT)
    except OSError:
        return None, None
    parts = r.stdout.split()
    if r.returncode or len(parts) != 3:
        return None, None
    return parts[0], (int(parts[1]), int(parts[2]))


@functools.lru_cache(maxsize=None)
def _interpreters_versions():
    """(path, (major, minor)) of every CPython 3.8-3.13 to test with: Debian's python3 (a
    static build), the python3 on PATH, and each pyenv version installed (shared builds)."""
    cands = ["/usr/bin/python3", shutil.which("python3") or ""]
    cands += sorted(glob.glob(os.path.join(PYENV, "versions", "*", "bin", "python3")))
    found, seen = [], set()
    for c in cands:
        exe, ver = _version_of(c) if c else (None, None)
        if exe and ver in VERSIONS and os.path.realpath(exe) not in seen:
            seen.add(os.path.realpath(exe))
            found.append((exe, ver))
    return found


def _interpreters(script=None):
    """The interpreters for a corpus script: those at least as new as its `# requires 3.N`."""
    need = (3, 0)
    if script:
        with open(os.path.join(DIR, script)) as f:
            m = re.search(r"^# requires 3\.(\d+)$", f.read(), re.M)
        need = (3, int(m.group(1))) if m else need
    return [exe for exe, ver in _interpreters_versions() if ver >= need]


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
    for python in _interpreters(script):
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
    for python in _interpreters("leak_deep.py"):
        d, leaked = _run("leak_deep.py", python)
        check(leaked, "no leak under %s" % python)
        for e, p in leaked:
            eq(len(p["frames"]), 32, "frames of fd %d under %s" % (e["fd"], python))
            check("truncated" not in p, "frames dropped: %r" % p.get("truncated"))
            eq((_user_frame(p["frames"])["file"], _user_frame(p["frames"])["line"]),
               (path, line), "the script's frame")
        r = subprocess.run([lib.tool(), "run", "--", python, path], cwd=lib.ROOT,
                           env=lib.tool_env(), capture_output=True, text=True,
                           timeout=lib.TIMEOUT)
        eq(r.returncode, 0, "fdleak run", r.stderr[-2000:])
        marked = [l for l in r.stderr.splitlines() if re.search(r"==\d+==\s+> ", l)]
        eq(len(marked), 1, "marked lines under %s" % python, r.stderr)
        check(marked[0].endswith("tests/py/pystacks/leak_deep.py:%d in main" % line), marked[0])
        # named first, above the 32-frame stack (issue 8 item 3: found at a glance)
        first = re.search(r"==\d+==    program line: (\S+) in main\n==\d+==    Python stack:\n",
                          r.stderr)
        check(first and first.group(1).endswith("tests/py/pystacks/leak_deep.py:%d" % line),
              "the program's line above the Python stack under %s" % python, r.stderr)
    # not when the innermost frame is already the program's
    r = subprocess.run([lib.tool(), "run", "--", "/usr/bin/python3", os.path.join(DIR, "leak_pipe.py")],
                       cwd=lib.ROOT, env=lib.tool_env(), capture_output=True, text=True,
                       timeout=lib.TIMEOUT)
    check("Python stack:" in r.stderr and "program line:" not in r.stderr,
          "a program line repeated for leak_pipe.py", r.stderr)


def test_depth_limit_counts_dropped_frames():
    """FDLEAK_PY_DEPTH=5: five frames kept, the 27 others counted in the raw dump, in the JSON
    report (pystack_truncated) and in the text report."""
    path = os.path.join(DIR, "leak_deep.py")
    for python in _interpreters("leak_deep.py"):
        d, leaked = _run("leak_deep.py", python, env={"FDLEAK_PY_DEPTH": "5"})
        check(leaked, "no leak under %s" % python)
        for e, p in leaked:
            eq((len(p["frames"]), p.get("truncated")), (5, 27),
               "frames kept and dropped under %s" % python)
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
    still gets its Python stack (3.9+: 3.8 lacks the frame accessors the hook uses, and gets
    C stacks only); os.pipe() raises no event: a C stack only."""
    for python, ver in _interpreters_versions():
        d, leaked = _run("leak_popen.py", python, env={"FDLEAK_PY_WALK": "0"})
        check(leaked, "no leak under %s" % python)
        for e, p in leaked:
            eq(e.get("pystack"), 0, "pystack of a pipe with the audit hook under %s" % python)
            check(e["stack"], "no C stack")
        d, leaked = _run("leak_sqlite.py", python, env={"FDLEAK_PY_WALK": "0"})
        check(leaked, "no leak")
        d, leaked = _run("../first_line_leak.py", python, env={"FDLEAK_PY_WALK": "0"})
        frames = [p["frames"] for e, p in leaked if p["frames"]]
        want = [("<module>", 1)] if ver >= (3, 9) else []
        eq([(f[0]["function"], f[0]["line"]) for f in frames], want,
           "open() leak under %s" % python)
        check(leaked, "no leak of open() under %s" % python)


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


def _include_dir(python):
    """The CPython's header directory, if its internal headers are installed."""
    r = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['include'])"],
                       capture_output=True, text=True, timeout=lib.TIMEOUT)
    inc = r.stdout.strip()
    ok = r.returncode == 0 and os.path.isdir(os.path.join(inc, "internal"))
    return inc if ok else None


def test_layouts_match_each_cpythons_headers():
    """shim/pylayout.h against the headers of every CPython installed with its internal
    headers: each field offset the walk reads is the one the version's own structs have."""
    src = os.path.join(lib.TESTS, "py", "pylayout_check.c")
    done, without = [], []
    for python, ver in _interpreters_versions():
        inc = _include_dir(python)
        if not inc:
            without.append(python)
            continue
        exe = os.path.join(lib.new_tmpdir(), "pylayout_check")
        r = subprocess.run(["cc", "-w", "-I", inc, "-I", os.path.join(inc, "internal"), src,
                            "-o", exe], capture_output=True, text=True, timeout=120)
        eq(r.returncode, 0, "compiling the layout check against %s" % inc, r.stderr[-3000:])
        r = subprocess.run([exe], capture_output=True, text=True, timeout=lib.TIMEOUT)
        check(r.returncode == 0 and "unit: all passed" in r.stdout,
              "layout of CPython %d.%d (%s)" % (ver + (python,)), r.stdout[-3000:])
        done.append(ver)
    if not done:
        raise lib.Skip("no CPython with its internal headers installed (%s)" % without)


def test_every_known_version_present():
    """Which of CPython 3.8-3.13 this machine lets the tests run (Debian 12 ships 3.11; pyenv
    builds the others): a SKIP names the versions whose walk went untested here."""
    have = {ver for _, ver in _interpreters_versions()}
    missing = ["%d.%d" % v for v in VERSIONS if v not in have]
    if missing:
        raise lib.Skip("CPython %s not installed: their Python stacks were not tested here"
                       % ", ".join(missing))


def test_python_called_from_c():
    """map(), sorted(key=) and a class call run Python from C: the leak lines, and the chain
    goes on through the interpreter's entry frames to the script's outer lines."""
    _check_corpus("leak_callback.py")
    path = os.path.join(DIR, "leak_callback.py")
    with open(path) as f:
        bottom = [i for i, l in enumerate(f, 1) if l.startswith("kept = main()")][0]
    for python in _interpreters("leak_callback.py"):
        d, leaked = _run("leak_callback.py", python)
        for e, p in leaked:
            mine = [(f["function"], f["line"]) for f in p["frames"] if f["file"] == path]
            eq([fn for fn, _ in mine[-2:]], ["main", "<module>"],
               "under %s fd %d: the script's outer frames" % (python, e["fd"]), p["frames"])
            eq(mine[-1][1], bottom, "the line of kept = main()")


def _libpython(python):
    """The shared libpython of an interpreter, and its prefix; None for a static build."""
    r = subprocess.run([python, "-c", "import sys, sysconfig; v = sysconfig.get_config_var; "
                        "print(v('LIBDIR'), v('INSTSONAME') or '', sys.prefix)"],
                       capture_output=True, text=True, timeout=lib.TIMEOUT)
    parts = r.stdout.split()
    if r.returncode or len(parts) != 3:
        return None, None
    path = os.path.join(parts[0], parts[1])
    return (path, parts[2]) if parts[1].startswith("libpython") and os.path.isfile(path) \
        else (None, None)


def test_embedded_interpreter_loaded_with_dlopen():
    """A C program that dlopen()s libpython (RTLD_LOCAL, as vim's dynamic Python does) and
    runs a snippet: the leak has the snippet's Python stack, though CPython's symbols were
    never in the global scope at start-up."""
    if lib.asan_build():
        raise lib.Skip("the sanitizer build does not interpose dlsym, where an embedded "
                       "interpreter is found")
    done = 0
    for python, ver in _interpreters_versions():
        so, prefix = _libpython(python)
        if not so:
            continue
        res, dumps = lib.run_under_shim([lib.fixture("embed_python"), so],
                                        env={"PYTHONHOME": prefix})
        eq(res.returncode, 0, "embed_python with %s" % so, res.stderr[-2000:])
        d = [d for d in dumps if d.get("trigger") == "exit"][0]
        stacks = {p["id"]: p["frames"] for p in d.get("pystacks", [])}
        got = [[(f["file"], f["function"], f["line"]) for f in stacks.get(e.get("pystack"), [])]
               for e in lib.leaks(d)]
        eq(got, [[("<string>", "make", 3), ("<string>", "<module>", 4)]] * 2,
           "Python stacks of the two leaked pipe ends, CPython %d.%d" % ver, lib.leaks(d))
        # the C stack cut at the eval loop, found through the same handle: a few frames
        # (os_pipe_impl up to PyObject_Vectorcall), not the full depth down to main()
        for e in lib.leaks(d):
            n = len(lib.stack_ips(d, e["stack"]))
            check(0 < n < 8, "C frames under the Python stack, CPython %d.%d: %d" % (ver + (n,)))
        done += 1
    if not done:
        raise lib.Skip("no shared libpython installed (pyenv builds one)")


# ---- C stacks under Python stacks (issue 8): the native frames from the call up to CPython's
# eval loop, kept with the Python stack. Each case runs a real script under `fdleak run` on
# both builds here: Debian's static /usr/bin/python3 and pyenv's shared-libpython 3.11.7.

CDIR = os.path.join(lib.TESTS, "py", "cstacks")
PYENV_PYTHON = "/root/.pyenv/versions/3.11.7/bin/python3"


def _both_builds():
    return ["/usr/bin/python3"] + ([PYENV_PYTHON] if os.path.exists(PYENV_PYTHON) else [])


def _cstack_run(script, python, args=(), env=None):
    """`fdleak run --json` on a script of tests/py/cstacks: (text report, the script's process
    in the JSON report, the script's path, its `# LEAK` line)."""
    path = os.path.join(CDIR, script)
    with open(path) as f:
        line = [i for i, l in enumerate(f, 1) if l.rstrip().endswith("# LEAK")][0]
    j = os.path.join(lib.new_tmpdir(), "r.json")
    r = lib.run_tool(["run", "--json", j, "--", python, path] + list(args),
                     env=lib.tool_env(env))
    check(r.returncode == 0, "fdleak run on %s under %s: status %d" % (script, python,
                                                                        r.returncode),
          r.stderr[-3000:])
    with open(j) as f:
        procs = [p for p in json.load(f)["processes"] if path in p.get("cmdline", [])]
    eq(len(procs), 1, "reported processes of %s" % script, r.stderr[-3000:])
    return r.stderr, procs[0], path, line


def _group_at(proc, path, line, what):
    """The one leak group whose innermost frame outside the library is the script's line."""
    at = [g for g in proc["groups"]
          if (_user_frame(g["pystack"]) or {}).get("file") == path and
          _user_frame(g["pystack"])["line"] == line]
    eq(len(at), 1, "%s: groups at the script's line %d" % (what, line),
       [(g["call"], g["pystack"][:2]) for g in proc["groups"]])
    return at[0]


def _no_eval_frames(stack, what):
    check(stack, "%s: no C frames under the Python stack" % what)
    names = [f["function"] or "" for f in stack]
    check(not any(n.startswith("_PyEval_EvalFrame") for n in names),
          "%s: C stack goes into the interpreter's eval loop" % what, names)
    check(len(stack) <= 16, "%s: %d C frames (cut at the eval loop, at most 8 physical)"
          % (what, len(stack)), names)


def _text_block(text, path, line):
    """The text report's group whose marked Python line is the script's."""
    rel = os.path.relpath(path, lib.ROOT)
    for block in re.split(r"\n==\d+==\s*\n", text):
        if re.search(r"==\d+==\s+> (%s/)?%s:%d in " % (re.escape(lib.ROOT), re.escape(rel), line),
                     block):
            return block
    raise lib.TestFailure("no text group marked at %s:%d\n%s" % (rel, line, text[-3000:]))


def _check_text_order(block, want_in_c, what):
    """Python frames first, then the labelled C frames, which name want_in_c and stop before
    the eval loop."""
    check("Python stack:" in block and "C stack:" in block, "%s: labels" % what, block)
    py, c = block.split("C stack:", 1)
    check("Python stack:" in py and re.search(r"==\d+==\s+> ", py),
          "%s: the marked Python line comes before the C frames" % what, block)
    check(any(w in c for w in want_in_c), "%s: C frames name none of %s" % (what, want_in_c),
          block)
    check("_PyEval_EvalFrame" not in block, "%s: eval loop frames shown" % what, block)


def test_cstack_sqlite_connect_shows_native_sqlite_frames():
    """sqlite3.connect leaked: the script's line, and below it _sqlite3's and libsqlite3's
    frames down to open64, none of the eval loop's; in the raw dump, the JSON and text reports
    of the command, and the library's own text report."""
    sqlite_names = {"sqlite3_open_v2", "openDatabase", "sqlite3BtreeOpen", "sqlite3PagerOpen",
                    "unixOpen", "robust_open", "sqlite3OsOpen"}
    for python in _both_builds():
        what = "sqlite3.connect under %s" % python
        db = os.path.join(lib.new_tmpdir(), "db")
        text, proc, path, line = _cstack_run("sqlite_connect.py", python, [db])
        g = _group_at(proc, path, line, what)
        eq((g["call"], g["kind"], g["count"]), ("open64", "file", 1), what)
        _no_eval_frames(g["stack"], what)
        sq = [f for f in g["stack"] if "libsqlite3" in f["module"]]
        check(sq, "%s: no libsqlite3 frame" % what, g["stack"])
        named = {f["function"] for f in sq if f["function"]}
        check(not named or named & sqlite_names, "%s: libsqlite3 frames named %s" % (what, named))
        check(g["stack"].index(sq[0]) == 0, "%s: open64's caller is not libsqlite3's" % what,
              g["stack"])
        check(any("_sqlite3" in f["module"] or (f["function"] or "").startswith("pysqlite_")
                  for f in g["stack"]), "%s: the _sqlite3 module's frame" % what, g["stack"])
        _check_text_order(_text_block(text, path, line), ["libsqlite3"] + sorted(named), what)
    # the library's own text report (no FDLEAK_OUTPUT: on stderr, names from dladdr)
    db = os.path.join(lib.new_tmpdir(), "db")
    res, _ = lib.run_under_shim(["/usr/bin/python3", os.path.join(CDIR, "sqlite_connect.py"),
                                 db], output=False, cwd=lib.ROOT)
    eq(res.returncode, 0, "exit status", res.stderr[-3000:])
    _check_text_order(_text_block(res.stderr, path, line), ["libsqlite3"],
                      "the library's own report")


def test_cstack_os_pipe_shows_os_pipe_impl():
    """os.pipe() leaked: the line, then the interpreter's own C function for it (os_pipe_impl,
    inlined into os_pipe, where debug information names it: pyenv's builds), cut at the eval
    loop on every CPython installed."""
    for python in _interpreters():
        what = "os.pipe under %s" % python
        text, proc, path, line = _cstack_run("os_pipe.py", python)
        g = _group_at(proc, path, line, what)
        eq((g["call"], g["kind"], g["count"]), ("pipe2", "pipe", 2), what)
        _no_eval_frames(g["stack"], what)
        check(re.search(r"(/python3\.\d+|libpython3\.\d+\.so[.0-9]*)$", g["stack"][0]["module"]),
              "%s: the innermost C frame is not the interpreter's" % what, g["stack"][0])
        names = [f["function"] for f in g["stack"] if f["function"]]
        if not python.startswith("/usr/bin/"):
            eq(names[:2], ["os_pipe_impl", "os_pipe"], "%s: innermost functions" % what,
               g["stack"])
            _check_text_order(_text_block(text, path, line), ["at os_pipe_impl ("], what)
        else:
            _check_text_order(_text_block(text, path, line), ["python3.11+0x"], what)


def test_cstack_ctypes_open_shows_line_and_libffi():
    """libc's open called through ctypes: the line, and libffi's frames (ffi_call) below it.
    Through a handle on libc.so.6, except in the sanitizer build, which does not interpose
    dlsym (shim/shim.mk): there through the global scope."""
    for python in _both_builds():
        what = "ctypes open under %s" % python
        target = os.path.join(lib.new_tmpdir(), "f")
        open(target, "w").close()
        args = [target] + (["global"] if lib.asan_build() else [])
        text, proc, path, line = _cstack_run("ctypes_open.py", python, args)
        g = _group_at(proc, path, line, what)
        eq((g["call"], g["kind"]), ("open", "file"), what)
        eq([f["path"] for f in g["fds"]], [target], "%s: path" % what)
        _no_eval_frames(g["stack"], what)
        check(any("libffi" in f["module"] for f in g["stack"]), "%s: no libffi frame" % what,
              g["stack"])
        _check_text_order(_text_block(text, path, line), ["ffi_call"], what)


def test_cstack_misuse_names_the_acquisition_python_line():
    """A double close of a descriptor opened in Python: the event and its acquisition each have
    their Python line and the C frames below it (raw dump, JSON and text reports)."""
    for python in _both_builds():
        what = "double close under %s" % python
        target = os.path.join(lib.new_tmpdir(), "f")
        open(target, "w").close()
        text, proc, path, line = _cstack_run("double_close.py", python, [target])
        ms = [m for m in proc["misuse"] if m["kind"] == "double_close"]
        eq(len(ms), 1, "%s: events" % what, proc["misuse"])
        m = ms[0]
        u = _user_frame(m["acquired_pystack"]) or {}
        eq((u.get("file"), u.get("line"), u.get("function")), (path, line, "acquire"),
           "%s: the acquisition's Python line" % what, m["acquired_pystack"])
        _no_eval_frames(m["acquired_stack"], what)
        with open(path) as f:
            where = [i for i, l in enumerate(f, 1) if l.rstrip().endswith("# MISUSE")][0]
        u = _user_frame(m["pystack"]) or {}
        eq((u.get("file"), u.get("line")), (path, where), "%s: the event's Python line" % what,
           m["pystack"])
        _no_eval_frames(m["stack"], what)
        head = text.split("double close of fd", 1)[-1].split("previously closed by")[0]
        check(re.search(r"==\d+==\s+> %s:%d in <module>" % (re.escape(os.path.relpath(
            path, lib.ROOT)), where), head), "%s: text of the event" % what, text[-3000:])
        block = text.split("acquired by ", 1)[-1].split("no leaked descriptors")[0]
        check(re.search(r"==\d+==\s+> %s:%d in acquire" % (re.escape(os.path.relpath(
            path, lib.ROOT)), line), block), "%s: text" % what, text[-3000:])
        check(block.index("Python stack:") < block.index("C stack:"), "%s: order" % what, block)


def test_cstack_py_c_depth_zero_keeps_the_python_stack_only():
    """FDLEAK_PY_C_DEPTH=0: no C stack under a Python one (the library before issue 8);
    the default keeps one."""
    path = os.path.join(CDIR, "os_pipe.py")
    for env, want in (({"FDLEAK_PY_C_DEPTH": "0"}, False), (None, True)):
        res, dumps = lib.run_under_shim(["/usr/bin/python3", path], env=env)
        eq(res.returncode, 0, "exit status", res.stderr[-2000:])
        d = lib.one_dump(dumps)
        pipes = [e for e in lib.leaks(d) if e["call"] == "pipe2"]
        eq(len(pipes), 2, "leaked pipe ends", lib.brief(d))
        for e in pipes:
            check(e["pystack"], "no Python stack (%s)" % env)
            eq(bool(e["stack"]), want, "C stack with %s" % env)


def test_cstack_diff_matches_python_groups_across_runs():
    """`fdleak diff` of two runs of one script, leaking 1 then 3 pipe pairs at one line: the
    group is matched by its Python and C frames (module+offset where unnamed, stable across
    runs), so it grew by 4 rather than being new; its stacks are shown, Python first; the
    sqlite group, the same in both, is left out."""
    path = os.path.join(CDIR, "pipes_n.py")
    with open(path) as f:
        line = [i for i, l in enumerate(f, 1) if l.rstrip().endswith("# LEAK")][0]
    for python in _both_builds():
        what = "diff under %s" % python
        files = []
        for n in (1, 3):
            outdir = lib.new_outdir()
            res, dumps = lib.run_under_shim([python, path, str(n),
                                             os.path.join(lib.new_tmpdir(), "db")],
                                            outdir=outdir)
            eq(res.returncode, 0, "exit status", res.stderr[-2000:])
            d = lib.one_dump(dumps)
            check(all(e["stack"] and e["pystack"] for e in lib.leaks(d)),
                  "%s: leaks without both stacks" % what, lib.brief(d))
            files.append(os.path.join(outdir, "d.%d.%d.json" % (d["pid"], d["seq"])))
            check(os.path.exists(files[-1]), "dump file", files[-1])
        r = lib.run_tool(["diff", files[0], files[1]])
        eq(r.returncode, 0, "%s: status" % what, r.stderr)
        groups = [l for l in r.stdout.splitlines() if re.match(r"[-+]\d+ fds? from ", l)]
        eq(len(groups), 1, "%s: groups shown" % what, r.stdout)
        check(groups[0].startswith("+4 fds from pipe2() [pipe]  (2 -> 6"),
              "%s: the pipe group grew by 4" % what, r.stdout)
        check(re.search(r"pipes_n\.py:%d in <listcomp>" % line, r.stdout),
              "%s: the Python line" % what, r.stdout)
        check(r.stdout.index("Python stack:") < r.stdout.index("C stack:"),
              "%s: Python stack first, then the C frames" % what, r.stdout)
        check("_PyEval_EvalFrame" not in r.stdout, "%s: eval loop frames" % what, r.stdout)


def test_cstack_same_line_two_native_paths():
    """One Python line making the same call (open64) by two native paths, alternately: each
    keeps its own C stack (the per-thread memory of C stacks under a Python line is keyed by
    the call site and the stack depth too, not by the Python stack alone)."""
    for python in _interpreters():
        what = "two paths under %s" % python
        target = os.path.join(lib.new_tmpdir(), "f")
        open(target, "w").close()
        text, proc, path, line = _cstack_run("two_paths.py", python, [target])
        at = [g for g in proc["groups"]
              if (_user_frame(g["pystack"]) or {}).get("line") == line]
        # (a path may split further where the interpreter specializes the call after its
        # first runs: 3.12 reaches os.open by two routes)
        ffi = sum(g["count"] for g in at if any("libffi" in f["module"] for f in g["stack"]))
        eq((ffi, sum(g["count"] for g in at) - ffi), (2, 2),
           "%s: fds whose C stack goes through libffi, and the others" % what,
           [(g["count"], [f["module"] for f in g["stack"]]) for g in at])
