"""End-to-end tests of libfdleak.so: real programs. Each fixture of tests/cases/ runs under the
library and its raw dumps (docs/dump-format.md) are checked against the facts it printed."""
import os
import re
import shutil
import signal
import subprocess
import time

import lib
from lib import check, eq
from shimcase import OPEN_FAMILY, _data_dir, _run, _ok, _exit_dump, _simple_leak_only, _check_leaks

DUMP_SIG = lib.default_dump_signal()


def test_python_leaks_file_and_socket():
    data = _data_dir()
    path = os.path.join(data, "f")
    res, dumps = lib.run_under_shim(["/usr/bin/python3", lib.py_script("leak_file_socket.py"),
                                     path])
    _ok(res)
    pid = int(res.facts("pid")[0][1])
    d = _exit_dump(res, pid)
    ffd = lib.fact_fds(res.stdout, "leak", "file")[0]
    sfd = lib.fact_fds(res.stdout, "leak", "socket")[0]
    e = lib.need_fd(d, ffd)
    eq(e["origin"], "tracked", "origin of the file")
    check(e["call"] in OPEN_FAMILY, "call of the file: %r" % e["call"])
    eq(e["kind"], "file", "kind of the file")
    eq(e["path"], path, "path of the file")
    s = lib.need_fd(d, sfd)
    eq(s["origin"], "tracked", "origin of the socket")
    eq(s["call"], "socket", "call of the socket")
    eq(s["kind"], "socket", "kind of the socket")
    if d.get("pystacks"):
        check(e.get("pystack"), "the file has no pystack although pystacks are recorded")
        frames = [p for p in d["pystacks"] if p["id"] == e["pystack"]]
        check(frames, "pystack %r missing" % e.get("pystack"))
        funcs = [f.get("function") for f in frames[0]["frames"]]
        check("open_leak" in funcs, "Python stack of the file: %s" % frames[0]["frames"])
        check(any(str(f.get("file", "")).endswith("leak_file_socket.py")
                  for f in frames[0]["frames"]), "script file not in the Python stack")
        with open(lib.py_script("leak_file_socket.py")) as fh:
            line = 1 + [i for i, l in enumerate(fh) if "os.open(" in l][0]
        eq(frames[0]["frames"][0].get("line"), line, "line of the innermost Python frame")
        with open(lib.py_script("leak_file_socket.py")) as fh:
            src = fh.read().splitlines()
        for w in res.facts("leak"):
            if w[1] != "twice":
                continue
            x = lib.need_fd(d, int(w[2]))
            fr = [p for p in d["pystacks"] if p["id"] == x.get("pystack")]
            want = 1 + [i for i, l in enumerate(src) if l.endswith("# " + w[3])][0]
            check(fr, "fd %s has no Python stack" % w[2])
            eq((fr[0]["frames"][0].get("function"), fr[0]["frames"][0].get("line")),
               ("open_twice", want), "innermost Python frame of fd %s" % w[2])
        sf = [p for p in d["pystacks"] if p["id"] == s.get("pystack")]
        check(sf and "sock_leak" in [f.get("function") for f in sf[0]["frames"]],
              "Python stack of the socket: %s" % (sf and sf[0]["frames"]))


def test_bash_pipeline():
    res, dumps = lib.run_under_shim(["/bin/bash", "-c", "cat /etc/hostname | wc -l"])
    _ok(res)
    eq(res.stdout.strip(), "1", "pipeline output")
    pids = {d["pid"] for d in dumps}
    check(len(pids) >= 3, "dumps from %d processes (bash, cat, wc expected)" % len(pids),
          [(d["pid"], d["exe"], d["trigger"]) for d in dumps])
    for d in dumps:
        lib.check_complete(d)
        eq(d["trigger"], "exit", "trigger of %s" % d["exe"])
        bad = [e for e in lib.leaks(d) if e["kind"] == "pipe"]
        eq(bad, [], "pipe ends reported as leaks by %s (pid %d)" % (d["exe"], d["pid"]))
        if not d["exe"].endswith("bash"):
            for fd in (0, 1):
                e = lib.fd_entry(d, fd)
                check(e is None or e["origin"] == "inherited",
                      "fd %d of %s: %s" % (fd, d["exe"], e))


def test_python_subprocess_vfork():
    path = os.path.join(_data_dir(), "f")
    res, dumps = lib.run_under_shim(["/usr/bin/python3", lib.py_script("subproc.py"), path],
                                    timeout=60)
    _ok(res)
    pid = int(res.facts("pid")[0][1])
    d = _exit_dump(res, pid)
    eq(res.facts("echo"), [["echo", "hi"]], "output of the child")
    want = lib.fact_fds(res.stdout, "leak")
    eq(sorted(e["fd"] for e in lib.leaks(d)), sorted(want), "tracked fds of python3",
       lib.brief(d))
    for cd in dumps:
        lib.check_complete(cd)
        if cd["pid"] != pid:
            eq([e for e in lib.leaks(cd) if e["kind"] == "pipe"], [],
               "pipe leaks in child %s" % cd["exe"])


def test_fork_while_threads_churn():
    exe, res, dumps = _run("fork_threads", timeout=60)
    _ok(res)
    d = _exit_dump(res)
    _check_leaks(d, res, exe, {"open": {"func": "parent_open"}})
    children = res.facts("child")
    eq(len(children), 20, "children that ran")
    for w in children:
        pid, fd = int(w[1]), int(w[2])
        cd = lib.one_dump(dumps, "exit", pid)
        lib.check_complete(cd)
        eq(cd["ppid"], d["pid"], "ppid of child %d" % pid)
        e = lib.need_fd(cd, fd)
        eq(e["call"], "open", "call of the child's fd %d" % fd)
        lib.need_stack_function(cd, e, exe, "child_open")
        for x in lib.leaks(cd):
            check(x["call"] in ("open", "socket", "pipe"),
                  "child %d: unexpected record %s" % (pid, x))


def test_fork_while_threads_unwind():
    # a fork while another thread holds libunwind's lock (a cache miss on a new call path) must
    # not hang the child: before the shim made fork wait for unwinding threads, 1 run in 5 hung
    exe, res, dumps = _run("fork_unwinding", env={"FDLEAK_EXIT": "0"}, timeout=120)
    _ok(res)
    eq(res.facts("children"), [["children", "200", "failed", "0"]], "children")


def _sigqueue(pid, sig, value):
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)

    class Sigval(ctypes.Union):
        _fields_ = [("sival_int", ctypes.c_int), ("sival_ptr", ctypes.c_void_p)]

    r = libc.sigqueue(ctypes.c_int(pid), ctypes.c_int(sig), Sigval(sival_int=value))
    check(r == 0, "sigqueue failed: errno %d" % ctypes.get_errno())


SNAP_TOKEN = 4242


def _request_snapshot(mode):
    """Starts `simple wait` under the library with FDLEAK_SNAPSHOT_DIR a new directory of this
    mode and sends it a snapshot request (sigqueue). Returns (proc, outdir, snapdir, stdout
    read so far, path of the snapshot file asked for)."""
    snapdir = lib.new_tmpdir("fdleak-snap-")
    os.chmod(snapdir, mode)
    proc, outdir = lib.spawn_under_shim([lib.fixture("simple"), "wait"],
                                        env={"FDLEAK_SNAPSHOT_DIR": snapdir},
                                        watchdog=lib.TIMEOUT)
    seen = lib.wait_line(proc.stdout, "ready", lines=True)
    pid = int(seen[-1].split()[1])
    _sigqueue(pid, DUMP_SIG, lib.snapshot_value(SNAP_TOKEN))
    want = os.path.join(snapdir, "snapshot.%d.%d.json" % (pid, SNAP_TOKEN))
    return proc, outdir, snapdir, "".join(seen), want


def _finish(proc):
    """Lets `simple wait` exit; returns (stdout, stderr) and checks its exit status."""
    try:
        out, err = proc.communicate("go\n", timeout=lib.TIMEOUT)
    finally:
        lib.kill_group(proc)
        proc.wait(timeout=lib.TIMEOUT)
    eq(proc.returncode, 0, "exit status after a snapshot request", err)
    return out, err


def test_snapshot_request_writes_snapshot_file():
    proc, outdir, snapdir, out, want = _request_snapshot(0o700)
    try:
        for _ in range(200):  # the file appears once the handler has run (bounded: 5 s)
            if os.path.exists(want) or proc.poll() is not None:
                break
            time.sleep(0.025)
    finally:
        more, err = _finish(proc)
    out += more
    dumps, _ = lib.read_dumps(outdir)
    check(os.path.exists(want), "no %s (dir: %s)" % (want, os.listdir(snapdir)), err)
    eq(sorted(os.listdir(snapdir)), [os.path.basename(want)], "files in the snapshot dir")
    ds, _ = lib.read_dumps(snapdir)
    d = ds[0]
    lib.check_complete(d)
    eq(d["trigger"], "signal", "trigger of a snapshot")
    fd = lib.fact_fds(out, "leak")[0]
    eq(lib.need_fd(d, fd)["call"], "open", "call of the leak in the snapshot")
    eq(lib.by_trigger(dumps, "signal"), [], "snapshot also written to FDLEAK_OUTPUT")


def test_snapshot_dir_writable_by_others_refused():
    proc, outdir, snapdir, out, want = _request_snapshot(0o777)
    try:
        # the library's answer to the request; a request never handled ends at the watchdog
        line = lib.wait_line(proc.stderr, "fdleak: snapshot directory ")
    finally:
        _, err = _finish(proc)
    check("%s is not owned by this user or is writable by others; not writing there" % snapdir
          in line, "refusal message for a world-writable snapshot dir", line)
    eq(os.listdir(snapdir), [], "files written to a world-writable snapshot dir")
    dumps, _ = lib.read_dumps(outdir)
    eq(lib.by_trigger(dumps, "signal"), [], "refused snapshot written to FDLEAK_OUTPUT instead")


def test_program_takes_over_shim_fd_numbers():
    exe, res, dumps = _run("clobber")
    _ok(res)
    taken = lib.fact_fds(res.stdout, "leak", "dup2")
    d = _exit_dump(res)
    _check_leaks(d, res, exe, {"dup2": {"func": "take_over", "kind": "file", "path": False},
                               "open": {"kind": "file"}, "pipe": {"kind": "pipe"}})
    # the library holds no descriptor the program could see, so there is nothing to take over
    # (tests/test_host_capture.py dup2()s onto the numbers it used to hold)
    eq(taken, [], "fd numbers of the library visible to the program")


def test_posix_spawn_and_system():
    exe, res, dumps = _run("spawn")
    _ok(res)
    d = _exit_dump(res)
    _check_leaks(d, res, exe, {"open": {"func": "parent_open", "kind": "file"}})
    for fd in (40, 41):
        check(lib.fd_entry(d, fd) is None, "spawned child's fd %d in the parent's dump" % fd)
    child = int(res.facts("child")[0][2])
    cd = lib.one_dump(dumps, "exit", child)
    lib.check_complete(cd)
    a = lib.fact_fds(res.stdout, "leak")[0]
    check(lib.fd_entry(cd, a) is None or a in (40, 41), "fd %d closed by the file actions" % a)
    for fd in (40, 41):
        eq(lib.need_fd(cd, fd)["origin"], "inherited", "origin of fd %d in /bin/true" % fd)
    eq(lib.leaks(cd), [], "tracked fds of /bin/true")
    for x in dumps:
        lib.check_complete(x)


def test_many_fds():
    exe, res, _ = _run("threshold", ["up", "4000"], ulimit_n=8192, timeout=60)
    _ok(res)
    d = _exit_dump(res)
    _check_leaks(d, res, exe, {"open": {"func": "climb", "kind": "file"}})
    eq(d["open_fds"], 4003, "open_fds")


def test_fatal_dump_disabled():
    exe, res, dumps = _run("fatal", ["TERM"], env={"FDLEAK_FATAL": "0"})
    eq(res.returncode, -signal.SIGTERM, "wait status with FDLEAK_FATAL=0", res.describe())
    eq(dumps, [], "dumps with FDLEAK_FATAL=0")


def test_emfile_dump_disabled():
    # room above the soft limit for the exit dump's file: the library keeps no reserve fd
    exe, res, dumps = _run("emfile", ["once"], ulimit_n=(64, 128), env={"FDLEAK_EMFILE": "0"})
    _ok(res)
    eq(lib.by_trigger(dumps, "emfile"), [], "emfile dumps with FDLEAK_EMFILE=0")
    _exit_dump(res)


def test_python_stacks_disabled():
    path = os.path.join(_data_dir(), "f")
    res, dumps = lib.run_under_shim(["/usr/bin/python3", lib.py_script("leak_file_socket.py"),
                                     path], env={"FDLEAK_PYTHON": "0"})
    _ok(res)
    d = _exit_dump(res, int(res.facts("pid")[0][1]))
    eq(d.get("pystacks", []), [], "pystacks with FDLEAK_PYTHON=0")
    fd = lib.fact_fds(res.stdout, "leak", "file")[0]
    eq(lib.need_fd(d, fd)["pystack"], 0, "pystack of the file with FDLEAK_PYTHON=0")


def test_variadic_and_pointer_arguments_pass_through():
    exe = lib.fixture("passthrough")
    a, b = _data_dir(), _data_dir()
    plain = lib.run_plain([exe, a])
    res, _ = lib.run_under_shim([exe, b])
    eq(plain.returncode, 0, "exit status without the shim", plain.stderr)
    _ok(res)
    eq(res.stdout.splitlines(), plain.stdout.splitlines(),
       "modes, fcntl and mq_open results with the shim vs without")


def test_fatal_signal_with_no_descriptor_left():
    # none left under the soft limit; the dump raises it for its file (no reserve fd kept)
    exe, res, dumps = _run("emfile", ["die"], ulimit_n=(64, 128))
    eq(res.returncode, -signal.SIGTERM, "wait status", res.describe())
    d = lib.one_dump(dumps, "fatal-signal")
    lib.check_complete(d)
    _check_leaks(d, res, exe, {"open": {"func": "exhaust"}})


def test_dump_signal_with_no_descriptor_left():
    exe = lib.fixture("emfile")
    proc, outdir = lib.spawn_under_shim([exe, "hold"], ulimit_n=(64, 128))
    seen = []
    try:
        seen = lib.wait_line(proc.stdout, "ready", lines=True)
        os.kill(proc.pid, DUMP_SIG)
        for _ in range(200):
            if any(f.endswith(".json") for f in os.listdir(outdir)) and \
                    len(os.listdir(outdir)) >= 2:
                break
            time.sleep(0.025)
        out, err = proc.communicate("go\n", timeout=lib.TIMEOUT)
    finally:
        lib.kill_group(proc)
        proc.wait(timeout=lib.TIMEOUT)
    eq(proc.returncode, 0, "exit status", err)
    dumps, _ = lib.read_dumps(outdir)
    d = lib.one_dump(dumps, "signal")
    lib.check_complete(d)
    res = lib.Result(proc, dumps, outdir, [])
    res.stdout = "".join(seen) + out
    _check_leaks(d, res, exe, {"open": {"func": "exhaust"}})


def test_stdio_closed_by_program():
    exe, res, dumps = _run("simple", ["closestd"])
    _ok(res)
    d = _exit_dump(res)
    e = lib.need_fd(d, 0)
    # on 0-2 never a leak (issue 8): listed as inherited, with the call that put it there
    eq((e["origin"], e["call"]), ("inherited", "open"), "fd 0 reopened by the program")
    lib.need_stack_function(d, e, exe, "simple_leak")
    for fd in (1, 2):
        check(lib.fd_entry(d, fd) is None, "closed fd %d still listed" % fd)


def test_stdio_closed_by_program_text_report():
    # The program closes 0, 1, 2 and its leak takes fd 0: fd 2 is no longer the stderr the
    # process started with, so the text report is written nowhere (never into a descriptor of
    # the program, never even tried on the closed fd 2). Only the system calls show that.
    strace = shutil.which("strace")
    if not strace:
        raise lib.Skip("strace is not installed (scripts/deps.sh test installs it)")
    log = os.path.join(lib.new_tmpdir(), "strace.log")
    env = lib.shim_env()
    tracee_env = ["-E%s=%s" % (k, env[k]) for k in ("LD_PRELOAD", "ASAN_OPTIONS") if k in env]
    proc = lib.run_plain([strace, "-f", "-qq", "-e", "trace=write,writev,pwrite64", "-s", "65536",
                          "-o", log] + tracee_env + [lib.fixture("simple"), "closestd"])
    if "ptrace" in proc.stderr or "Operation not permitted" in proc.stderr:
        raise lib.Skip("strace cannot trace here: %s" % proc.stderr.strip()[:200])
    eq(proc.returncode, 0, "exit status", proc.stderr[-2000:])
    with open(log) as fh:
        trace = fh.read()
    calls = [m.groups() for m in re.finditer(
        r'^(?:\d+ +)?(write|writev|pwrite64)\((\d+), (.*)\) += (.*)$', trace, re.M)]
    reports = [c for c in calls if "leaked from" in c[2] or "fdleak" in c[2]]
    eq(reports, [], "writes of the text report once fd 2 is closed",
       "strace: " + trace[-3000:], "stderr: " + proc.stderr[-1000:])
    eq([c for c in calls if c[1] in ("0", "1", "2")], [], "writes to fd 0, 1 or 2")


def test_exit_while_threads_churn():
    for _ in range(5):
        exe, res, dumps = _run("storm", ["exit"])
        _ok(res)
        d = _exit_dump(res)
        for e in lib.leaks(d):
            check(e["call"] in ("open", "pipe2", "dup", "socket"), "record %s" % e)


def test_fatal_signal_while_threads_churn():
    for _ in range(5):
        exe = lib.fixture("storm")
        proc, outdir = lib.spawn_under_shim([exe])
        try:
            lib.wait_line(proc.stdout, "ready")
            time.sleep(0.05)
            os.kill(proc.pid, signal.SIGTERM)
            out, err = proc.communicate(timeout=lib.TIMEOUT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=lib.TIMEOUT)
        eq(proc.returncode, -signal.SIGTERM, "wait status", err[-2000:])
        dumps, _ = lib.read_dumps(outdir)
        d = lib.one_dump(dumps, "fatal-signal")
        lib.check_complete(d)
        eq(d["signal"], int(signal.SIGTERM), "signal")


def test_emfile_after_program_lowers_limit():
    # soft limit lowered by the program: the shim's own descriptors may sit above it, but the
    # hard limit leaves room to write the report where FDLEAK_OUTPUT says
    exe, res, dumps = _run("emfile", ["lower"])
    _ok(res)
    eq(lib.fdleak_lines(res.stderr), [], "fdleak: lines (report not written to its file?)")
    d = lib.one_dump(dumps, "emfile")
    lib.check_complete(d)
    eq(d["limit_nofile"], 32, "limit_nofile after the program lowered it")
    lib.need_stack_function(d, d["trigger_stack"], exe, "exhaust")
    _check_leaks(_exit_dump(res), res, exe, {"open": {"func": "exhaust"}})


def test_program_closes_every_descriptor_number():
    res, d = _simple_leak_only(["closeall"])
    eq([e["fd"] for e in d["fds"]], [0, 1, 2, lib.fact_fds(res.stdout, "leak")[0]], "fds")


def test_emfile_after_program_lowers_hard_limit():
    # soft and hard limits lowered: no descriptor can be created; the documented fallback is
    # the text report on stderr with one `fdleak:` line saying why
    exe, res, dumps = _run("emfile", ["lower_hard"])
    _ok(res)
    em = lib.by_trigger(dumps, "emfile")
    if em:
        eq(len(em), 1, "emfile dumps")
        eq(em[0]["limit_nofile"], 32, "limit_nofile")
    else:
        check(lib.fdleak_lines(res.stderr) and "EMFILE" in res.stderr,
              "no emfile dump file and no report on stderr", res.stderr[-2000:])


def _read_once(mode, sig):
    exe = lib.fixture("simple")
    proc, outdir = lib.spawn_under_shim([exe, mode])
    seen = []
    try:
        seen = lib.wait_line(proc.stdout, "ready", lines=True)
        time.sleep(0.1)  # let it block in read()
        os.kill(proc.pid, sig)
        time.sleep(0.3)
        out, err = proc.communicate("go\n", timeout=lib.TIMEOUT)
    finally:
        lib.kill_group(proc)
        proc.wait(timeout=lib.TIMEOUT)
    return proc.returncode, "".join(seen) + out, err, lib.read_dumps(outdir)[0]


def test_dump_signal_restarts_blocking_read():
    rc, out, err, dumps = _read_once("readonce", DUMP_SIG)
    eq(rc, 0, "exit status", err)
    eq(lib.facts(out, "read"), [["read", "3", "errno", "0"]],
       "read() interrupted by the dump signal (SA_RESTART expected)")
    eq(len(lib.by_trigger(dumps, "signal")), 1, "on-demand dumps")


def test_program_owning_dump_signal_keeps_it():
    rc, out, err, dumps = _read_once("own61", DUMP_SIG)
    eq(rc, 0, "exit status", err)
    eq(lib.facts(out, "sig61"), [["sig61", "1"]], "the program's own handler for signal 61")
    eq(lib.by_trigger(dumps, "signal"), [], "on-demand dumps when the program owns the signal")
    eq(len(lib.fdleak_lines(err)), 1, "`fdleak:` lines saying snapshots are disabled", err)


def test_paths_needing_json_escapes():
    data = lib.new_tmpdir("fdleak-paths-")
    names = [b"quote\"back\\slash", b"tab\tnew\nline", b"ctl\x01\x1f", "utf8-\u00e9\u6f22".encode(),
             b"bad-\xff\xfe", b"overlong-\xc0\xaf", b"surrogate-\xed\xa0\x80"]
    paths = []
    for n in names:
        p = os.path.join(data.encode(), n)
        with open(p, "wb") as fh:
            fh.write(b"x")
        paths.append(p)
    exe = lib.fixture("paths")
    outdir = lib.new_outdir()
    proc = subprocess.run([exe.encode()] + paths, capture_output=True, timeout=lib.TIMEOUT,
                          env=lib.shim_env(None, os.path.join(outdir, "d.%p.%n.json")),
                          stdin=subprocess.DEVNULL)
    eq(proc.returncode, 0, "exit status", proc.stderr[-2000:])
    dumps, _ = lib.read_dumps(outdir)  # strict UTF-8 JSON: raises on a malformed dump
    d = lib.one_dump(dumps, "exit")
    lib.check_complete(d)
    out = proc.stdout.decode()
    for w in lib.facts(out, "leak"):
        fd, i = int(w[2]), int(w[3])
        e = lib.need_fd(d, fd)
        eq(e["call"], "open", "call of fd %d" % fd)
        raw = paths[i - 1]
        try:
            want = raw.decode("utf-8")
        except UnicodeDecodeError:
            check(e["path"].startswith(data), "path of fd %d: %r" % (fd, e["path"]))
            continue
        eq(e["path"], want, "path of fd %d" % fd)


def test_exit_from_a_thread_dumps():
    _simple_leak_only(["thread_exit"])


def test_same_site_different_callers():
    exe, res, dumps = _run("callers")
    _ok(res)
    d = _exit_dump(res)
    _check_leaks(d, res, exe, {"open": {"func": "helper", "kind": "file"}})
    for w in res.facts("leak"):
        e = lib.need_fd(d, int(w[2]))
        names = lib.stack_functions(d, e["stack"], exe)
        want = ["helper", w[4], w[3], "main"]
        eq([n for n in names if n in ("helper", "caller_a", "caller_b", "outer_x", "outer_y",
                                      "main")], want, "functions on the stack of fd %s" % w[2])
    eq(len({e["stack"] for e in lib.leaks(d)}), 4, "distinct stacks (2 callers x 2 outers)")


def test_relative_output_anchored_to_start_directory():
    start = lib.new_tmpdir("fdleak-cwd-")
    os.mkdir(os.path.join(start, "out"))
    exe, res, _ = _run("simple", ["chdir"], output="out/d.%p.json", cwd=start)
    _ok(res)
    pid = int(res.facts("pid")[0][1])
    files = os.listdir(os.path.join(start, "out"))
    eq(files, ["d.%d.json" % pid], "dump files under the start directory")
    dumps, _ = lib.read_dumps(os.path.join(start, "out"))
    eq(dumps[0]["trigger"], "exit", "trigger")
    check(not os.path.exists("/out/d.%d.json" % pid), "dump written relative to the new cwd")
