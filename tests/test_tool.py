"""End-to-end tests of the `fdleak` command (tools/): run, snapshot and report, their options,
the text and JSON reports, symbolization to file:line (static and inlined functions, stripped
libraries), Ctrl-C, forked children, corrupt dumps and `make demo`.

The fixtures are tests/tool/*.c, *.cc, built by tests/tests.mk into $FDLEAK_BUILD/tests/tool/.
Line numbers are found from MARK comments in tests/tool/leaks.c, never written down."""
import glob
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import time

import lib

TESTS = lib.TESTS
ROOT = lib.ROOT
TIMEOUT = lib.TOOL_TIMEOUT
SRC = os.path.join(TESTS, "tool", "leaks.c")
_fixture = lib.tool_fixture
_fdleak = lib.run_tool


def _mark(name, path=SRC):
    """Line number of the MARK:name comment in a source file."""
    with open(path) as f:
        for i, line in enumerate(f, 1):
            if "MARK:%s " % name in line or line.rstrip().endswith("MARK:%s */" % name):
                return i
    raise AssertionError("no MARK:%s in %s" % (name, path))


def _run_json(args, cmd, env=None):
    """fdleak run with --json; returns (CompletedProcess, parsed JSON)."""
    d = lib.new_tmpdir()
    j = os.path.join(d, "r.json")
    r = _fdleak(["run", "--json", j] + args + ["--"] + cmd, env=env)
    data = json.load(open(j)) if os.path.exists(j) else None
    return r, data


def _group(proc, call, function=None):
    for g in proc["groups"]:
        if g["call"] == call and (function is None or
                                  any(f["function"] == function for f in g["stack"])):
            return g
    raise AssertionError("no group from %s() %s in %s" % (
        call, function or "", [(g["call"], [f["function"] for f in g["stack"]])
                               for g in proc["groups"]]))


def _one_line_error(r, *words):
    assert r.returncode != 0, "expected failure, got 0: %s" % r.stdout
    assert r.returncode > 0, "killed by signal %d" % -r.returncode
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, "expected one line, got:\n%s" % r.stderr
    for w in words:
        assert w in lines[0], "%r not in %r" % (w, lines[0])


def _children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def _wait_ready(proc, timeout=TIMEOUT):
    """Reads stdout lines until "ready"."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError("fixture ended before ready: %s" % proc.stderr.read())
        if line.strip() == "ready":
            return
    raise AssertionError("fixture never ready")


# ------------------------------------------------------------------------------- help, errors

def test_help_for_each_command():
    r = _fdleak(["--help"])
    assert r.returncode == 0 and "run" in r.stdout and "snapshot" in r.stdout, r.stdout
    for cmd in ("run", "snapshot", "report"):
        r = _fdleak([cmd, "--help"])
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith("Usage: fdleak %s" % cmd), r.stdout
        assert "--json" in r.stdout and "--error-exitcode" in r.stdout
    r = _fdleak(["run", "--help"])
    for opt in ("--depth", "--signal", "--threshold", "--show-inherited", "--keep-dumps", "-o"):
        assert opt in r.stdout, opt
    assert "--timeout" in _fdleak(["snapshot", "--help"]).stdout


def test_bad_options_are_one_line():
    cases = [
        (["run", "--bogus", "--", "true"], "unknown option"),
        (["run", "--depth=0", "--", "true"], "--depth=0"),
        (["run", "--depth=129", "--", "true"], "--depth=129"),
        (["run", "--threshold=abc", "--", "true"], "--threshold=abc"),
        (["run", "--threshold=0%", "--", "true"], "--threshold=0%"),
        (["run", "--signal=NOPE", "--", "true"], "--signal=NOPE"),
        (["run", "--signal=KILL", "--", "true"], "--signal=KILL"),
        (["run", "--error-exitcode=x", "--", "true"], "--error-exitcode=x"),
        (["run", "--json"], "needs a value"),
        (["run"], "no command"),
        (["report"], "no dump"),
        (["report", "--timeout=3", "x.json"], "not an option"),
        (["snapshot"], "one PID"),
        (["snapshot", "abc"], "not a process id"),
        (["snapshot", "--fds=-1", "1"], "--fds=-1"),
        (["frobnicate"], "unknown command"),
        ([], "Usage"),
    ]
    for args, word in cases:
        r = _fdleak(args)
        if args:
            _one_line_error(r, word)
        else:
            assert r.returncode == 2 and word in r.stderr, r.stderr


def test_run_without_the_library():
    r = _fdleak(["run", "--", "true"],
                env=lib.tool_env({"FDLEAK_LIB": "/nonexistent/libfdleak.so"}))
    _one_line_error(r, "FDLEAK_LIB=/nonexistent/libfdleak.so")
    d = lib.new_tmpdir()
    # a copy of the command with no library beside it or in ../lib/fdleak
    shutil.copy(lib.tool(), os.path.join(d, "fdleak"))
    r = subprocess.run([os.path.join(d, "fdleak"), "run", "--", "true"], env=lib.tool_env(),
                       capture_output=True, text=True, timeout=TIMEOUT)
    _one_line_error(r, "cannot find libfdleak.so", "FDLEAK_LIB")


def test_run_missing_command():
    r = _fdleak(["run", "--", "/nonexistent/program"])
    assert r.returncode == 127, r.returncode
    _one_line_error(r, "cannot run /nonexistent/program")


# ------------------------------------------------------------------------------------- run

def test_run_text_report_to_the_line():
    r = _fdleak(["run", "--", _fixture("leaks"), "file:3", "socket", "pipe", "dup2"])
    assert r.returncode == 0, r.stderr
    err = r.stderr
    pid = re.search(r"==(\d+)== fdleak: process \1 \(", err)
    assert pid, err
    assert "trigger: exit" in err
    assert "3 fds leaked from open() [file]" in err, err
    assert "leak_files (tests/tool/leaks.c:%d)" % _mark("loop_open") in err, err
    assert "1 fd leaked from socket() [socket]" in err, err
    assert "tests/tool/leaks.c:%d)" % _mark("socket_call") in err, err
    assert "2 fds leaked from pipe() [pipe]" in err, err
    assert "leaks.c:%d)" % _mark("pipe_call") in err, err
    assert "leaked from dup2()" in err and "fd 100 " in err, err
    assert "leaks.c:%d)" % _mark("dup2_call") in err, err
    assert re.search(r"fd \d+  127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+", err), err
    # largest group first
    assert err.index("3 fds leaked") < err.index("2 fds leaked") < err.index("1 fd leaked")
    assert re.search(r"summary: \d+ open fds of limit \d+; 7 leaked in 4 groups; trigger exit",
                     err), err
    assert "inherited: " in err


def test_run_json_report():
    r, data = _run_json([], [_fixture("leaks"), "file:3", "socket", "pipe"])
    assert r.returncode == 0, r.stderr
    assert data["version"] == 1
    assert len(data["processes"]) == 1, data
    p = data["processes"][0]
    for key in ("pid", "exe", "trigger", "open_fds", "limit_nofile", "groups", "inherited",
                "unknown_origin"):
        assert key in p, key
    assert p["trigger"] == "exit"
    assert p["exe"] == _fixture("leaks")
    assert p["limit_nofile"] > 0 and p["open_fds"] >= 7
    g = _group(p, "open", "leak_files")
    assert g["count"] == 3 and g["kind"] == "file", g
    top = g["stack"][0]
    assert top["function"] == "leak_files", top
    assert top["file"].endswith("tests/tool/leaks.c") and top["line"] == _mark("loop_open"), top
    assert top["module"] == _fixture("leaks") and top["ip"].startswith("0x")
    for fd in g["fds"]:
        for key in ("fd", "kind", "path", "cloexec", "age_ms", "tid"):
            assert key in fd, key
        assert fd["path"] == _fixture("leaks") and fd["tid"] == p["pid"], fd
    assert [f["fd"] for f in g["fds"]] == sorted(f["fd"] for f in g["fds"])
    s = _group(p, "socket")
    assert s["count"] == 1 and s["kind"] == "socket"
    assert s["fds"][0]["peer"].startswith("127.0.0.1:"), s
    pp = _group(p, "pipe")
    assert pp["count"] == 2 and pp["kind"] == "pipe"
    assert pp["stack"][0]["line"] == _mark("pipe_call")
    assert {i["fd"] for i in p["inherited"]} >= {0, 1, 2}
    assert data["processes"][0]["groups"][0]["count"] == 3


def test_run_exit_status_passthrough():
    r = _fdleak(["run", "--", _fixture("leaks"), "file:1", "exit:7"])
    assert r.returncode == 7, (r.returncode, r.stderr)
    assert "1 fd leaked from open()" in r.stderr
    r = _fdleak(["run", "--", _fixture("leaks"), "none"])
    assert r.returncode == 0, r.stderr
    assert "fdleak: no leaked descriptors (1 process checked)" in r.stderr, r.stderr


def test_error_exitcode():
    r = _fdleak(["run", "--error-exitcode=42", "--", _fixture("leaks"), "file:2"])
    assert r.returncode == 42, (r.returncode, r.stderr)
    r = _fdleak(["run", "--error-exitcode=42", "--", _fixture("leaks"), "none"])
    assert r.returncode == 0, (r.returncode, r.stderr)
    r = _fdleak(["run", "--error-exitcode=42", "--", _fixture("leaks"), "none", "exit:3"])
    assert r.returncode == 3, (r.returncode, r.stderr)
    r = _fdleak(["run", "--error-exitcode=42", "--", _fixture("leaks"), "file:1", "exit:3"])
    assert r.returncode == 42, (r.returncode, r.stderr)


def test_output_file():
    d = lib.new_tmpdir()
    out = os.path.join(d, "report.txt")
    r = _fdleak(["run", "-o", out, "--", _fixture("leaks"), "file:2"])
    assert r.returncode == 0, r.stderr
    assert "leaked" not in r.stderr, r.stderr
    text = open(out).read()
    assert "2 fds leaked from open() [file]" in text, text
    assert "\033[" not in text  # no colour in files
    r = _fdleak(["run", "-o", os.path.join(d, "no/such/dir/r.txt"), "--", "true"])
    _one_line_error(r, "no/such/dir/r.txt")


def test_depth():
    r, deep = _run_json([], [_fixture("leaks"), "file:1"])
    assert r.returncode == 0, r.stderr
    r, shallow = _run_json(["--depth=1"], [_fixture("leaks"), "file:1"])
    assert r.returncode == 0, r.stderr
    g_deep = _group(deep["processes"][0], "open")
    g_shallow = _group(shallow["processes"][0], "open")
    ips_deep = {f["ip"] for f in g_deep["stack"]}
    ips_shallow = {f["ip"] for f in g_shallow["stack"]}
    assert len(ips_shallow) == 1 and len(ips_deep) > 1, (ips_shallow, ips_deep)
    assert g_shallow["stack"][0]["line"] == _mark("loop_open")


def test_threshold_count():
    d = lib.new_tmpdir()
    r = _fdleak(["run", "--threshold=20", "--keep-dumps", d, "--",
                 _fixture("leaks"), "file:30"])
    assert r.returncode == 0, r.stderr
    assert "earlier dumps: threshold" in r.stderr, r.stderr
    dumps = [json.load(open(f)) for f in glob.glob(os.path.join(d, "*.json"))]
    th = [x for x in dumps if x["trigger"] == "threshold"]
    assert th and th[0]["threshold"] == 20, [x["trigger"] for x in dumps]
    rep = _fdleak(["report"] + sorted(glob.glob(os.path.join(d, "*.json"))))
    assert rep.returncode == 0, rep.stderr
    assert "trigger: threshold (20 live fds reached in open())" in rep.stdout, rep.stdout
    assert "leak_files (tests/tool/leaks.c:%d)" % _mark("loop_open") in rep.stdout


def test_threshold_percent():
    d = lib.new_tmpdir()

    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    r = subprocess.run([lib.tool(), "run", "--threshold=50%", "--keep-dumps", d, "--",
                        _fixture("leaks"), "file:40"], cwd=ROOT, env=lib.tool_env(),
                       capture_output=True, text=True, timeout=TIMEOUT,
                       preexec_fn=low_limit)
    assert r.returncode == 0, r.stderr
    dumps = [json.load(open(f)) for f in glob.glob(os.path.join(d, "*.json"))]
    th = [x for x in dumps if x["trigger"] == "threshold"]
    assert th and th[0]["threshold"] == 32, [(x["trigger"], x["threshold"]) for x in dumps]
    assert "of limit 64" in r.stderr, r.stderr


def test_signal_option_dumps_on_demand():
    d = lib.new_tmpdir()
    p = subprocess.Popen([lib.tool(), "run", "--signal=USR2", "--keep-dumps", d, "--",
                          _fixture("leaks"), "file:2", "pause"], cwd=ROOT, env=lib.tool_env(),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        _wait_ready(p)
        kids = _children(p.pid)
        assert len(kids) == 1, kids
        os.kill(kids[0], signal.SIGUSR2)
        for _ in range(500):  # until the on-demand dump is written (bounded: 5 s)
            names = glob.glob("/tmp/fdleak-run.*/fdleak.%d.1.json" % kids[0])
            if names:
                break
            time.sleep(0.01)
        os.kill(kids[0], signal.SIGTERM)
        out, err = p.communicate(timeout=TIMEOUT)
        assert p.returncode == -signal.SIGTERM, (p.returncode, err)
        assert "trigger: fatal-signal SIGTERM" in err, err
        assert "earlier dumps: signal (dump 1)" in err, err
        assert "2 fds leaked from open() [file]" in err, err
        triggers = sorted(json.load(open(f))["trigger"]
                          for f in glob.glob(os.path.join(d, "*.json")))
        assert triggers == ["fatal-signal", "signal"], triggers
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()


def test_show_inherited():
    d = lib.new_tmpdir()
    extra = os.path.join(d, "inherited-file")
    fd = os.open(extra, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        args = [_fixture("leaks"), "file:1"]
        r = subprocess.run([lib.tool(), "run", "--"] + args, cwd=ROOT, env=lib.tool_env(),
                           capture_output=True, text=True, timeout=TIMEOUT, pass_fds=(fd,))
        assert r.returncode == 0, r.stderr
        assert re.search(r"inherited: \d+ fds \(0-\d.*\); --show-inherited lists them",
                         r.stderr), r.stderr
        assert extra not in r.stderr
        r = subprocess.run([lib.tool(), "run", "--show-inherited", "--"] + args, cwd=ROOT,
                           env=lib.tool_env(), capture_output=True, text=True, timeout=TIMEOUT,
                           pass_fds=(fd,))
        assert r.returncode == 0, r.stderr
        assert "fd %d  %s  [file]" % (fd, extra) in r.stderr, r.stderr
        assert "1 fd leaked from open()" in r.stderr
    finally:
        os.close(fd)


def test_ctrl_c_still_reports():
    p = subprocess.Popen([lib.tool(), "run", "--", _fixture("leaks"), "file:2", "pause"],
                         cwd=ROOT, env=lib.tool_env(), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        _wait_ready(p)
        os.killpg(p.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
        out, err = p.communicate(timeout=TIMEOUT)
        assert p.returncode == -signal.SIGINT, (p.returncode, err)
        assert "trigger: fatal-signal SIGINT" in err, err
        assert "2 fds leaked from open() [file]" in err, err
        assert "leaks.c:%d)" % _mark("loop_open") in err, err
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()


def test_unknown_origin_listed():
    r, data = _run_json([], [_fixture("leaks"), "file:1", "raw"])
    assert r.returncode == 0, r.stderr
    p = data["processes"][0]
    unk = [u for u in p["unknown_origin"] if u["path"] == _fixture("leaks")]
    assert len(unk) == 1, p["unknown_origin"]
    assert "unknown origin (open, but not seen acquired): " in r.stderr, r.stderr
    assert "fd %d  %s  [file]" % (unk[0]["fd"], _fixture("leaks")) in r.stderr, r.stderr
    assert p["leaked"] == 1  # unknown origin is not counted as a leak


def test_emfile_dump():
    d = lib.new_tmpdir()

    def low_limit():
        # room above the soft limit for the dump file: the library keeps no reserve fd
        resource.setrlimit(resource.RLIMIT_NOFILE, (32, 64))
    r = subprocess.run([lib.tool(), "run", "--keep-dumps", d, "--", _fixture("leaks"),
                        "file:40"], cwd=ROOT, env=lib.tool_env(), capture_output=True,
                       text=True, timeout=TIMEOUT, preexec_fn=low_limit)
    assert r.returncode == 0, r.stderr
    assert "earlier dumps: emfile" in r.stderr, r.stderr
    assert "of limit 32;" in r.stderr
    em = [f for f in glob.glob(os.path.join(d, "*.json"))
          if json.load(open(f))["trigger"] == "emfile"]
    assert len(em) == 1, em
    j = os.path.join(d, "em.json")
    rep = _fdleak(["report", "--json", j, em[0]])
    assert rep.returncode == 0, rep.stderr
    assert "trigger: emfile (open() failed with EMFILE)" in rep.stdout, rep.stdout
    assert "open() that triggered the dump:" in rep.stdout, rep.stdout
    p = json.load(open(j))["processes"][0]
    assert p["trigger"] == "emfile" and p["trigger_call"] == "open"
    assert p["trigger_errno"] == 24
    assert p["trigger_stack"] and p["trigger_stack"][0]["line"] == _mark("loop_open")


def test_fork_child_gets_its_own_report():
    r, data = _run_json([], [_fixture("leaks"), "file:1", "fork"])
    assert r.returncode == 0, r.stderr
    procs = data["processes"]
    assert len(procs) == 2, [p["pid"] for p in procs]
    parent, child = procs[0], procs[1]
    assert child["ppid"] == parent["pid"], (parent["pid"], child["ppid"])
    lines = [g["stack"][0]["line"] for g in child["groups"] if g["stack"]]
    assert _mark("child_open") in lines, child["groups"]
    # the parent's descriptor, inherited through fork() and still open, is not the child's leak
    assert _mark("loop_open") not in lines, child["groups"]
    assert [g["stack"][0]["line"] for g in parent["groups"]] == [_mark("loop_open")]
    assert len(re.findall(r"fdleak: process \d+ ", r.stderr)) == 2, r.stderr


def test_static_binary_gets_a_clear_message():
    d = lib.new_tmpdir()
    src = os.path.join(d, "static.c")
    exe = os.path.join(d, "static")
    with open(src, "w") as f:
        f.write('#include <fcntl.h>\nint main(void) { return open("/", O_RDONLY) < 0; }\n')
    r = subprocess.run(["gcc", "-static", "-o", exe, src], capture_output=True, text=True,
                       timeout=TIMEOUT)
    if r.returncode != 0:
        raise lib.Skip("no static libc (libc.a) to link a static program")
    r = _fdleak(["run", "--", exe])
    assert r.returncode == 0, r.stderr
    _one_line_error(subprocess.CompletedProcess([], 1, "", r.stderr), "no dump was written",
                    "static")


def test_exec_children_followed():
    leaks = _fixture("leaks")
    r, data = _run_json([], ["/bin/sh", "-c", "%s file:1; %s file:2; exit 5" % (leaks, leaks)])
    assert r.returncode == 5, r.stderr
    counts = sorted(p["leaked"] for p in data["processes"] if p["exe"] == leaks)
    assert counts == [1, 2], [(p["exe"], p["leaked"]) for p in data["processes"]]


# ------------------------------------------------------------------------------ symbolization

def test_symbolize_static_and_inlined():
    r, data = _run_json([], [_fixture("leaks"), "static", "inline"])
    assert r.returncode == 0, r.stderr
    p = data["processes"][0]
    g = _group(p, "open", "leak_static")
    top = g["stack"][0]
    assert top["function"] == "leak_static" and top["line"] == _mark("static_open"), top
    assert not top["inlined"]
    g = _group(p, "open", "leak_inline")
    f0, f1 = g["stack"][0], g["stack"][1]
    assert f0["function"] == "leak_inline" and f0["inlined"], f0
    assert f0["line"] == _mark("inline_open"), f0
    assert f1["function"] == "leak_outer" and f1["line"] == _mark("inline_call"), f1
    assert f0["ip"] == f1["ip"]
    assert "leak_static (tests/tool/leaks.c:%d)" % _mark("static_open") in r.stderr
    assert "leak_inline (tests/tool/leaks.c:%d) [inlined]" % _mark("inline_open") in r.stderr
    assert "by leak_outer (tests/tool/leaks.c:%d)" % _mark("inline_call") in r.stderr


def test_cxx_names_demangled():
    r, data = _run_json([], [_fixture("cxx")])
    assert r.returncode == 0, r.stderr
    groups = data["processes"][0]["groups"]
    assert len(groups) == 2 and all(g["count"] == 1 for g in groups), groups
    src = os.path.join(TESTS, "tool", "cxx.cc")
    line = [i for i, l in enumerate(open(src), 1) if "MARK:cxx_open" in l][0]
    for g in groups:
        top = g["stack"][0]
        assert top["function"] == "ns::Opener::open_it(char const*)", top
        assert top["line"] == line, top
        assert g["stack"][1]["function"].startswith("int ns::twice<ns::Opener>("), g["stack"]
    assert "at ns::Opener::open_it(char const*) (tests/tool/cxx.cc:%d)" % line in r.stderr


def test_stripped_library_shows_module_offset():
    r, data = _run_json([], [_fixture("leaks"), "stripped"])
    assert r.returncode == 0, r.stderr
    g = _group(data["processes"][0], "open")
    top = g["stack"][0]
    assert top["module"].endswith("/libfdlstripped.so") and top["function"] is None, top
    assert top["file"] is None and top["line"] is None
    assert top["offset"].startswith("0x")
    assert re.search(r"at libfdlstripped\.so\+0x[0-9a-f]+\n", r.stderr), r.stderr
    assert re.search(r"by fdl_stripped_open \(libfdlstripped\.so\+0x[0-9a-f]+\)", r.stderr), r.stderr


# -------------------------------------------------------------------------------- snapshot

def _own_snapdir():
    """/tmp/fdleak-<uid>, made as the library would make it (fdleak snapshot creates nothing)."""
    d = "/tmp/fdleak-%d" % os.getuid()
    if not os.path.isdir(d):
        os.mkdir(d, 0o700)


def test_snapshot_live_process_now_and_later():
    _own_snapdir()
    env = lib.shim_env({})
    p = subprocess.Popen([_fixture("leaks"), "file:3", "hold"], env=env, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    d = lib.new_tmpdir()
    try:
        _wait_ready(p)
        j1 = os.path.join(d, "1.json")
        r = _fdleak(["snapshot", str(p.pid), "--json", j1])
        assert r.returncode == 0, r.stderr
        assert "fdleak: process %d" % p.pid in r.stdout and "trigger: signal" in r.stdout
        assert "3 fds leaked from open() [file]" in r.stdout, r.stdout
        assert _group(json.load(open(j1))["processes"][0], "open")["count"] == 3
        p.stdin.write("more 5\n")
        p.stdin.flush()
        _wait_ready(p)
        j2 = os.path.join(d, "2.json")
        r = _fdleak(["snapshot", "--json", j2, str(p.pid)])
        assert r.returncode == 0, r.stderr
        # the same line, reached from two callers: two groups, the larger first
        assert "5 fds leaked from open() [file]" in r.stdout, r.stdout
        assert "3 fds leaked from open() [file]" in r.stdout, r.stdout
        assert "8 leaked in 2 groups" in r.stdout, r.stdout
        proc = json.load(open(j2))["processes"][0]
        assert proc["trigger"] == "signal"
        assert [g["count"] for g in proc["groups"]] == [5, 3], proc["groups"]
        assert all(g["stack"][0]["line"] == _mark("loop_open") for g in proc["groups"])
        assert not glob.glob("/tmp/fdleak-%d/snapshot.%d.*" % (os.getuid(), p.pid))
    finally:
        p.stdin.close()
        p.wait(timeout=TIMEOUT)


def test_snapshot_reads_signal_and_dir_from_the_process():
    d = lib.new_tmpdir()
    # the process's user makes it (the library does, when it can); fdleak itself never does
    snapdir = os.path.join(d, "snaps")
    os.mkdir(snapdir, 0o700)
    p = subprocess.Popen([_fixture("leaks"), "pipe", "hold"],
                         env=lib.shim_env({"FDLEAK_SIGNAL": "USR2",
                                           "FDLEAK_SNAPSHOT_DIR": snapdir}),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        _wait_ready(p)
        r = _fdleak(["snapshot", str(p.pid)])
        assert r.returncode == 0, r.stderr
        assert "trigger: signal SIGUSR2" in r.stdout, r.stdout
        assert "2 fds leaked from pipe() [pipe]" in r.stdout, r.stdout
        assert os.stat(snapdir).st_mode & 0o777 == 0o700
        assert os.listdir(snapdir) == [], os.listdir(snapdir)
    finally:
        p.stdin.close()
        p.wait(timeout=TIMEOUT)
    p = subprocess.Popen([_fixture("leaks"), "hold"],
                         env=lib.shim_env({"FDLEAK_SIGNAL": "none"}), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_ready(p)
        r = _fdleak(["snapshot", str(p.pid)])
        _one_line_error(r, "dump signal disabled")
    finally:
        p.stdin.close()
        p.wait(timeout=TIMEOUT)


def test_snapshot_errors():
    p = subprocess.Popen(["sleep", "60"], env=lib.tool_env())
    try:
        r = _fdleak(["snapshot", str(p.pid)])
        _one_line_error(r, "process %d is not running under fdleak" % p.pid)
    finally:
        p.kill()
        p.wait()
    r = _fdleak(["snapshot", "999999999"])
    _one_line_error(r, "no process 999999999")


def test_snapshot_after_the_main_thread_ended():
    """A process whose main thread called pthread_exit lives on in another thread; /proc/PID
    then shows no memory map, environment or current directory. The snapshot reads them from
    the live thread: its relative FDLEAK_SNAPSHOT_DIR is found, and the report comes (the
    command said the process was not running under fdleak)."""
    d = lib.new_tmpdir()
    env = lib.shim_env({"FDLEAK_SNAPSHOT_DIR": "snaps"})
    p = subprocess.Popen([_fixture("leaks"), "file:3", "leader_hold"], env=env, cwd=d,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        _wait_ready(p)
        for _ in range(500):  # until the main thread is a zombie (bounded: 5 s)
            with open("/proc/%d/stat" % p.pid) as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break
            time.sleep(0.01)
        else:
            raise AssertionError("the main thread did not end")
        r = _fdleak(["snapshot", str(p.pid)])
        assert r.returncode == 0, r.stderr
        assert "3 fds leaked from open() [file]" in r.stdout, r.stdout
        assert "leaks.c:%d)" % _mark("loop_open") in r.stdout, r.stdout
        assert os.path.isdir(os.path.join(d, "snaps")), os.listdir(d)
    finally:
        err = p.communicate(timeout=TIMEOUT)[1]
    assert p.returncode == 0, err
    # the exit report, from that thread, finds them too (it found none, listing /proc/self/fd)
    assert "3 fds leaked from open() [file]" in err, err
    assert "summary: 6 open fds" in err, err


def test_snapshot_of_a_process_that_is_ending():
    """A process whose checks fail while it ends: its main thread has ended, and its last
    thread, which blocks every signal, ends it 200 ms later. The snapshot tries the checks
    again and says the process exited, not why a check failed (the command said it was not
    running under fdleak, then)."""
    env = lib.shim_env({})
    p = subprocess.Popen([_fixture("leaks"), "leader_exit"], env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_ready(p)
        r = _fdleak(["snapshot", str(p.pid)])
        _one_line_error(r, "process %d exited; nothing sent" % p.pid)
    finally:
        p.communicate(timeout=TIMEOUT)


def test_snapshot_timeout_on_stopped_process():
    env = lib.shim_env({})
    p = subprocess.Popen([_fixture("leaks"), "file:1", "hold"], env=env, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_ready(p)
        os.kill(p.pid, signal.SIGSTOP)
        r = _fdleak(["snapshot", "--timeout=1", str(p.pid)])
        _one_line_error(r, "no dump from %d within 1 s" % p.pid)
    finally:
        os.kill(p.pid, signal.SIGCONT)
        p.stdin.close()
        p.wait(timeout=TIMEOUT)
        for f in glob.glob("/tmp/fdleak-%d/snapshot.%d.*" % (os.getuid(), p.pid)):
            os.unlink(f)


# ---------------------------------------------------------------------------------- report

def _selfdump(d, actions):
    env = lib.tool_env({"SELF_DUMP": os.path.join(d, "self")})
    env.pop("LD_PRELOAD", None)  # a sanitizer runtime would intercept backtrace()
    r = subprocess.run([_fixture("leaks-selfdump")] + actions, cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    files = glob.glob(os.path.join(d, "self.*.json"))
    assert len(files) == 1, files
    return files[0]


def test_report_saved_dump_without_shim():
    """A dump written by the fixture itself (docs/dump-format.md), independent of the shim."""
    d = lib.new_tmpdir()
    dump = _selfdump(d, ["file:2", "static", "inline", "stripped"])
    j = os.path.join(d, "out.json")
    r = _fdleak(["report", dump, "--json", j])
    assert r.returncode == 0, r.stderr
    assert "2 fds leaked from open() [file]" in r.stdout, r.stdout
    assert "leak_static (tests/tool/leaks.c:%d)" % _mark("static_open") in r.stdout
    assert "leak_inline (tests/tool/leaks.c:%d) [inlined]" % _mark("inline_open") in r.stdout
    assert re.search(r"at libfdlstripped\.so\+0x[0-9a-f]+\n", r.stdout), r.stdout
    p = json.load(open(j))["processes"][0]
    assert _group(p, "open", "leak_outer")["stack"][1]["line"] == _mark("inline_call")
    r = _fdleak(["report", "--error-exitcode=9", dump])
    assert r.returncode == 9
    r = _fdleak(["report", "-o", os.path.join(d, "t.txt"), dump])
    assert r.returncode == 0 and r.stdout == "", r.stdout
    assert "leak_static" in open(os.path.join(d, "t.txt")).read()


def test_report_kept_dumps_match_run():
    d = lib.new_tmpdir()
    r = _fdleak(["run", "--keep-dumps", d, "--", _fixture("leaks"), "file:2", "pipe"])
    assert r.returncode == 0, r.stderr
    files = glob.glob(os.path.join(d, "*.json"))
    assert len(files) == 1, files
    rep = _fdleak(["report", files[0]])
    assert rep.returncode == 0, rep.stderr
    body = lambda s: [l for l in s.splitlines() if l.startswith("==")]
    assert body(rep.stdout) == body(r.stderr), (rep.stdout, r.stderr)


def test_report_changed_binary_warns():
    d = lib.new_tmpdir()
    exe = os.path.join(d, "leaks-copy")
    shutil.copy(_fixture("leaks-selfdump"), exe)
    env = lib.tool_env({"SELF_DUMP": os.path.join(d, "self"),
                        "LD_LIBRARY_PATH": os.path.dirname(_fixture("leaks"))})
    r = subprocess.run([exe, "file:1"], env=env,
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    dump = glob.glob(os.path.join(d, "self.*.json"))[0]
    # as if the binary had been rebuilt since the dump: the build-ids differ
    text = open(dump).read().replace('"build_id": "', '"build_id": "ff', 1)
    open(dump, "w").write(text)
    rep = _fdleak(["report", dump])
    assert rep.returncode == 0, rep.stderr
    assert "build-id differs from the dump" in rep.stderr, rep.stderr
    assert re.search(r"at leaks-copy\+0x[0-9a-f]+", rep.stdout), rep.stdout


def test_report_corrupt_and_truncated_dumps():
    d = lib.new_tmpdir()
    good = _selfdump(d, ["file:1"])
    text = open(good).read()
    cases = {
        "truncated.json": (text[:len(text) // 2], "truncated dump"),
        "cut-at-brace.json": (text[:text.index("}") + 1], "truncated dump"),
        "empty.json": ("", "truncated dump"),
        "corrupt.json": (text.replace('"fds": [', '"fds": [ @@ ', 1), "invalid JSON at line"),
        "other.json": ('{"hello": "world"}\n', "not an fdleak dump"),
        "text.json": ("this is not json\n", "not an fdleak dump"),
        "binary.json": ("\x00\x01\x02\xff" * 100, "not an fdleak dump"),
        "deep.json": ('{"a":' + "[" * 100000 + "]" * 100000 + "}\n", "nested too deeply"),
        "version.json": (text.replace('"version": 1', '"version": 99', 1),
                         "unsupported dump version 99"),
        "nofds.json": (text.replace('"fds"', '"fdz"', 1), 'no "fds" array'),
    }
    for name, (content, why) in cases.items():
        path = os.path.join(d, name)
        with open(path, "w", encoding="latin-1") as f:
            f.write(content)
        r = _fdleak(["report", path])
        _one_line_error(r, path, why)
        assert r.returncode == 1, r.returncode
    r = _fdleak(["report", os.path.join(d, "missing.json")])
    _one_line_error(r, "missing.json", "No such file")
    # one bad dump among good ones: the good one is still rendered, status 1
    r = _fdleak(["report", good, os.path.join(d, "truncated.json")])
    assert r.returncode == 1 and "1 fd leaked from open()" in r.stdout, r
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_report_many_fds():
    """100,000 descriptors over 300 stacks: rendered completely (speed is for bench/)."""
    d = lib.new_tmpdir()
    dump = json.load(open(_selfdump(d, ["file:1"])))
    fd0 = dump["fds"][3]
    stack = dump["stacks"][0]
    dump["stacks"] = [{"id": i + 1, "ips": stack["ips"]} for i in range(300)]
    fds = dump["fds"][:3]
    for n in range(100000):
        f = dict(fd0)
        f["fd"] = 3 + n
        f["stack"] = 1 + n % 300
        fds.append(f)
    dump["fds"] = fds
    path = os.path.join(d, "big.json")
    with open(path, "w") as f:
        json.dump(dump, f)
        f.write("\n")
    j = os.path.join(d, "big.out.json")
    r = _fdleak(["report", path, "--json", j, "--fds=2"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("334 fds leaked from open()") == 100000 % 300, r.stdout[:500]
    assert "... and 332 more (--fds=0 lists all)" in r.stdout
    p = json.load(open(j))["processes"][0]
    assert sum(g["count"] for g in p["groups"]) == 100000 and len(p["groups"]) == 300


# ------------------------------------------------------------------------- python, demo, install

def test_python_script():
    r, data = _run_json([], ["/usr/bin/python3", os.path.join(ROOT, "examples", "leaky.py")])
    assert r.returncode == 0, r.stderr
    procs = data["processes"]
    assert procs, r.stderr
    p = procs[0]
    assert any(g["kind"] == "pipe" for g in p["groups"]), r.stderr
    src = os.path.join(ROOT, "examples", "leaky.py")
    line = [i for i, l in enumerate(open(src), 1) if "f = open(" in l][0]
    files = [g for g in p["groups"] if g["kind"] == "file"]
    assert len(files) == 1 and files[0]["count"] == 3, r.stderr
    py = files[0]["pystack"]
    assert py and py[0]["file"].endswith("examples/leaky.py") and py[0]["line"] == line, py
    assert py[0]["function"] == "write_reports", py
    assert "Python stack:" in r.stderr
    assert "examples/leaky.py:%d in write_reports" % line in r.stderr, r.stderr
    # and the C frames below that line, up to the interpreter's eval loop (not included)
    c = files[0]["stack"]
    assert c and not any((f["function"] or "").startswith("_PyEval_EvalFrame") for f in c), c
    block = r.stderr.split("leaked from ")[1].split("leaked from")[0]
    assert block.index("Python stack:") < block.index("C stack:"), r.stderr


def test_make_demo():
    r = subprocess.run(["make", "--no-print-directory", "BUILD=" + lib.build_dir(), "demo"],
                       cwd=ROOT, env=lib.tool_env(), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout + r.stderr
    src = os.path.join(ROOT, "examples", "leaky_server.c")
    line = [i for i, l in enumerate(open(src), 1) if 'open("/tmp/leaky_server.log"' in l][0]
    assert "5 fds leaked from open() [file]" in out, out
    assert "log_request (examples/leaky_server.c:%d)" % line in out, out
    assert "leaked from socket() [socket]" in out and "leaked from pipe() [pipe]" in out, out
    assert "leaky.py" in out


def test_make_install():
    d = lib.new_tmpdir()
    r = subprocess.run(["make", "--no-print-directory", "BUILD=" + lib.build_dir(), "install",
                        "PREFIX=" + d], cwd=ROOT, env=lib.tool_env(), capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    for f in ("bin/fdleak", "lib/fdleak/libfdleak.so", "share/man/man1/fdleak.1"):
        assert os.path.exists(os.path.join(d, f)), f
    r = subprocess.run([os.path.join(d, "bin", "fdleak"), "run", "--", _fixture("leaks"),
                        "file:1"], cwd=ROOT, env=lib.tool_env(), capture_output=True, text=True,
                       timeout=TIMEOUT)
    assert r.returncode == 0 and "1 fd leaked from open()" in r.stderr, r.stderr
    r = subprocess.run(["make", "--no-print-directory", "BUILD=" + lib.build_dir(), "uninstall",
                        "PREFIX=" + d], cwd=ROOT, env=lib.tool_env(), capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0 and not os.path.exists(os.path.join(d, "bin", "fdleak"))


def test_colour_only_when_asked():
    args = ["run", "--", _fixture("leaks"), "file:1"]
    r = _fdleak(args)
    assert "\033[" not in r.stderr  # stderr is a pipe here
    r = _fdleak(["run", "--color=always", "--", _fixture("leaks"), "file:1"])
    assert "\033[1;31m1 fd leaked from open()" in r.stderr, r.stderr
    r = _fdleak(["run", "--color=never", "--", _fixture("leaks"), "file:1"])
    assert "\033[" not in r.stderr


def test_json_to_stdout_and_kept_dump_path():
    d = lib.new_tmpdir()
    r = _fdleak(["run", "--json=-", "--keep-dumps=" + d, "--", _fixture("leaks"), "file:1"])
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    p = data["processes"][0]
    assert p["dump"].startswith(d + "/") and os.path.exists(p["dump"]), p["dump"]
    r = _fdleak(["run", "--json=-", "--", _fixture("leaks"), "file:1"])
    assert json.loads(r.stdout)["processes"][0]["dump"] == ""


def test_separate_debug_file_by_build_id():
    """A stripped binary is symbolized from /usr/lib/debug/.build-id/xx/yyyy.debug, also when
    the binary itself is gone (the test needs to write there: skipped if it cannot)."""
    if not os.access("/usr/lib/debug", os.W_OK) and not os.access("/usr/lib", os.W_OK):
        raise lib.Skip("/usr/lib/debug is not writable")
    d = lib.new_tmpdir()
    debug = None
    try:
        exe = os.path.join(d, "leaks-dbg")
        shutil.copy(_fixture("leaks-selfdump"), exe)
        saved = os.path.join(d, "saved-debug-info")  # not a name elfutils looks for
        for c in (["objcopy", "--only-keep-debug", exe, saved],
                  ["strip", "--strip-all", exe]):
            r = subprocess.run(c, capture_output=True, text=True, timeout=TIMEOUT)
            assert r.returncode == 0, r.stderr
        env = lib.tool_env({"SELF_DUMP": os.path.join(d, "self"),
                            "LD_LIBRARY_PATH": os.path.dirname(_fixture("leaks"))})
        env.pop("LD_PRELOAD", None)
        r = subprocess.run([exe, "static"], env=env, capture_output=True, text=True,
                           timeout=TIMEOUT)
        assert r.returncode == 0, r.stderr
        dump = glob.glob(os.path.join(d, "self.*.json"))[0]
        build_id = [m for m in json.load(open(dump))["modules"] if m["path"] == exe][0]["build_id"]
        assert len(build_id) > 2
        r = _fdleak(["report", dump])
        assert r.returncode == 0 and "leaks.c:" not in r.stdout, r.stdout
        assert re.search(r"at leaks-dbg\+0x[0-9a-f]+", r.stdout), r.stdout
        debug = "/usr/lib/debug/.build-id/%s/%s.debug" % (build_id[:2], build_id[2:])
        os.makedirs(os.path.dirname(debug), exist_ok=True)
        shutil.copy(saved, debug)
        want = "leak_static (tests/tool/leaks.c:%d)" % _mark("static_open")
        r = _fdleak(["report", dump])
        assert r.returncode == 0 and want in r.stdout, r.stdout
        os.unlink(exe)  # only the debug file is left
        r = _fdleak(["report", dump])
        assert r.returncode == 0 and want in r.stdout, r.stdout + r.stderr
    finally:
        if debug and os.path.exists(debug):
            os.unlink(debug)


def test_run_waits_for_processes_that_outlive_the_program():
    """A process the program started and left running (a multiprocessing resource tracker, a
    worker finishing) is waited for, a bounded while, so its exit dump is in the report; one
    still running after that is named as unchecked, and the command does not wait for it."""
    late = ("import os, time\ntime.sleep(0.5)\nkept = os.pipe()  # the late leak\n")
    script = ("(exec /usr/bin/python3 -c '%s' </dev/null >/dev/null 2>&1) & exit 0" % late)
    r = lib.run_tool(["run", "--", "/bin/bash", "-c", script])
    lib.eq(r.returncode, 0, "fdleak run", r.stderr)
    lib.check("could not be checked" not in r.stderr, "the late child was not waited for", r.stderr)
    lib.check(re.search(r"2 fds leaked from pipe2?\(\) \[pipe\]", r.stderr), "its leak", r.stderr)
    lib.check("<string>:3 in <module>" in r.stderr, "its Python line", r.stderr)
    t0 = time.monotonic()
    r = lib.run_tool(["run", "--", "/bin/bash", "-c",
                      "(exec /bin/sleep 20 </dev/null >/dev/null 2>&1) & echo $! ; exit 0"])
    took = time.monotonic() - t0
    pid = int(r.stdout.split()[0])
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    lib.eq(r.returncode, 0, "fdleak run", r.stderr)
    lib.check(re.search(r"process %d \(\S*sleep[^)]*\) could not be checked: still running" % pid,
                    r.stderr), "the daemon named as unchecked", r.stderr)
    lib.check(took < 15, "fdleak run waited %.1f s for a daemon" % took)


def test_run_reaps_orphans_while_the_program_runs():
    """`fdleak run` is the subreaper of the program's processes: the orphans it inherits are
    reaped as they end, as init would, not left as zombies until the program ends."""
    # zombies counted with bash builtins from /proc: procps' ps hangs in textdomain() under
    # libasan alone (seen with the sanitizer build's runtime preloaded, no fdleak involved)
    script = ("for i in {1..30}; do ( /bin/true & ); done; sleep 0.5; n=0; "
              "for f in /proc/[0-9]*/stat; do read -r s < $f 2>/dev/null || continue; "
              "set -- ${s##*) }; [ \"$2\" = $PPID ] && [ \"$1\" = Z ] && n=$((n+1)); done; "
              "echo $n")
    r = lib.run_tool(["run", "--", "/bin/bash", "-c", script])
    lib.eq(r.stdout.split(), ["0"], "zombies under fdleak run while the program runs", r.stderr)
