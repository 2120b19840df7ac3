"""False positives, FFI lookups and kinds (issue 8, items 4-6): fork children, fds 0-2, shell
wrappers, dlsym/dlvsym through a library handle (C and ctypes), O_TMPFILE, FIOCLEX/FIONCLEX,
F_DUPFD. Fixtures: tests/cases/fp_cases.c, tests/cases/lib/fp_next*.c, tests/py/fp_cases.py."""
import os
import re
import shutil
import subprocess

import lib
from lib import check, eq
from shimcase import _data_dir, _run, _ok, _exit_dump

PYTHON = "/usr/bin/python3"
PYENV_SHIM = "/root/.pyenv/shims/python3"


def _facts(res):
    return {w[0] + " " + w[1]: [int(x) for x in w[2:]] for w in res.facts(
        "parent", "both", "child", "leak", "tmpfile", "pipe", "dupfd", "dupfd0", "dup", "pty",
        "unknown")}


def _fork_checks(res, exe):
    f = _facts(res)
    ppid, cpid, a, d = f["parent pid"][0], f["child pid"][0], f["both open"][0], f["child open"][0]
    pd, cd = _exit_dump(res, ppid), _exit_dump(res, cpid)
    e = lib.need_fd(cd, a)
    eq(e["origin"], "inherited", "origin of the parent's fd %d in the child" % a, lib.brief(cd))
    eq(e["tid"], ppid, "tid of the parent's fd in the child (the parent's thread)")
    check(e["stack"] or e.get("pystack"), "the parent's fd lost its acquisition stack in the child")
    eq(sorted(x["fd"] for x in lib.leaks(cd)), [d], "the child's leaks", lib.brief(cd))
    check(a in [x["fd"] for x in lib.leaks(pd)], "the parent's own leak is gone", lib.brief(pd))
    return pd, cd, a


def test_fork_child_reports_only_its_own_c():
    path = os.path.join(_data_dir(), "f")
    exe, res, _ = _run("fp_cases", ["fork", path])
    _ok(res)
    _, cd, a = _fork_checks(res, exe)
    lib.need_stack_function(cd, lib.need_fd(cd, a), exe, "parent_open")


def test_fork_child_reports_only_its_own_python():
    path = os.path.join(_data_dir(), "f")
    res, _ = lib.run_under_shim([PYTHON, lib.py_script("fp_cases.py"), "fork", path])
    _ok(res)
    _fork_checks(res, None)


def _no_stdio_leak(res, d):
    e = lib.need_fd(d, 1)
    eq(e["origin"], "inherited", "origin of fd 1 after dup2", lib.brief(d))
    check(all(x["fd"] > 2 for x in lib.leaks(d)), "fds 0-2 reported as leaks", lib.brief(d))


def test_dup2_onto_stdout_c():
    exe, res, _ = _run("fp_cases", ["stdio"])
    _ok(res)
    d = _exit_dump(res)
    _no_stdio_leak(res, d)
    eq(lib.leaks(d), [], "leaks", lib.brief(d))
    eq(lib.need_fd(d, 1)["call"], "dup2", "call kept for fd 1")
    r = lib.run_tool(["run", "--", exe, "stdio"])
    eq(r.returncode, 0, "fdleak run status", r.stderr)
    check("no leaked descriptors" in r.stderr, "fdleak run reports fd 1", r.stderr)


def test_dup2_onto_stdout_python():
    path = os.path.join(_data_dir(), "f")
    res, dumps = lib.run_under_shim([PYTHON, lib.py_script("fp_cases.py"), "dup2", path])
    _ok(res)
    d = lib.one_dump(dumps, "exit")
    _no_stdio_leak(res, d)


def test_pyenv_shim_wrapper():
    if not os.access(PYENV_SHIM, os.X_OK):
        raise lib.Skip("no pyenv shim at %s" % PYENV_SHIM)
    r = lib.run_tool(["run", "--", PYENV_SHIM, "-c", "pass"])
    eq(r.returncode, 0, "fdleak run status", r.stderr)
    check("fdleak: no leaked descriptors" in r.stderr and "==" not in r.stderr,
          "a shell wrapper adds reports", r.stderr)


def _kinds_checks(d, res, want):
    flags = {int(w[1]): w[2] == "1" for w in res.facts("fdflags")}
    for fd, kind in want.items():
        e = lib.need_fd(d, fd)
        eq(e["kind"], kind, "kind of fd %d" % fd, lib.brief(d))
    for fd, cl in flags.items():
        if fd > 2 and lib.fd_entry(d, fd) and lib.fd_entry(d, fd)["origin"] == "tracked":
            eq(lib.need_fd(d, fd)["cloexec"], cl, "cloexec of fd %d (F_GETFD says %s)" % (fd, cl))


def test_kinds_and_cloexec_c():
    exe, res, _ = _run("fp_cases", ["kinds"])
    _ok(res)
    d = _exit_dump(res)
    f = _facts(res)
    r, w = f["pipe pipe"]
    _kinds_checks(d, res, {f["tmpfile open"][0]: "file", f["dupfd fcntl"][0]: "pipe",
                           f["dupfd0 fcntl"][0]: "file", r: "pipe"})
    eq((lib.need_fd(d, r)["cloexec"], lib.need_fd(d, w)["cloexec"]), (True, False),
       "cloexec after FIOCLEX / FIOCLEX+FIONCLEX")
    bare = lib.run_plain([exe, "kinds"])
    eq(bare.stdout, res.stdout, "fixture output bare vs under the library")


def test_kinds_and_cloexec_python():
    res, dumps = lib.run_under_shim([PYTHON, lib.py_script("fp_cases.py"), "kinds", "-"])
    _ok(res)
    d = lib.one_dump(dumps, "exit")
    f = _facts(res)
    m, s = f["pty openpty"]
    _kinds_checks(d, res, {f["tmpfile open"][0]: "file", f["dup fcntl"][0]: "pipe", m: "pty"})
    eq((lib.need_fd(d, m)["cloexec"], lib.need_fd(d, s)["cloexec"]), (True, False),
       "cloexec of openpty's fds after set_inheritable(slave, True)")


def test_dupfd_of_an_inherited_pipe():
    """F_DUPFD of a pipe the process was given (a spawn child's, duplicated by CPython's
    _Py_dup) is a pipe from its acquisition, not [unknown] until the dump looks."""
    exe = lib.fixture("fp_cases")
    r, w = os.pipe()
    try:
        res, _ = lib.run_under_shim([exe, "dupin", str(r)], pass_fds=(r, w))
    finally:
        os.close(r)
        os.close(w)
    _ok(res)
    d = _exit_dump(res)
    e = lib.need_fd(d, int(res.facts("dupin")[0][2]))
    eq((e["origin"], e["call"], e["kind"], e["target"]), ("tracked", "fcntl", "pipe", ""),
       "the copy of an inherited pipe", lib.brief(d))
    eq(lib.need_fd(d, r)["kind"], "pipe", "kind of the inherited pipe")


def test_dlsym_through_a_handle_c():
    if lib.asan_build():
        raise lib.Skip("the sanitizer build does not interpose dlsym (shim/shim.mk: the "
                       "sanitizer runtime calls dlsym before it can run our code)")
    path = os.path.join(_data_dir(), "f")
    exe, res, _ = _run("fp_cases", ["dlsym", path])
    _ok(res)
    d = _exit_dump(res)
    for w in res.facts("leak"):
        e = lib.need_fd(d, int(w[2]))
        eq((e["origin"], e["call"]), ("tracked", "open"), "fd opened through %s" % w[1])
        lib.need_stack_function(d, e, exe, "do_dlsym")
    eq([w[1] for w in res.facts("dlerror")], ["1"], "dlerror after a failed lookup")
    eq([w[1] for w in res.facts("same")], ["1"], "the handle's open is the program's")
    bare = lib.run_plain([exe, "dlsym", path])
    eq(bare.stdout, res.stdout, "fixture output (fds, dlerror) bare vs under the library")


def test_ctypes_open_python():
    if lib.asan_build():
        raise lib.Skip("the sanitizer build does not interpose dlsym (shim/shim.mk: the "
                       "sanitizer runtime calls dlsym before it can run our code)")
    path = os.path.join(_data_dir(), "f")
    res, dumps = lib.run_under_shim([PYTHON, lib.py_script("fp_cases.py"), "ctypes", path])
    _ok(res)
    d = lib.one_dump(dumps, "exit")
    fd = int(res.facts("leak")[0][2])
    e = lib.need_fd(d, fd)
    eq((e["origin"], e["call"], e["path"]), ("tracked", "open", path), "ctypes open", lib.brief(d))


def test_rtld_next_from_a_shared_library():
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise lib.Skip("no C compiler")
    d = lib.new_tmpdir()
    src = os.path.join(lib.TESTS, "cases", "lib")
    for name, defs in (("a", ['-DFP_NAME="a"', "-DFP_ASK"]), ("b", ['-DFP_NAME="b"'])):
        subprocess.run([cc, "-shared", "-fPIC", "-o", os.path.join(d, "libfp%s.so" % name)] + defs
                       + [os.path.join(src, "fp_next.c"), "-ldl"], check=True)
    exe = os.path.join(d, "fp_next")
    subprocess.run([cc, "-o", exe, os.path.join(src, "fp_next_main.c"), "-Wl,--no-as-needed",
                    "-L" + d, "-lfpa", "-lfpb", "-ldl", "-Wl,-rpath," + d], check=True)
    bare = lib.run_plain([exe])
    res, _ = lib.run_under_shim([exe])
    _ok(res)
    eq(bare.stdout, "from_a b\nfrom_main a\ndefault a\nmissing 1\n", "bare output")
    eq(res.stdout, bare.stdout, "output under the library")


def test_run_lists_unknown_origin():
    exe = lib.fixture("fp_cases")
    r = lib.run_tool(["run", "--error-exitcode=3", "--", exe, "raw"])
    eq(r.returncode, 0, "unknown origin is no leak for --error-exitcode", r.stderr)
    check("unknown origin" in r.stderr, "fdleak run does not list unknown origin", r.stderr)
    r = lib.run_tool(["run", "--", exe, "raw0"])
    check("unknown origin" not in r.stderr and "no leaked descriptors" in r.stderr,
          "an unknown origin on fd 0 alone is listed", r.stderr)
    # the library's own text report follows the same rule
    for mode, shown in (("raw", True), ("raw0", False)):
        res, _ = lib.run_under_shim([exe, mode], output=False)
        _ok(res)
        eq("unknown origin" in res.stderr, shown, "text report of %s" % mode, res.stderr)


def test_ioctl_passes_through():
    exe = lib.fixture("fp_cases")
    bare = lib.run_plain([exe, "ioctl", "1000"])
    res, _ = lib.run_under_shim([exe, "ioctl", "1000"])
    eq(res.returncode, bare.returncode, "ioctl loop status bare vs under the library")


def test_resource_tracker_pipe_suppressed_by_default():
    """The default entry for multiprocessing's resource tracker pipe takes a pipe whose
    innermost Python frame is resource_tracker.py's ensure_running, and no other os.pipe()."""
    import json
    d = lib.new_tmpdir()
    keep = os.path.join(d, "keep")
    r = lib.run_tool(["run", "--keep-dumps=" + keep, "--", lib.fixture("fp_cases"), "kinds"])
    eq(r.returncode, 0, "fdleak run", r.stderr)
    files = [os.path.join(keep, f) for f in os.listdir(keep)]
    eq(len(files), 1, "kept dumps", files)
    with open(files[0]) as fh:
        j = json.load(fh)
    lib_py = "/usr/lib/python3.11/multiprocessing/"
    j["pystacks"] = [
        {"id": 7, "frames": [{"file": lib_py + "resource_tracker.py", "function": "ensure_running",
                              "line": 90},
                             {"file": "/srv/app.py", "function": "main", "line": 3}]},
        {"id": 8, "frames": [{"file": "/srv/app.py", "function": "ensure_running", "line": 5},
                             {"file": lib_py + "resource_tracker.py", "function": "register",
                              "line": 150}]}]
    pipes = [f for f in j["fds"] if f.get("call") == "pipe"]
    eq(len(pipes), 2, "pipe fds in the dump", j["fds"])
    pipes[0]["pystack"], pipes[1]["pystack"] = 7, 8
    dump = os.path.join(d, "d.json")
    with open(dump, "w") as fh:
        fh.write(json.dumps(j) + "\n")
    r = lib.run_tool(["report", dump])
    eq(r.returncode, 0, "fdleak report", r.stderr)
    out = r.stdout + r.stderr
    check("suppressed by python-multiprocessing-resource-tracker: 1 fd" in out,
          "the tracker's pipe is not suppressed", out)
    listed = {int(m) for m in re.findall(r"^==\d+==    fd (\d+) ", out, re.M)}
    check(pipes[1]["fd"] in listed and pipes[0]["fd"] not in listed,
          "pipes listed: expected only fd %d" % pipes[1]["fd"], out)


def test_multiprocessing_fork_child_clean():
    """A multiprocessing child started by fork reports neither what it inherited nor the
    /dev/null stdin multiprocessing gives it (a default suppression); without the default
    file, that stdin is its only leak."""
    script = lib.py_script("fp_mp_fork.py")
    r = lib.run_tool(["run", "--error-exitcode=3", "--", PYTHON, script])
    eq(r.returncode, 0, "fdleak run status", r.stderr)
    check("no leaked descriptors (2 processes checked; 1 fd suppressed)" in r.stderr,
          "summary line", r.stderr)
    r = lib.run_tool(["run", "--no-default-suppressions", "--", PYTHON, script])
    eq(len(re.findall(r"leaked from", r.stderr)), 1, "leak groups without the default file",
       r.stderr)
    check("in _close_stdin" in r.stderr, "the child's stdin", r.stderr)


def test_dlsym_table_covers_every_exported_wrapper():
    # shim/wrap_dl.c answers dlsym(handle, name) with our wrapper for the names in its table:
    # every libc name the library exports must be there (a missing one was found by hand)
    import re
    with open(os.path.join(lib.ROOT, "shim", "exports.map")) as fh:
        m = fh.read()
    exported = set(re.findall(r"(\w+);", m[m.index("global:"):m.index("local:")]))
    with open(os.path.join(lib.ROOT, "shim", "wrap_dl.c")) as fh:
        w = fh.read()
    table = w[w.index("#define WRAPPED(X)"):w.index("clang-format on")]
    wrapped = set(re.findall(r"X\((\w+)\)", table))
    own = {"dlsym", "dlvsym", "fdleak_checkpoint", "fdleak_report_since"}
    lib.eq(sorted(exported - own - wrapped), [], "exported wrappers missing from wrap_dl.c")
    lib.eq(sorted(wrapped - exported), [], "wrap_dl.c names the library does not export")
