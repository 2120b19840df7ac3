"""Leak checks in tests (issue 8): the C API (include/fdleak.h, tests/cases/api_listener.c),
the Python module (python/fdleak: check(), snapshot()) and the pytest plugin (--fdleak,
fdleak_allow, the re-exec with the library preloaded), and the offline install of the package.
pytest is Debian's python3-pytest with /usr/bin/python3 (scripts/deps.sh test): the tests that
need it are skipped when it cannot be imported."""
import glob
import json
import os
import re
import shutil
import subprocess
import sys

import lib

PYTHON = "/usr/bin/python3"
PKG = os.path.join(lib.ROOT, "python")

# The test file the plugin runs on: one test leaks a file at LEAK_LINE, one is clean, one
# keeps a file it is allowed to keep.
SAMPLE = '''import os
import pytest

KEEP = []


def test_leaks(tmp_path):
    p = tmp_path / "leaked.txt"
    p.write_text("x")
    KEEP.append(open(p))


def test_clean(tmp_path):
    with open(tmp_path / "clean.txt", "w") as f:
        f.write("y")
    r, w = os.pipe()
    os.close(r)
    os.close(w)


@pytest.mark.fdleak_allow("*/kept.txt")
def test_allowed(tmp_path):
    KEEP.append(open(tmp_path / "kept.txt", "w"))


def test_finalizer_closes(tmp_path, request):
    f = open(tmp_path / "closed_later.txt", "w")
    request.addfinalizer(f.close)
'''
LEAK_LINE = 10


def _need_pytest():
    r = subprocess.run([PYTHON, "-c", "import pytest"], capture_output=True, text=True,
                       timeout=lib.TIMEOUT)
    if r.returncode != 0:
        raise lib.Skip("pytest cannot be imported by %s (apt-get install python3-pytest)" %
                       PYTHON)


def _py_env(extra=None, preload=True):
    """Environment for Python with the package on PYTHONPATH, under the library or not."""
    base = {"PYTHONPATH": PKG, "PYTHONDONTWRITEBYTECODE": "1", "FDLEAK_LIB": lib.shim()}
    base.update(extra or {})
    if preload:
        return lib.shim_env(base)
    env = lib.plain_env(base)
    if lib.asan_build():  # the sanitizer runtime first, as `fdleak run` would put it
        env["LD_PRELOAD"] = lib.preload_value().split(":")[0]
        env["ASAN_OPTIONS"] = lib.ASAN_OPTIONS
    return env


def _run_pytest(preload, *extra_args):
    _need_pytest()
    d = lib.new_tmpdir()
    with open(os.path.join(d, "test_sample.py"), "w") as f:
        f.write(SAMPLE)
    argv = [PYTHON, "-m", "pytest", "-p", "fdleak.pytest_plugin", "-p", "no:cacheprovider",
            "--fdleak", "-v", "--basetemp", os.path.join(d, "base"), "test_sample.py"]
    argv += list(extra_args)
    r = lib._run_group(argv, _py_env(preload=preload), 120, subprocess.DEVNULL, None, d, (),
                       None)
    return r, d


def _check_sample_run(r):
    out = r.stdout + r.stderr
    lib.eq(r.returncode, 1, "pytest's status with a leaking test", out[-3000:])
    lib.check(re.search(r"test_sample.py::test_clean PASSED", out), "the clean test passes",
              out[-3000:])
    lib.check(re.search(r"test_sample.py::test_leaks FAILED", out),
              "the leaking test fails", out[-3000:])
    lib.check("test_leaks (test_sample.py:%d)" % LEAK_LINE in out or
              re.search(r"test_leaks \(\S*test_sample\.py:%d\)" % LEAK_LINE, out),
              "the leak's Python line is named", out[-3000:])
    lib.check("leaked.txt" in out, "the leaked file's path is shown", out[-3000:])
    # (pytest's stdout: under the library, its exit report on stderr lists every kept file)
    lib.check("kept.txt" not in r.stdout and "test_sample.py::test_allowed PASSED" in out,
              "fdleak_allow silences the allowed descriptor", out[-3000:])
    lib.check("test_sample.py::test_finalizer_closes PASSED" in out and
              "closed_later" not in r.stdout, "a descriptor a finalizer closes is no leak",
              out[-3000:])
    lib.check(re.search(r"\b1 failed, 3 passed\b", out), "one failed, three passed",
              out[-3000:])
    lib.check("1 descriptor acquired in test test_sample.py::test_leaks is still open" in out,
              "exactly one descriptor is reported: pytest's own capture (dup2 onto 1 and 2) is "
              "not", out[-3000:])


def test_pytest_plugin_under_library():
    """`python -m pytest --fdleak` with the library preloaded (as under `fdleak run`)."""
    r, _ = _run_pytest(True)
    _check_sample_run(r)


def test_pytest_plugin_reexec():
    """Without LD_PRELOAD the plugin re-executes pytest with the library (found by
    FDLEAK_LIB) before output capture starts: the same result, and one session header."""
    r, _ = _run_pytest(False)
    _check_sample_run(r)
    lib.eq(r.stdout.count("test session starts"), 1, "session headers", r.stdout[-2000:])


def test_pytest_plugin_off():
    """Without --fdleak the plugin does nothing: every test passes, nothing is re-executed."""
    _need_pytest()
    d = lib.new_tmpdir()
    with open(os.path.join(d, "test_sample.py"), "w") as f:
        f.write(SAMPLE)
    r = lib._run_group([PYTHON, "-m", "pytest", "-p", "fdleak.pytest_plugin", "-p",
                        "no:cacheprovider", "-q", "test_sample.py"], _py_env(preload=False),
                       120, subprocess.DEVNULL, None, d, (), None)
    lib.eq(r.returncode, 0, "pytest's status", r.stdout[-2000:] + r.stderr[-2000:])
    lib.check("4 passed" in r.stdout, "all pass", r.stdout[-2000:])


def test_pytest_plugin_library_missing():
    """--fdleak with no library to be found: a usage error naming FDLEAK_LIB."""
    _need_pytest()
    d = lib.new_tmpdir()
    with open(os.path.join(d, "test_sample.py"), "w") as f:
        f.write(SAMPLE)
    env = _py_env({"FDLEAK_LIB": os.path.join(d, "nowhere.so"),
                   "PATH": "/usr/bin:/bin"}, preload=False)
    # the package must not find the checkout's build/ either: a copy of it elsewhere
    pkg = os.path.join(d, "pkg")
    os.makedirs(pkg)
    subprocess.run(["cp", "-r", os.path.join(PKG, "fdleak"), pkg], check=True, timeout=60)
    env["PYTHONPATH"] = pkg
    r = lib._run_group([PYTHON, "-m", "pytest", "-p", "fdleak.pytest_plugin", "-p",
                        "no:cacheprovider", "--fdleak", "-q", "test_sample.py"], env, 120,
                       subprocess.DEVNULL, None, d, (), None)
    out = r.stdout + r.stderr
    lib.check(r.returncode not in (0, 1), "a usage error, not a test result", out[-2000:])
    lib.check("FDLEAK_LIB" in out and "libfdleak.so" in out, "the error says what to set",
              out[-2000:])


CHECK_SCRIPT = r'''import json, os, socket, sys
import fdleak
keep = []
result = {}
try:
    with fdleak.check():
        keep.append(open(sys.argv[1]))          # line 7
        r, w = os.pipe(); os.close(r); os.close(w)
except AssertionError as e:
    result["ctx"] = str(e)
    result["ctx_fds"] = [d.fd for d in e.descriptors]

@fdleak.check()
def leaky():
    keep.append(socket.socket())              # line 15
try:
    leaky()
except AssertionError as e:
    result["deco"] = str(e)

@fdleak.check()
def clean():
    with open(sys.argv[1]) as f:
        f.read()
    return 42
result["clean"] = clean()

with fdleak.check(allow="*/data.txt"):
    keep.append(open(sys.argv[1]))
result["allowed"] = True

# a reused number: closed before the checkpoint, reopened inside the block
n = os.open(sys.argv[1], os.O_RDONLY); os.close(n)
try:
    with fdleak.check():
        m = os.open(sys.argv[1], os.O_RDONLY)  # line 36
except AssertionError as e:
    result["reused"] = [n, m, str(e)]

snap = {d.fd: d for d in fdleak.snapshot()}
f = keep[0]
d = snap[f.fileno()]
result["snap"] = {"fd": d.fd, "kind": d.kind, "path": d.path, "call": d.call,
                  "origin": d.origin, "frames": [list(x) for x in d.python_frames]}
s = snap[keep[1].fileno()]
result["snap_sock"] = {"kind": s.kind, "call": s.call}
result["snap_has_stdin"] = 0 in snap and snap[0].origin == "inherited"
print(json.dumps(result))
'''


def _run_script(script, *args, preload=True, extra_env=None):
    d = lib.new_tmpdir()
    path = os.path.join(d, "script.py")
    with open(path, "w") as f:
        f.write(script)
    data = os.path.join(d, "data.txt")
    with open(data, "w") as f:
        f.write("data\n")
    env = _py_env(preload=preload)
    env.update(extra_env or {})
    r = lib._run_group([PYTHON, path, data] + list(args), env, lib.TIMEOUT, subprocess.DEVNULL,
                       None, d, (), None)
    return r, path, data


def test_check_and_snapshot():
    """fdleak.check() as a context manager and a decorator, with allow, across a reused
    descriptor number; fdleak.snapshot()'s fields."""
    r, path, data = _run_script(CHECK_SCRIPT)
    lib.eq(r.returncode, 0, "script status", r.stderr[-3000:])
    res = json.loads(r.stdout.strip().splitlines()[-1])
    ctx = res.get("ctx", "")
    lib.check("1 descriptor acquired in the block is still open" in ctx, "one leak", ctx)
    lib.check("<module> (%s:7)" % path in ctx and data in ctx, "its line and path", ctx)
    lib.check("pipe" not in ctx, "the closed pipe is not listed", ctx)
    deco = res.get("deco", "")
    lib.check("leaky (%s:15)" % path in deco and "[socket]" in deco,
              "the decorator reports the socket at its line", deco)
    lib.eq(res.get("clean"), 42, "a clean decorated function returns its value")
    lib.check(res.get("allowed"), "allow leaves the kept file out")
    reused = res.get("reused")
    lib.check(reused and reused[0] == reused[1] and "(%s:36)" % path in reused[2],
              "a leak on a number reused from before the checkpoint is found", reused)
    snap = res["snap"]
    lib.eq(snap["kind"], "file", "snapshot kind")
    lib.eq(snap["path"], data, "snapshot path")
    lib.check(snap["call"].startswith("open"), "snapshot call", snap)
    lib.eq(snap["origin"], "tracked", "snapshot origin")
    lib.check(snap["frames"] and snap["frames"][0][0] == path and snap["frames"][0][2] == 7,
              "snapshot Python frames: innermost is the script's line 7", snap)
    lib.eq(res["snap_sock"], {"kind": "socket", "call": "socket"}, "the socket in the snapshot")
    lib.check(res["snap_has_stdin"], "the snapshot lists inherited descriptors too")


def test_check_without_library():
    """Without the library: NotLoadedError, saying how to load it."""
    r, _, _ = _run_script("import fdleak\nwith fdleak.check():\n    pass\n", preload=False)
    lib.check(r.returncode != 0 and "NotLoadedError" in r.stderr and "LD_PRELOAD" in r.stderr,
              "a clear error", r.stderr[-2000:])


def test_c_api_listener():
    """The C API as a test listener: a dump of the leaking test's descriptor only (trigger
    api), though its number was used and closed before the checkpoint; nothing for the clean
    test."""
    d = lib.new_tmpdir()
    prog = lib.fixture("api_listener")
    r = lib._run_group([prog, d], lib.shim_env(), lib.TIMEOUT, subprocess.DEVNULL, None, None,
                       (), None)
    lib.eq(r.returncode, 0, "status", r.stderr[-2000:])
    facts = r.stdout.splitlines()
    lib.check("available 1" in facts, "the library is found", r.stdout)
    lib.check("test leaky leaked 1" in facts, "the leaking test: one", r.stdout)
    lib.check("test clean leaked 0" in facts, "the clean test: none", r.stdout)
    leak_fd = lib.fact_fds(r.stdout, "leak", "open")[0]
    with open(os.path.join(d, "leaky.json")) as f:
        dump = json.load(f)
    lib.eq(dump["trigger"], "api", "trigger")
    lib.eq([e["fd"] for e in dump["fds"]], [leak_fd], "descriptors in the dump")
    lib.need_stack_function(dump, dump["fds"][0], prog, "test_leaky")
    lib.check(not os.path.exists(os.path.join(d, "clean.json")), "no dump for the clean test")
    # the command renders it
    rep = lib.run_tool(["report", os.path.join(d, "leaky.json")])
    lib.check("trigger: api" in rep.stdout and "api_listener.c:" in rep.stdout,
              "fdleak report renders the api dump with lines", rep.stdout + rep.stderr)


def test_c_api_without_library():
    """The same binary without the library: weak references, the wrappers say 'not
    available' (ENOSYS) and the tests still run."""
    for name in ("api_listener", "api_listener_nopie"):
        d = lib.new_tmpdir()
        r = lib.run_plain([lib.fixture(name), d])
        lib.eq(r.returncode, 0, "status of %s" % name, r.stderr[-2000:])
        facts = r.stdout.splitlines()
        lib.check("available 0" in facts and "test leaky leaked -1" in facts and
                  "errno 38" in facts, "%s: not available, ENOSYS" % name, r.stdout)


def test_c_api_non_pie():
    """A non-PIE executable whose calling code is compiled -fPIE finds the library too."""
    d = lib.new_tmpdir()
    r = lib._run_group([lib.fixture("api_listener_nopie"), d], lib.shim_env(), lib.TIMEOUT,
                       subprocess.DEVNULL, None, None, (), None)
    facts = r.stdout.splitlines()
    lib.check("available 1" in facts and "test leaky leaked 1" in facts and
              "test clean leaked 0" in facts, "found, one leak, one clean test", r.stdout,
              r.stderr[-2000:])


def test_c_api_bad_fd():
    """fdleak_report_since refuses a negative descriptor (EBADF) unless only counting."""
    src = os.path.join(lib.ROOT, "include", "fdleak.h")
    lib.check(os.path.exists(src), "public header")
    r, _, _ = _run_script(r'''import ctypes, errno, sys
lib = ctypes.CDLL(None, use_errno=True)
lib.fdleak_checkpoint.restype = ctypes.c_uint64
cp = lib.fdleak_checkpoint()
lib.fdleak_report_since.argtypes = [ctypes.c_uint64, ctypes.c_int, ctypes.c_uint]
n = lib.fdleak_report_since(cp, -1, 0)
e = ctypes.get_errno()
m = lib.fdleak_report_since(cp, -1, 1)
print(cp > 0, n, errno.errorcode.get(e), m)
''')
    lib.eq(r.stdout.strip(), "True -1 EBADF 0", "checkpoint, EBADF, count only",
           r.stderr[-2000:])


def test_pip_install_offline():
    """`pip install --no-build-isolation ./python` with the system's setuptools, into a venv:
    the module imports from the install, and pytest finds the plugin by its entry point."""
    _need_pytest()
    d = lib.new_tmpdir()
    venv, py = _venv_with_pip(d)
    src = os.path.join(d, "src")
    subprocess.run(["cp", "-r", PKG, src], check=True, timeout=60)
    env = lib.plain_env({"PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    r = subprocess.run([py, "-m", "pip", "install", "--no-build-isolation", src],
                       capture_output=True, text=True, timeout=300, env=env, cwd=d)
    lib.eq(r.returncode, 0, "pip install", r.stdout[-2000:] + r.stderr[-2000:])
    sample = os.path.join(d, "t")
    os.makedirs(sample)
    with open(os.path.join(sample, "test_sample.py"), "w") as f:
        f.write(SAMPLE)
    env = lib.plain_env({"FDLEAK_LIB": lib.shim(), "PYTHONDONTWRITEBYTECODE": "1"})
    if lib.asan_build():
        env["LD_PRELOAD"] = lib.preload_value().split(":")[0]
        env["ASAN_OPTIONS"] = lib.ASAN_OPTIONS
    r = subprocess.run([py, "-c", "import fdleak; print(fdleak.__file__)"], capture_output=True,
                       text=True, timeout=60, env=env, cwd=sample)
    lib.check(r.stdout.startswith(venv), "imported from the install", r.stdout + r.stderr)
    # no -p: the pytest11 entry point loads the plugin; with -p, the same plugin (not twice)
    for extra in ([], ["-p", "fdleak.pytest_plugin"]):
        r = lib._run_group([py, "-m", "pytest", "-p", "no:cacheprovider", "--fdleak", "-v",
                            "test_sample.py"] + extra, env, 120, subprocess.DEVNULL, None,
                           sample, (), None)
        _check_sample_run(r)


def test_check_c_stack_symbolized():
    """A descriptor with a C stack is shown with functions from `fdleak report --json` (the
    command next to the library), innermost first. On CPython 3.11 every acquisition made in
    Python code gets a Python stack instead, so this runs with the audit-hook mode
    (FDLEAK_PY_WALK=0), where os.dup raises no event and keeps its C stack."""
    r, _, _ = _run_script('''import os, fdleak
try:
    with fdleak.check():
        x = os.dup(1)
except AssertionError as e:
    print(repr(e.descriptors[0].c_stack[0]))
    print(str(e))
''', extra_env={"FDLEAK_PY_WALK": "0"})
    lib.eq(r.returncode, 0, "status", r.stderr[-2000:])
    first = r.stdout.splitlines()[0] if r.stdout else ""
    lib.check("_Py_dup (" in first, "the innermost C frame is named", r.stdout[-2000:])
    lib.check("by __libc_start_main" in r.stdout or "by main" in r.stdout or
              "by Py_BytesMain" in r.stdout, "the whole C stack is listed", r.stdout[-2000:])


def test_pytest_plugin_under_fdleak_run():
    """`fdleak run -- python -m pytest --fdleak`: the plugin uses the library `fdleak run`
    preloaded (no re-exec), and the per-test result is the same."""
    _need_pytest()
    d = lib.new_tmpdir()
    with open(os.path.join(d, "test_sample.py"), "w") as f:
        f.write(SAMPLE)
    env = lib.tool_env({"PYTHONPATH": PKG, "PYTHONDONTWRITEBYTECODE": "1",
                        "FDLEAK_PYTEST_REEXEC": "1"})  # a re-exec would be a usage error
    r = lib._run_group([lib.tool(), "run", "--", PYTHON, "-m", "pytest", "-p",
                        "fdleak.pytest_plugin", "-p", "no:cacheprovider", "--fdleak", "-v",
                        "--basetemp", os.path.join(d, "base"), "test_sample.py"], env, 120,
                       subprocess.DEVNULL, None, d, (), None)
    _check_sample_run(r)


# ---- the fdleak_allow fixture and wide-scoped fixtures ----------------------------------------

# Two test files: module-scoped fixtures that keep a socket (set up before a test's body, or
# inside it), a lazy cache that allows its own socket, a module fixture that allows a pattern
# until its teardown, the fixture's object / pattern / no-argument forms, and leaks that must
# still be caught (a test's, a function-scoped fixture's, one on a number an allowed object
# held before it was closed, a pattern once its fixture is gone). "# NAME" marks a line the
# report must name.
FIXTURE_SAMPLE = '''import socket

import pytest

KEEP = []


@pytest.fixture(scope="module")
def server():
    s = socket.socket()  # kept by the module's tests: not the first test's leak
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    yield s
    s.close()


@pytest.fixture(scope="module")
def lazy_server():
    s = socket.socket()
    yield s
    s.close()


@pytest.fixture(scope="module")
def cache(fdleak_allow):
    class Cache:
        sock = None

        def get(self):
            if self.sock is None:  # connects on first use, inside a test
                self.sock = fdleak_allow(socket.socket())
            return self.sock
    return Cache()


@pytest.fixture(scope="module")
def app_logs(fdleak_allow):
    fdleak_allow("*/app-*.log")  # for every test of the module, until its teardown


@pytest.fixture
def leaky_fixture(tmp_path):
    f = open(tmp_path / "fixture_leak.txt", "w")  # FIXTURE_LEAK
    KEEP.append(f)
    return f


def test_first_server_user(server):
    assert server.fileno() >= 0


def test_second_server_user(server):
    assert server.fileno() >= 0


def test_module_fixture_set_up_in_body(request):
    assert request.getfixturevalue("lazy_server").fileno() >= 0


def test_cache_first_use(cache):
    assert cache.get().fileno() >= 0


def test_cache_again(cache):
    assert cache.get().fileno() >= 0


def test_logs_a(app_logs, tmp_path):
    KEEP.append(open(tmp_path / "app-a.log", "w"))


def test_logs_b(app_logs, tmp_path):
    KEEP.append(open(tmp_path / "app-b.log", "w"))


def test_leaks(tmp_path):
    KEEP.append(open(tmp_path / "leaked.txt", "w"))  # TEST_LEAK


def test_allowed_object(fdleak_allow, tmp_path):
    KEEP.append(fdleak_allow(open(tmp_path / "kept-object.txt", "w")))


def test_allowed_pattern(fdleak_allow, tmp_path):
    fdleak_allow("*/kept-pattern.txt")
    KEEP.append(open(tmp_path / "kept-pattern.txt", "w"))
    KEEP.append(open(tmp_path / "not-allowed.txt", "w"))  # NOT_ALLOWED


def test_allowed_anything(fdleak_allow):
    fdleak_allow()
    KEEP.append(socket.socket())


def test_closed_object_allows_nothing(fdleak_allow, tmp_path):
    f = open(tmp_path / "closed.txt", "w")
    fdleak_allow(f)
    f.close()
    KEEP.append(open(tmp_path / "reused.txt", "w"))  # REUSED


def test_function_fixture_leak(leaky_fixture):
    assert leaky_fixture.writable()


def test_logs_while_the_fixture_lives(tmp_path):
    KEEP.append(open(tmp_path / "app-c.log", "w"))'''

FIXTURE_SAMPLE_2 = '''KEEP = []


def test_logs_after_the_fixture(tmp_path):
    KEEP.append(open(tmp_path / "app-d.log", "w"))  # LOG_AFTER
'''

FIXTURE_PASS = ("test_first_server_user", "test_second_server_user",
                "test_module_fixture_set_up_in_body", "test_cache_first_use", "test_cache_again",
                "test_logs_a", "test_logs_b", "test_allowed_object", "test_allowed_anything",
                "test_logs_while_the_fixture_lives")
# test -> (file, marker of the line that acquired the leaked descriptor, its path's name)
FIXTURE_FAIL = {"test_leaks": ("test_fx.py", "TEST_LEAK", "leaked.txt"),
                "test_allowed_pattern": ("test_fx.py", "NOT_ALLOWED", "not-allowed.txt"),
                "test_closed_object_allows_nothing": ("test_fx.py", "REUSED", "reused.txt"),
                "test_function_fixture_leak": ("test_fx.py", "FIXTURE_LEAK", "fixture_leak.txt"),
                "test_logs_after_the_fixture": ("test_fy.py", "LOG_AFTER", "app-d.log")}


def _line_of(text, marker):
    for i, line in enumerate(text.splitlines(), 1):
        if line.rstrip().endswith("# " + marker):
            return i
    raise lib.TestFailure("no line marked %s" % marker)


def _failure_section(out, test):
    """The text pytest printed for a failed test: from its '___ test ___' header to the next."""
    m = re.search(r"_{3,} %s _{3,}\n(.*?)(?=\n_{3,} |\n=+ short test summary)" % re.escape(test),
                  out, re.S)
    return m.group(1) if m else ""


def test_pytest_fdleak_allow_fixture():
    """The fdleak_allow fixture and module-scoped fixtures: what a wide fixture acquires is not
    blamed on the first test that uses it (set up before the test's body or inside it), its
    own allowances last until its teardown; the fixture's forms allow what they name and no
    more; each leaking test fails with its own line and nothing else."""
    _need_pytest()
    d = lib.new_tmpdir()
    files = {"test_fx.py": FIXTURE_SAMPLE, "test_fy.py": FIXTURE_SAMPLE_2}
    for name, text in files.items():
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
    argv = [PYTHON, "-m", "pytest", "-p", "fdleak.pytest_plugin", "-p", "no:cacheprovider",
            "--fdleak", "-v", "--basetemp", os.path.join(d, "base"), "test_fx.py", "test_fy.py"]
    r = lib._run_group(argv, _py_env(preload=False), 120, subprocess.DEVNULL, None, d, (), None)
    out = r.stdout + r.stderr
    lib.eq(r.returncode, 1, "pytest's status", out[-4000:])
    for t in FIXTURE_PASS:
        lib.check(re.search(r"test_fx\.py::%s PASSED" % t, out), "%s passes" % t, out[-4000:])
    for t, (fname, marker, leaked) in FIXTURE_FAIL.items():
        lib.check(re.search(r"%s::%s FAILED" % (re.escape(fname), t), out), "%s fails" % t,
                  out[-4000:])
        sec = _failure_section(out, t)
        line = _line_of(files[fname], marker)
        lib.check(re.search(r"\(\S*%s:%d\)" % (re.escape(fname), line), sec),
                  "%s: the leaking line %s:%d is named" % (t, fname, line), sec or out[-4000:])
        lib.check("1 descriptor acquired in test" in sec and leaked in sec,
                  "%s: exactly its one descriptor (%s) is listed" % (t, leaked), sec)
    lib.check(re.search(r"\b5 failed, 10 passed\b", out), "5 failed, 10 passed", out[-4000:])
    lib.check("[socket]" not in r.stdout, "no kept socket is reported", r.stdout[-4000:])


def test_pytest_fdleak_allow_fixture_off():
    """Without --fdleak the fixture exists and does nothing: every test passes; a wrong
    argument is still a TypeError naming what it takes."""
    _need_pytest()
    d = lib.new_tmpdir()
    with open(os.path.join(d, "test_fx.py"), "w") as f:
        f.write(FIXTURE_SAMPLE + '''

def test_bad_argument(fdleak_allow):
    with pytest.raises(TypeError, match="fdleak: allow takes"):
        fdleak_allow(1.5)
''')
    r = lib._run_group([PYTHON, "-m", "pytest", "-p", "fdleak.pytest_plugin", "-p",
                        "no:cacheprovider", "-q", "test_fx.py"], _py_env(preload=False), 120,
                       subprocess.DEVNULL, None, d, (), None)
    lib.eq(r.returncode, 0, "pytest's status", r.stdout[-2000:] + r.stderr[-2000:])
    lib.check("15 passed" in r.stdout, "all pass", r.stdout[-2000:])


# ---- a Python stack and a C stack on one descriptor ----------------------------------------

# A record with both stacks, as the library writes once it keeps a short C stack beside the
# Python one: built from a real dump of this process (FDLEAK_PY_WALK=0: os.dup gets a C stack,
# open() a Python stack from its audit event), the open's record given the dup's C stack.
BOTH_SCRIPT = r'''import json, os, sys, fdleak
keep = []
cp = fdleak.checkpoint()
keep.append(os.dup(1))
keep.append(open(sys.argv[1]))  # line 5
raw = json.loads(fdleak._raw_dump(int(cp)).decode())
by_fd = {e["fd"]: e for e in raw["fds"]}
c_only, py_only = by_fd[keep[0]], by_fd[keep[1].fileno()]
assert c_only["stack"] and py_only["pystack"], (c_only, py_only)
py_only["stack"] = c_only["stack"]
descs = fdleak._descriptors((json.dumps(raw) + "\n").encode(), True)
d = [x for x in descs if x.fd == keep[1].fileno()][0]
print(json.dumps({"py": [list(f) for f in d.python_frames], "c": d.c_stack, "repr": repr(d),
                  "text": fdleak.format_leaks([d]), "lines": d.stack_lines()}))
'''


def test_both_stacks_rendered():
    """A descriptor with a Python and a C stack: the Descriptor has both, and check()'s text
    shows the Python frames, then the C frames under "C stack:", cut where the interpreter's
    eval loop starts (the command's report cuts there too), with the count of the rest."""
    r, path, data = _run_script(BOTH_SCRIPT, extra_env={"FDLEAK_PY_WALK": "0"})
    lib.eq(r.returncode, 0, "script status", r.stderr[-3000:])
    res = json.loads(r.stdout.strip().splitlines()[-1])
    lib.check(res["py"] and res["py"][0] == [path, "<module>", 5], "the Python frames", res)
    lib.check(res["c"] and res["c"][0].startswith("_Py_dup ("), "the C frames, symbolized", res)
    lib.check(any(f.startswith("_PyEval_EvalFrame") for f in res["c"]),
              "Descriptor.c_stack keeps the whole C stack", res["c"])
    text = res["text"]
    lines = text.splitlines()
    want = ["at <module> (%s:5)" % path, "C stack:", "at _Py_dup ("]
    pos = [next((i for i, l in enumerate(lines) if l.strip().startswith(w)), -1) for w in want]
    lib.check(-1 not in pos and pos == sorted(pos), "Python line, then the C stack", text)
    lib.check("_PyEval_EvalFrame" not in text and
              re.search(r"by \.\.\. \(\d+ frames? in the Python interpreter", text),
              "the C stack stops at the eval loop, the rest counted", text)
    lib.check("fd %d  %s" % (int(re.search(r"fd=(\d+)", res["repr"]).group(1)), data) in text,
              "the descriptor and its path", text)
    lib.check(":5 in _Py_dup (" in res["repr"], "repr names the Python line and the C frame",
              res["repr"])
    lib.eq(res["lines"], [l[3:] for l in lines[3:-1]], "stack_lines() is what check() shows")


def test_both_stacks_from_library():
    """Once the library records a C stack beside the Python one (a Python open), check() shows
    both; until then this checks the Python line and skips."""
    r, path, _ = _run_script(r'''import json, sys, fdleak
keep = []
try:
    with fdleak.check():
        keep.append(open(sys.argv[1]))  # line 5
except AssertionError as e:
    d = e.descriptors[0]
    print(json.dumps({"text": str(e), "c": d.c_stack, "py": [list(f) for f in d.python_frames]}))
''')
    lib.eq(r.returncode, 0, "script status", r.stderr[-3000:])
    res = json.loads(r.stdout.strip().splitlines()[-1])
    lib.check("at <module> (%s:5)" % path in res["text"], "the Python line", res["text"])
    if not res["c"]:
        raise lib.Skip("the library records no C stack beside a Python one yet")
    lib.check("C stack:" in res["text"] and res["text"].index("C stack:") >
              res["text"].index("at <module>"), "the C stack after the Python one", res["text"])


# ---- CPython 3.8 to 3.13 ---------------------------------------------------------------------

# The interpreters looked for: pyenv's (PYENV_ROOT, else ~/.pyenv), else pythonX.Y on PATH.
# Before 3.11 and after it the library's Python stacks come from audit events only, and the
# walk of the frame chain on other versions is being reworked: the tests assert what does not
# depend on the Python line there (the leak is caught, its fd and kind are listed).
# pytest: the interpreter's own, else the system's pure-Python one (Debian's python3-pytest
# and what it needs, python3-exceptiongroup and python3-tomli before 3.11) put on its path in
# a directory of its own; SKIP when neither imports.
SYSTEM_SITE = "/usr/lib/python3/dist-packages"
SYSTEM_PYTEST = ("pytest", "_pytest", "pluggy", "iniconfig", "packaging", "py", "py.py",
                 "attr", "attrs", "exceptiongroup", "tomli")


def _version_key(path):
    m = re.search(r"/(\d+)\.(\d+)\.(\d+)/", path)
    return tuple(int(x) for x in m.groups()) if m else (0, 0, 0)


def _interpreter(version):
    """The newest CPython `version` (X.Y) here, or Skip."""
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    cands = sorted(glob.glob(os.path.join(root, "versions", version + ".*", "bin", "python3")),
                   key=_version_key, reverse=True)
    cands = [c for c in cands if re.search(r"/%s\.\d+/" % re.escape(version), c)]
    which = shutil.which("python" + version)
    if which:
        cands.append(which)
    for c in cands:
        r = subprocess.run([c, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                           capture_output=True, text=True, timeout=lib.TIMEOUT,
                           env=lib.plain_env())
        if r.returncode == 0 and r.stdout.strip() == version:
            return c
    raise lib.Skip("no CPython %s here (pyenv, or python%s on PATH)" % (version, version))


_pytest_dirs = {}


def _pytest_path(py):
    """'' when `py` imports pytest by itself, else a directory holding the system's
    pure-Python pytest for it; Skip when neither imports."""
    if py in _pytest_dirs:
        return _pytest_dirs[py]
    probe = [py, "-c", "import pytest, _pytest.runner"]
    r = subprocess.run(probe, capture_output=True, text=True, timeout=120, env=lib.plain_env())
    if r.returncode == 0:
        _pytest_dirs[py] = ""
        return ""
    own = (r.stderr.strip().splitlines() or ["?"])[-1]
    d = lib.new_tmpdir("fdleak-test-pytest-")
    for name in SYSTEM_PYTEST:
        if os.path.exists(os.path.join(SYSTEM_SITE, name)):
            os.symlink(os.path.join(SYSTEM_SITE, name), os.path.join(d, name))
    r = subprocess.run(probe, capture_output=True, text=True, timeout=120,
                       env=lib.plain_env({"PYTHONPATH": d}))
    if r.returncode != 0:
        raise lib.Skip("pytest cannot be imported by %s (its own: %s; the system's: %s)" % (
            py, own, (r.stderr.strip().splitlines() or ["?"])[-1]))
    _pytest_dirs[py] = d
    return d


VERSION_CHECK = r'''import json, socket, sys, fdleak
keep = []
try:
    with fdleak.check():
        keep.append(open(sys.argv[1]))  # line 5
        keep.append(socket.socket())  # line 6
except AssertionError as e:
    print(json.dumps({"text": str(e), "got": sorted([d.fd, d.kind] for d in e.descriptors),
                      "want": sorted([[keep[0].fileno(), "file"], [keep[1].fileno(), "socket"]]),
                      "version": "%d.%d" % sys.version_info[:2]}))
'''


def _check_under(version):
    """`with fdleak.check()` under CPython `version`: the file and the socket the block left
    open are caught, with their fd and kind, and nothing else."""
    py = _interpreter(version)
    d = lib.new_tmpdir()
    path = os.path.join(d, "script.py")
    with open(path, "w") as f:
        f.write(VERSION_CHECK)
    r = lib._run_group([py, path, path], _py_env(), 120, subprocess.DEVNULL, None, d, (), None)
    lib.eq(r.returncode, 0, "status under %s" % py, r.stdout[-2000:] + r.stderr[-3000:])
    lines = r.stdout.strip().splitlines()
    lib.check(lines, "the block's leaks were caught under %s" % py, r.stderr[-3000:])
    res = json.loads(lines[-1])
    lib.eq(res["version"], version, "the interpreter's version")
    lib.eq(res["got"], res["want"], "the leaked descriptors under %s" % py, res["text"])
    text = res["text"]
    lib.check("2 descriptors acquired in the block are still open" in text and
              "[file]" in text and "[socket]" in text, "the report's groups", text)
    for fd, _ in res["want"]:
        lib.check(re.search(r"^   fd %d  " % fd, text, re.M), "fd %d listed" % fd, text)
    lib.check("<module> (%s:5)" % path in text and "<module> (%s:6)" % path in text,
              "the Python lines under %s" % version, text)


def _pytest_under(version):
    """A leaking pytest session under CPython `version`, the plugin re-executing pytest with
    the library (sys.orig_argv exists from 3.10 on: before, sys.argv rebuilds the command)."""
    py = _interpreter(version)
    extra = _pytest_path(py)
    d = lib.new_tmpdir()
    with open(os.path.join(d, "test_sample.py"), "w") as f:
        f.write(SAMPLE)
    env = _py_env(preload=False)
    if extra:
        env["PYTHONPATH"] = PKG + os.pathsep + extra
    argv = [py, "-m", "pytest", "-p", "fdleak.pytest_plugin", "-p", "no:cacheprovider",
            "--fdleak", "-v", "--basetemp", os.path.join(d, "base"), "test_sample.py"]
    r = lib._run_group(argv, env, 180, subprocess.DEVNULL, None, d, (), None)
    out = r.stdout + r.stderr
    lib.eq(r.returncode, 1, "pytest's status under %s" % py, out[-3000:])
    lib.eq(r.stdout.count("test session starts"), 1, "one session (one re-exec)", out[-3000:])
    lib.check("Python %s." % version in r.stdout, "pytest ran under %s" % version,
              r.stdout[:1000])
    lib.check(re.search(r"test_sample\.py::test_leaks FAILED", out), "the leak fails",
              out[-3000:])
    lib.check(re.search(r"\b1 failed, 3 passed\b", out), "one failed, three passed", out[-3000:])
    sec = _failure_section(out, "test_leaks")
    lib.check("1 descriptor acquired in test test_sample.py::test_leaks is still open" in sec,
              "exactly the leaked descriptor is reported", sec or out[-3000:])
    lib.check(re.search(r"^   fd \d+  \S*leaked\.txt$", sec, re.M) and "[file]" in sec,
              "its fd, kind and path", sec)
    lib.check(re.search(r"test_leaks \(\S*test_sample\.py:%d\)" % LEAK_LINE, sec),
              "the Python line under %s" % version, sec)


def test_check_py38():
    _check_under("3.8")


def test_check_py39():
    _check_under("3.9")


def test_check_py310():
    _check_under("3.10")


def test_check_py311():
    _check_under("3.11")


def test_check_py312():
    _check_under("3.12")


def test_check_py313():
    _check_under("3.13")


def test_pytest_py38():
    _pytest_under("3.8")


def test_pytest_py39():
    _pytest_under("3.9")


def test_pytest_py310():
    _pytest_under("3.10")


def test_pytest_py311():
    _pytest_under("3.11")


def test_pytest_py312():
    _pytest_under("3.12")


def test_pytest_py313():
    _pytest_under("3.13")


# ---- pip install . from the repository root ----------------------------------------------------

def _venv_with_pip(d):
    """A throwaway venv over the system's site-packages (its setuptools, wheel, pip, pytest),
    or Skip."""
    venv = os.path.join(d, "venv")
    r = subprocess.run([PYTHON, "-m", "venv", "--system-site-packages", "--without-pip", venv],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise lib.Skip("no venv module: %s" % r.stderr.strip()[-200:])
    py = os.path.join(venv, "bin", "python")
    r = subprocess.run([py, "-m", "pip", "--version"], capture_output=True, text=True,
                       timeout=120)
    if r.returncode != 0:
        raise lib.Skip("no pip (apt-get install python3-pip)")
    return venv, py


def _pip_env(extra=None):
    """No index (offline), and none of the calling make's variables (its jobserver)."""
    env = lib.plain_env({"PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKE", "BUILD", "SANITIZER", "DEBUG"):
        env.pop(k, None)
    env.update(extra or {})
    return env


def _pip_install(py, src, cwd, extra_env=None):
    return subprocess.run([py, "-m", "pip", "install", "--no-build-isolation",
                           "--force-reinstall", "--no-deps", src], capture_output=True,
                          text=True, timeout=600, env=_pip_env(extra_env), cwd=cwd)


def test_pip_install_root():
    """`pip install --no-build-isolation .` from the repository root, into a venv, offline:
    make builds the library and the command into the package, which finds them with no
    FDLEAK_LIB and no fdleak on PATH; pytest loads the plugin by its entry point. A failing
    make is one `fdleak:` line; FDLEAK_NO_BUILD=1 installs the module alone, and `pytest
    --fdleak` then says in one `fdleak:` line that the library is not found."""
    _need_pytest()
    d = lib.new_tmpdir()
    venv, py = _venv_with_pip(d)
    # pip builds in the tree: make's build/ (a no-op once built), setuptools' build/python/
    r = _pip_install(py, ".", lib.ROOT)
    lib.eq(r.returncode, 0, "pip install .", r.stdout[-2000:] + r.stderr[-3000:])
    sample = os.path.join(d, "t")
    os.makedirs(sample)
    with open(os.path.join(sample, "test_sample.py"), "w") as f:
        f.write(SAMPLE)
    env = lib.plain_env({"PYTHONDONTWRITEBYTECODE": "1", "PATH": "/usr/bin:/bin"})
    env.pop("FDLEAK_LIB", None)  # (the installed library is make's plain build, sanitizer
    # build or not: it needs no sanitizer runtime)
    r = subprocess.run([py, "-c", "import fdleak; print(fdleak.__file__); "
                        "print(fdleak.find_library()); print(fdleak.find_command())"],
                       capture_output=True, text=True, timeout=60, env=env, cwd=sample)
    where = r.stdout.split()
    lib.check(len(where) == 3 and all(w.startswith(venv) for w in where),
              "module, library and command from the install", r.stdout + r.stderr)
    lib.check(where[1].endswith("/fdleak/_native/libfdleak.so") and
              os.access(where[2], os.X_OK), "the bundled library and command", where)
    r = lib._run_group([py, "-m", "pytest", "-p", "no:cacheprovider", "--fdleak", "-v",
                        "test_sample.py"], env, 120, subprocess.DEVNULL, None, sample, (), None)
    _check_sample_run(r)
    # make fails: one line says so, and what to do
    r = _pip_install(py, ".", lib.ROOT, {"MAKE": "false"})
    out = r.stdout + r.stderr
    lib.check(r.returncode != 0, "pip install fails when make does", out[-2000:])
    lines = [l.strip() for l in out.splitlines() if "fdleak: cannot build libfdleak.so" in l]
    lib.check(len(lines) == 1 and lines[0].startswith("fdleak: ") and "FDLEAK_NO_BUILD" in
              lines[0], "one fdleak: line naming the way out", out[-3000:])
    # the module alone: no library to be found, one fdleak: line at run time
    r = _pip_install(py, ".", lib.ROOT, {"FDLEAK_NO_BUILD": "1"})
    lib.eq(r.returncode, 0, "pip install . with FDLEAK_NO_BUILD=1",
           r.stdout[-2000:] + r.stderr[-3000:])
    r = subprocess.run([py, "-c", "import fdleak; print(fdleak.find_library())"],
                       capture_output=True, text=True, timeout=60, env=env, cwd=sample)
    if r.stdout.strip() != "None":
        raise lib.Skip("a library is installed on this machine (%s): the not-found case "
                       "cannot be shown" % r.stdout.strip())
    r = lib._run_group([py, "-m", "pytest", "-p", "no:cacheprovider", "--fdleak", "-q",
                        "test_sample.py"], env, 120, subprocess.DEVNULL, None, sample, (), None)
    out = r.stdout + r.stderr
    lines = [l for l in out.splitlines() if "fdleak:" in l]
    lib.check(r.returncode not in (0, 1) and len(lines) == 1 and
              re.search(r"(^|ERROR: )fdleak: --fdleak needs libfdleak\.so loaded: "
                        r"libfdleak\.so was not found", lines[0]),
              "a usage error, one fdleak: line", out[-2000:])
