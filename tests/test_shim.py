"""End-to-end tests of libfdleak.so: each fixture of tests/cases/ runs under the shim and the raw
dumps (docs/dump-format.md) are compared with the facts the program printed."""
import os
import re
import resource
import signal
import stat
import subprocess
import time

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


# ---- entry points ---------------------------------------------------------------------------

def test_open_family():
    data = _data_dir()
    exe, res, _ = _run("open_family", [data])
    _ok(res)
    d = _exit_dump(res)
    spec = {label: {"calls": {label}, "kind": "file", "func": "via_" + label}
            for label in ("open", "open64", "openat", "openat64", "creat", "creat64")}
    for fort, base in (("__open_2", "open"), ("__open64_2", "open64"),
                       ("__openat_2", "openat"), ("__openat64_2", "openat64")):
        spec[fort] = {"calls": {fort, base}, "kind": "file", "func": "via_" + fort}
    spec["open_creat"] = {"calls": {"open"}, "kind": "file", "func": "via_open_creat"}
    spec["open_dirfd"] = {"calls": {"open"}, "kind": "directory"}
    leaked = _check_leaks(d, res, exe, spec)
    eq(len(leaked), 12, "leaks printed")


def test_stdio_family():
    data = _data_dir()
    exe, res, _ = _run("stdio_family", [data])
    _ok(res)
    d = _exit_dump(res)
    spec = {label: {"kind": "file", "func": "via_" + label}
            for label in ("fopen", "fopen64", "freopen", "freopen64", "tmpfile", "tmpfile64",
                          "mkstemp", "mkstemp64", "mkostemp", "mkostemp64", "mkstemps",
                          "mkstemps64", "mkostemps", "mkostemps64")}
    spec["fdopen"] = {"calls": {"open", "fdopen"}, "kind": "file", "func": "acquire_for_fdopen"}
    spec["popen"] = {"kind": "pipe", "func": "via_popen"}
    spec["popen_w"] = {"calls": {"popen"}, "kind": "pipe", "func": "via_popen_w"}
    spec["opendir"] = {"kind": "directory", "func": "via_opendir"}
    spec["fdopendir"] = {"calls": {"open", "fdopendir"}, "kind": "directory",
                         "func": "acquire_for_fdopendir"}
    leaked = _check_leaks(d, res, exe, spec)
    eq(len(leaked), 19, "leaks printed")
    # freopen keeps the stream's number or moves it: the old one is not left behind
    before = int(res.facts("freopen_from")[0][1])
    if before not in leaked:
        check(lib.fd_entry(d, before) is None, "fd %d replaced by freopen still listed" % before)


def test_fdopen_keeps_acquisition_stack():
    data = _data_dir()
    exe, res, _ = _run("stdio_family", [data])
    _ok(res)
    d = _exit_dump(res)
    for call, func in (("fdopen", "acquire_for_fdopen"), ("fdopendir", "acquire_for_fdopendir")):
        fd = lib.fact_fds(res.stdout, "leak", call)[0]
        e = lib.need_fd(d, fd)
        lib.need_stack_function(d, e, exe, func)
        check(not lib.stack_has_function(d, e, exe, "via_" + call),
              "%s replaced the acquisition stack of fd %d" % (call, fd))


def test_sockets():
    data = _data_dir()
    exe, res, _ = _run("sockets", [data])
    _ok(res)
    d = _exit_dump(res)
    spec = {
        "socket": {"kind": "socket", "func": ("via_socket", "via_socket_unix")},
        "socketpair": {"kind": "socket", "func": ("via_socketpair", "via_socketpair_dgram")},
        "accept": {"kind": "socket", "func": "via_accept"},
        "accept4": {"kind": "socket", "func": "via_accept4"},
        "recvmsg": {"kind": "file", "func": "via_recvmsg"},
        "recvmmsg": {"kind": "file", "func": "via_recvmmsg"},
    }
    _check_leaks(d, res, exe, spec)
    port = int(res.facts("port")[0][1])
    addr = "127.0.0.1:%d" % port
    for w in res.facts("leak"):
        fd = int(w[2])
        e = lib.need_fd(d, fd)
        if "listener" in w:
            eq(e["local"], addr, "local address of the listener fd %d" % fd)
        if "client" in w:
            eq(e["peer"], addr, "peer address of client fd %d" % fd)
        if w[1] in ("accept", "accept4"):
            eq(e["local"], addr, "local address of accepted fd %d" % fd)
            check(e["peer"].startswith("127.0.0.1:"), "peer of accepted fd %d: %r" % (
                fd, e["peer"]))


def test_scm_rights_recvmsg_recvmmsg():
    data = _data_dir()
    exe, res, _ = _run("sockets", [data])
    _ok(res)
    d = _exit_dump(res)
    got = {"recvmsg": 0, "recvmmsg": 0}
    for w in res.facts("leak"):
        if w[1] in got:
            e = lib.need_fd(d, int(w[2]))
            eq(e["call"], w[1], "call of received fd %s" % w[2])
            got[w[1]] += 1
    eq(got, {"recvmsg": 3, "recvmmsg": 2}, "received descriptors")


def test_pipes_dups_fcntl():
    data = _data_dir()
    exe, res, _ = _run("dups", [data])
    _ok(res)
    d = _exit_dump(res)
    spec = {
        "pipe": {"kind": "pipe", "func": "via_pipe"},
        "pipe2": {"kind": "pipe", "func": "via_pipe2"},
        "open": {"kind": "file", "func": ("open_source", "open_self_target", "open_cloexec")},
        "dup": {"kind": "file", "func": "via_dup"},
        "dup2": {"kind": "file", "func": "via_dup2", "path": False},
        "dup3": {"kind": "file", "func": "via_dup3", "path": False},
        "fcntl": {"kind": "file", "func": "via_fcntl"},
        "fcntl64": {"calls": {"fcntl64", "fcntl"}, "kind": "file", "func": "via_fcntl64"},
    }
    _check_leaks(d, res, exe, spec)


def test_dup2_onto_open_fd_replaces_record():
    data = _data_dir()
    exe, res, _ = _run("dups", [data])
    _ok(res)
    d = _exit_dump(res)
    for w in res.facts("replaced"):
        e = lib.need_fd(d, int(w[2]))
        eq(e["call"], w[1], "call of fd %s replaced by %s" % (w[2], w[1]))
        lib.need_stack_function(d, e, exe, "via_" + w[1])
        check(not lib.stack_has_function(d, e, exe, "open_victim"),
              "fd %s still carries the stack of the descriptor %s replaced" % (w[2], w[1]))
    eq(len(res.facts("replaced")), 2, "replaced lines")


def test_dup2_same_fd_changes_nothing():
    data = _data_dir()
    exe, res, _ = _run("dups", [data])
    _ok(res)
    d = _exit_dump(res)
    line = [w for w in res.facts("leak") if "self" in w][0]
    e = lib.need_fd(d, int(line[2]))
    eq(e["call"], "open", "call of fd %s after dup2(fd, fd)" % line[2])
    eq(e["path"], os.path.join(data, "g"), "path after dup2(fd, fd)")
    lib.need_stack_function(d, e, exe, "open_self_target")
    check(not lib.stack_has_function(d, e, exe, "via_dup2"), "dup2(fd, fd) recharged the fd")


def test_special_descriptors():
    data = _data_dir()
    exe, res, _ = _run("special", [data])
    _ok(res)
    d = _exit_dump(res)
    labels = {w[1] for w in res.facts("leak")}
    spec = {label: {"func": "via_" + label} for label in labels if label != "open"}
    _check_leaks(d, res, exe, spec)
    for w in res.facts("same"):
        e = lib.need_fd(d, int(w[2]))
        eq(e["call"], "signalfd", "signalfd(fd, ...) on an existing fd")
        lib.need_stack_function(d, e, exe, "via_signalfd")
    skipped = [w[1] for w in res.facts("skip")]
    must = {"eventfd", "timerfd_create", "signalfd", "epoll_create", "epoll_create1",
            "inotify_init", "inotify_init1", "memfd_create", "posix_openpt", "getpt", "openpty",
            "forkpty", "shm_open"}
    eq(sorted(must - labels), [], "entry points not exercised (skipped: %s)" % skipped)


def test_close_range_closefrom():
    exe, res, _ = _run("close_family", ["/etc/hostname"])
    _ok(res)
    d = _exit_dump(res)
    spec = {"open": {"kind": "file", "func": ("via_open", "after_closefrom")}}
    _check_leaks(d, res, exe, spec)
    for w in res.facts("leak"):
        if "cloexec" in w:
            eq(lib.need_fd(d, int(w[2]))["cloexec"], True,
               "close_range(CLOSE_RANGE_CLOEXEC) must only mark fd %s" % w[2])
        if "after" in w:
            lib.need_stack_function(d, lib.need_fd(d, int(w[2])), exe, "after_closefrom")


def test_failed_calls_transparent():
    exe = lib.fixture("failing")
    plain = lib.run_plain([exe])
    res, dumps = lib.run_under_shim([exe])
    eq(plain.returncode, 0, "exit status without the shim", plain.stderr)
    _ok(res)
    want = plain.stdout.splitlines()
    got = res.stdout.splitlines()
    diff = [(a, b) for a, b in zip(want, got) if a != b]
    check(not diff and len(want) == len(got),
          "return values/errno differ under the shim (without -> with): %s" % diff[:8],
          "without:\n" + plain.stdout, "with:\n" + res.stdout)
    d = _exit_dump(res)
    x = lib.fact_fds(res.stdout, "leak")[0]
    eq([e["fd"] for e in d["fds"]], [0, 1, 2, x], "fds after failed calls (nothing recorded)",
       lib.brief(d))
    _check_leaks(d, res, exe, {"open": {"func": "keep_open", "kind": "file",
                                        "calls": {"open"}}})
    e = lib.need_fd(d, x)
    eq((e["path"], e["cloexec"]), ("/etc/hostname", False),
       "path and cloexec of fd %d after failing calls aimed at it" % x)


def test_fd_numbers_unchanged():
    exe = lib.fixture("fdnumbers")
    plain = lib.run_plain([exe])
    res, _ = lib.run_under_shim([exe])
    _ok(res)
    eq(res.facts("fdnums"), lib.facts(plain.stdout, "fdnums"),
       "descriptor numbers with the shim vs without")


def test_fd_numbers_unchanged_with_many_fds():
    # README: fdleak's own descriptors are placed so they do not shift the numbers the program
    # gets. A program holding 1100 descriptors (limit 4096) must get the same numbers.
    exe = lib.fixture("threshold")
    plain = lib.run_plain([exe, "up", "1100"], ulimit_n=4096)
    res, _ = lib.run_under_shim([exe, "up", "1100"], ulimit_n=4096)
    _ok(res)
    want = lib.fact_fds(plain.stdout, "leak")
    got = lib.fact_fds(res.stdout, "leak")
    diff = [(a, b) for a, b in zip(want, got) if a != b]
    check(not diff and len(want) == len(got) == 1100,
          "fd numbers differ with the shim (without -> with), first: %s" % diff[:5])


def test_own_fds_never_reported():
    exe = lib.fixture("fdnumbers")
    plain = lib.run_plain([exe])
    res, _ = lib.run_under_shim([exe])
    _ok(res)
    d = _exit_dump(res)
    program = sorted(int(x) for x in lib.facts(plain.stdout, "fds")[0][1:])
    inside = sorted(int(x) for x in res.facts("fds")[0][1:])
    dumped = [e["fd"] for e in d["fds"]]
    eq(dumped, program, "fds in the dump vs the program's own fds (listed without the shim)",
       "listing under the shim (includes fdleak's own): %s" % inside)
    for e in d["fds"]:
        check(e["fd"] in inside, "dump lists fd %d that is not open" % e["fd"])
    eq(d["open_fds"], len(program), "open_fds (excludes fdleak's own)")
    nums = [int(x) for x in res.facts("fdnums")[0][1:]]
    for fd in set(nums[1:]):
        eq(lib.need_fd(d, fd)["origin"], "tracked", "origin of fd %d" % fd)


def test_own_fds_not_in_text_report():
    exe = lib.fixture("fdnumbers")
    plain = lib.run_plain([exe])
    res, _ = lib.run_under_shim([exe], output=False)
    _ok(res)
    program = {int(x) for x in lib.facts(plain.stdout, "fds")[0][1:]}
    inside = {int(x) for x in res.facts("fds")[0][1:]}
    own = sorted(inside - program)
    check(own, "no descriptors of fdleak's own seen (nothing tested)")
    for fd in own:
        check(not re.search(r"\bfd %d\b" % fd, res.stderr),
              "fdleak's own fd %d in the text report" % fd, res.stderr[-3000:])


# ---- origins ----------------------------------------------------------------------------------

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
    eq(e["origin"], "tracked", "origin of replaced stdin")
    eq(e["call"], call, "call charged for replaced stdin")
    lib.need_stack_function(d, e, exe, func)
    for fd in (1, 2):
        eq(lib.need_fd(d, fd)["origin"], "inherited", "origin of fd %d" % fd)
    _check_leaks(d, res, exe, {call: {"func": func}})


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


# ---- processes ------------------------------------------------------------------------------

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
    eq(sorted(e["fd"] for e in lib.leaks(cd)), sorted({a, dfd}), "child's tracked fds")
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


# ---- signals ----------------------------------------------------------------------------------

def _fatal(name):
    signum = getattr(signal, "SIG" + name)
    exe, res, dumps = _run("fatal", [name])
    eq(res.returncode, -signum, "wait status (died of SIG%s)" % name, res.describe())
    d = lib.one_dump(dumps, "fatal-signal")
    lib.check_complete(d)
    eq(d["signal"], int(signum), "signal in the dump")
    eq(lib.by_trigger(dumps, "exit"), [], "exit dumps")
    _check_leaks(d, res, exe, {"open": {"func": "leak_before_death", "kind": "file"},
                               "tmpfile": {"kind": "file"}})
    check("survived" not in res.stdout, "the program went on after SIG%s" % name)


def test_fatal_sigterm():
    _fatal("TERM")


def test_fatal_sigint():
    _fatal("INT")


def test_fatal_sighup():
    _fatal("HUP")


def test_fatal_sigquit():
    _fatal("QUIT")


def test_fatal_sigabrt():
    _fatal("ABRT")


def test_fatal_sigsegv():
    _fatal("SEGV")


def test_fatal_sigbus():
    _fatal("BUS")


def test_fatal_sigsegv_in_thread():
    exe, res, dumps = _run("fatal", ["SEGV_THREAD"])
    eq(res.returncode, -signal.SIGSEGV, "wait status (died of SIGSEGV)", res.describe())
    d = lib.one_dump(dumps, "fatal-signal")
    lib.check_complete(d)
    eq(d["signal"], int(signal.SIGSEGV), "signal in the dump")
    e = lib.need_fd(d, lib.fact_fds(res.stdout, "leak")[0])
    lib.need_stack_function(d, e, exe, "leak_before_death")


def test_handled_signal_not_fatal():
    exe, res, dumps = _run("fatal", ["handled"])
    _ok(res)
    check("handled 1" in res.stdout, "the program's own SIGTERM handler did not run",
          res.describe())
    eq(lib.by_trigger(dumps, "fatal-signal"), [], "fatal-signal dumps")
    d = _exit_dump(res)
    _check_leaks(d, res, exe, {"open": {"func": "leak_before_death"}})


def test_ignored_signal_stays_ignored():
    exe, res, dumps = _run("fatal", ["ignored"])
    _ok(res)
    check("ignored" in res.facts("ignored")[0], "the program did not go on", res.describe())
    eq(lib.by_trigger(dumps, "fatal-signal"), [], "fatal-signal dumps for an ignored SIGTERM")
    _exit_dump(res)


def test_handled_sigsegv_not_fatal():
    exe, res, dumps = _run("fatal", ["handled_segv"])
    eq(res.returncode, 7, "exit status from the program's own SIGSEGV handler", res.describe())
    check("caught segv" in res.stdout, "the program's SIGSEGV handler did not run")
    eq(lib.by_trigger(dumps, "fatal-signal"), [], "fatal-signal dumps for a handled SIGSEGV")


def _signal_dump_once(env, sig, output=None, outdir=None):
    exe = lib.fixture("simple")
    proc, outdir = lib.spawn_under_shim([exe, "wait"], env=env, outdir=outdir, output=output)
    seen = []
    try:
        seen = lib.wait_line(proc.stdout, "ready", lines=True)
        os.kill(proc.pid, sig)
        # the dump signal is handled asynchronously: wait (bounded) for the file
        for _ in range(200):
            try:
                dumps, _ = lib.read_dumps(outdir)
            except lib.TestFailure:  # a dump being written: complete only when it ends `}\n`
                dumps = []
            if lib.by_trigger(dumps, "signal"):
                break
            time.sleep(0.025)
        out, err = proc.communicate("go\n", timeout=lib.TIMEOUT)
    finally:
        lib.kill_group(proc)
        proc.wait(timeout=lib.TIMEOUT)
    return proc.returncode, "".join(seen) + out, err, lib.read_dumps(outdir)[0]


def test_dump_signal_default():
    rc, out, err, dumps = _signal_dump_once(None, 61)
    eq(rc, 0, "exit status after the dump signal", err)
    d = lib.one_dump(dumps, "signal")
    lib.check_complete(d)
    eq(d["signal"], 61, "signal of the on-demand dump")
    fd = lib.fact_fds(out, "leak")[0]
    eq(lib.need_fd(d, fd)["call"], "open", "call of the leak in the on-demand dump")
    lib.one_dump(dumps, "exit")


def test_dump_signal_setting_usr1():
    rc, out, err, dumps = _signal_dump_once({"FDLEAK_SIGNAL": "USR1"}, signal.SIGUSR1)
    eq(rc, 0, "exit status after SIGUSR1 with FDLEAK_SIGNAL=USR1", err)
    d = lib.one_dump(dumps, "signal")
    eq(d["signal"], int(signal.SIGUSR1), "signal of the on-demand dump")


def test_dump_signal_none():
    exe = lib.fixture("simple")
    proc, outdir = lib.spawn_under_shim([exe, "wait"], env={"FDLEAK_SIGNAL": "none"})
    try:
        lib.wait_line(proc.stdout, "ready")
        os.kill(proc.pid, 61)
        proc.communicate(timeout=lib.TIMEOUT)
    finally:
        lib.kill_group(proc)
        proc.wait(timeout=lib.TIMEOUT)
    eq(proc.returncode, -61, "signal 61 with FDLEAK_SIGNAL=none keeps its default action")
    dumps, _ = lib.read_dumps(outdir)
    eq(lib.by_trigger(dumps, "signal"), [], "on-demand dumps with FDLEAK_SIGNAL=none")


def test_signal_storm():
    exe = lib.fixture("storm")
    proc, outdir = lib.spawn_under_shim([exe])
    sent = 0
    seen = []
    try:
        seen = lib.wait_line(proc.stdout, "ready", lines=True)
        pid = int(seen[-1].split()[1])
        for _ in range(300):
            os.kill(pid, 61)
            sent += 1
            time.sleep(0.002)
        out, err = proc.communicate("stop\n", timeout=90)
        out = "".join(seen) + out
    finally:
        lib.kill_group(proc)
        proc.wait(timeout=lib.TIMEOUT)
    eq(proc.returncode, 0, "exit status after %d dump signals" % sent, err[-2000:])
    dumps, files = lib.read_dumps(outdir)  # raises on any truncated or invalid dump
    sig = lib.by_trigger(dumps, "signal")
    check(len(sig) >= 1, "no on-demand dump after %d signals" % sent)
    for d in sig:
        lib.check_complete(d)
        eq(d["signal"], 61, "signal of on-demand dump %s" % d["_file"])
    seqs = sorted(d["seq"] for d in dumps)
    eq(seqs, list(range(1, len(dumps) + 1)), "dump sequence numbers")
    d = lib.one_dump(dumps, "exit")
    lib.check_complete(d)
    leaked = lib.fact_fds(out, "leak")
    eq(sorted(e["fd"] for e in lib.leaks(d)), sorted(leaked), "tracked fds at exit",
       lib.brief(d))


# ---- exhaustion and thresholds ----------------------------------------------------------------

def test_emfile_dump_once():
    exe, res, dumps = _run("emfile", ["once"], ulimit_n=64)
    _ok(res)
    em = lib.by_trigger(dumps, "emfile")
    eq(len(em), 1, "emfile dumps while the program keeps hitting EMFILE")
    d = em[0]
    lib.check_complete(d)
    eq(d["trigger_call"], "open", "trigger_call")
    eq(d["trigger_errno"], 24, "trigger_errno")
    eq(d["limit_nofile"], 64, "limit_nofile")
    check(d["trigger_stack"] != 0, "trigger_stack is 0")
    check(lib.stack_ips(d, d["trigger_stack"]), "trigger_stack %d not in stacks" %
          d["trigger_stack"])
    lib.need_stack_function(d, d["trigger_stack"], exe, "exhaust")
    eq(int(res.facts("emfile_failures")[0][1]), 200, "calls failing with EMFILE")
    opened = int(res.facts("opened")[0][1])
    check(len(lib.leaks(d)) >= opened, "emfile dump lists %d tracked fds, program holds %d" % (
        len(lib.leaks(d)), opened))
    x = _exit_dump(res)
    _check_leaks(x, res, exe, {"open": {"func": "exhaust"}})
    eq(len({e["stack"] for e in lib.leaks(x)}), 1, "distinct stacks of leaks from one site")


def test_emfile_rearmed_after_drop():
    exe, res, dumps = _run("emfile", ["rearm"], ulimit_n=64)
    _ok(res)
    em = lib.by_trigger(dumps, "emfile")
    eq(len(em), 2, "emfile dumps (exhausted, closed all, exhausted again)")
    for d in em:
        lib.check_complete(d)
        eq(d["trigger_call"], "open", "trigger_call")


def _threshold(args, env, ulimit_n=None):
    exe, res, dumps = _run("threshold", args, env=env, ulimit_n=ulimit_n)
    _ok(res)
    th = lib.by_trigger(dumps, "threshold")
    for d in th:
        lib.check_complete(d)
        eq(d["trigger_call"], "open", "trigger_call of threshold dump")
        check(d["trigger_stack"] != 0, "trigger_stack of threshold dump is 0")
        lib.need_stack_function(d, d["trigger_stack"], exe, "climb")
        n = d["threshold"]
        check(n <= len(d["fds"]) <= n + 3, "threshold %d dump lists %d fds" % (n, len(d["fds"])))
    _check_leaks(_exit_dump(res), res, exe, {"open": {"func": "climb"}})
    return th


def test_threshold_once():
    th = _threshold(["up", "25"], {"FDLEAK_THRESHOLD": "20"})
    eq(len(th), 1, "threshold dumps for one crossing")
    eq(th[0]["threshold"], 20, "threshold")


def test_threshold_twice():
    th = _threshold(["twice", "25", "5"], {"FDLEAK_THRESHOLD": "20"})
    eq(len(th), 2, "threshold dumps for two crossings with a drop between")


def test_threshold_percent():
    th = _threshold(["up", "40"], {"FDLEAK_THRESHOLD": "50%"}, ulimit_n=64)
    eq(len(th), 1, "threshold dumps for FDLEAK_THRESHOLD=50% at RLIMIT_NOFILE 64")
    eq(th[0]["threshold"], 32, "threshold for 50% of 64")


# ---- C++ --------------------------------------------------------------------------------------

def test_cxx_exceptions_through_shim():
    exe = lib.fixture("cxx_exceptions")
    plain = lib.run_plain([exe])
    res, dumps = lib.run_under_shim([exe])
    eq(plain.returncode, 0, "exit status without the shim", plain.stderr)
    _ok(res)
    strip = lambda text: [l for l in text.splitlines()
                          if not l.startswith(("unwinder ", "backtrace "))]
    eq(strip(res.stdout), strip(plain.stdout), "output with the shim vs without")
    check("terminate called" not in res.stdout, "std::terminate reached")
    unw = lib.facts(res.stdout, "unwinder")
    check(unw, "no unwinder line", res.stdout)
    check("libunwind" not in unw[0][1], "_Unwind_RaiseException resolved to %s" % unw[0][1])
    # the ASan runtime, preloaded first in a sanitizer build, interposes it and forwards
    allowed = ("libgcc_s", "libasan") if lib.asan_build() else ("libgcc_s",)
    check(any(a in unw[0][1] for a in allowed),
          "_Unwind_RaiseException resolved to %s, not libgcc_s" % unw[0][1])
    bt = lib.facts(res.stdout, "backtrace")
    libs = ("libc.so", "libasan") if lib.asan_build() else ("libc.so",)
    check(bt and any(x in bt[0][1] for x in libs) and bt[0][2] == "ok",
          "backtrace() resolved to %s" % (bt and bt[0][1:]))
    eq(res.facts("threads"), [["threads", "ok", "1", "1", "1", "1"]], "throws in threads")
    d = _exit_dump(res)
    _check_leaks(d, res, exe, {"open": {"func": "opener_that_throws", "kind": "file"}})


# ---- reports and settings ---------------------------------------------------------------------

def test_text_report_on_stderr():
    exe, res, dumps = _run("textreport", output=False)
    _ok(res)
    eq(dumps, [], "dump files without FDLEAK_OUTPUT")
    fd = lib.fact_fds(res.stdout, "leak")[0]
    check("leaky_function_for_report" in res.stderr,
          "text report does not name the leaking function", res.stderr[-3000:])
    lines = [l for l in res.stderr.splitlines() if lib.word_in(l, fd) and "/dev/null" in l]
    check(lines, "text report has no line with fd %d and its path" % fd, res.stderr[-3000:])
    check(lib.word_in(res.stderr, "open") or "open()" in res.stderr,
          "text report does not name the call", res.stderr[-3000:])


def test_output_pid_template():
    outdir = lib.new_outdir()
    exe, res, _ = _run("simple", output=os.path.join(outdir, "x.%p.json"), outdir=outdir)
    _ok(res)
    pid = int(res.facts("pid")[0][1])
    path = os.path.join(outdir, "x.%d.json" % pid)
    check(os.path.isfile(path), "no dump at %s (dir: %s)" % (path, os.listdir(outdir)))
    eq(stat.S_IMODE(os.stat(path).st_mode), 0o600, "mode of the dump file")
    d = lib.one_dump(res.dumps, "exit")
    eq(d["pid"], pid, "pid in the dump")


def test_dump_metadata():
    exe, res, _ = _run("simple")
    _ok(res)
    d = _exit_dump(res)
    eq(os.path.realpath(d["exe"]), os.path.realpath(exe), "exe")
    eq(d["cmdline"], [exe], "cmdline")
    eq(d["ppid"], os.getpid(), "ppid")
    eq(d["seq"], 1, "seq")
    eq((d["signal"], d["trigger_call"], d["trigger_errno"], d["trigger_stack"], d["threshold"]),
       (0, "", 0, 0, 0), "trigger fields of an exit dump")
    check(abs(d["time_realtime_ns"] / 1e9 - time.time()) < 3600, "time_realtime_ns far off")
    mods = [m for m in d["modules"] if m["path"] and os.path.exists(m["path"]) and
            os.path.realpath(m["path"]) == os.path.realpath(exe)]
    eq(len(mods), 1, "modules entries for the executable")
    notes = subprocess.run(["readelf", "-n", exe], capture_output=True, text=True,
                           timeout=lib.TIMEOUT).stdout
    bid = [l.split(":", 1)[1].strip() for l in notes.splitlines() if "Build ID" in l]
    if bid:
        eq(mods[0]["build_id"], bid[0], "build_id of the executable")
    check(d["stats"]["acquired"] >= 1, "stats.acquired: %s" % d["stats"])


def test_output_template_expansions():
    outdir = lib.new_outdir()
    exe, res, _ = _run("simple", output=os.path.join(outdir, "x.%t.%%.json"), outdir=outdir)
    _ok(res)
    eq(sorted(os.listdir(outdir)), ["x.exit.%.json"], "files for template x.%t.%%.json")


def test_output_template_without_n():
    outdir = lib.new_outdir()
    target = os.path.join(outdir, "x.json")
    rc, out, err, dumps = _signal_dump_once(None, 61, output=target, outdir=outdir)
    eq(rc, 0, "exit status", err)
    eq(sorted(os.listdir(outdir)), ["x.json", "x.json.2"],
       "files for two dumps with a template without %n")
    eq([d["seq"] for d in dumps], [1, 2], "seq of the two dumps")


def test_high_fd_tracked():
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    limit = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    check(limit > 2048, "RLIMIT_NOFILE hard limit %d too low for this test" % limit)
    exe, res, _ = _run("simple", ["high", str(limit - 1)], ulimit_n=limit)
    _ok(res)
    d = _exit_dump(res)
    _check_leaks(d, res, exe, {"open": {"func": "simple_leak"}, "dup2": {"kind": "file"}})


def test_emfile_text_report():
    exe, res, dumps = _run("emfile", ["once"], ulimit_n=64, output=False)
    _ok(res)
    eq(dumps, [], "dump files without FDLEAK_OUTPUT")
    check("EMFILE" in res.stderr, "no EMFILE report on stderr", res.stderr[-2000:])


def _prepared_target(kind):
    outdir = lib.new_outdir()
    target = os.path.join(outdir, "fixed.json")
    other = os.path.join(outdir, "victim")
    if kind == "file":
        with open(target, "w") as fh:
            fh.write("ORIGINAL\n")
    elif kind == "symlink":
        with open(other, "w") as fh:
            fh.write("VICTIM\n")
        os.symlink(other, target)
    else:  # dangling symlink
        os.symlink(other, target)
    return outdir, target, other


def _run_to_prepared(kind):
    outdir, target, other = _prepared_target(kind)
    exe = lib.fixture("simple")
    proc = subprocess.run([exe], env=lib.shim_env(None, target), capture_output=True, text=True,
                          timeout=lib.TIMEOUT, stdin=subprocess.DEVNULL)
    eq(proc.returncode, 0, "exit status", proc.stderr)
    new = [f for f in os.listdir(outdir) if f not in ("fixed.json", "victim")]
    check(len(new) == 1, "expected one new dump file next to %s, got %s (stderr: %s)" % (
        target, new, proc.stderr[-500:]))
    dumps, _ = lib.read_dumps(outdir, new[0])
    eq(dumps[0]["trigger"], "exit", "trigger of the suffixed dump")
    check(new[0].startswith("fixed.json"), "suffixed name %r" % new[0])
    return outdir, target, other


def test_output_existing_file_not_clobbered():
    outdir, target, _ = _run_to_prepared("file")
    with open(target) as fh:
        eq(fh.read(), "ORIGINAL\n", "content of the pre-existing file")


def test_output_symlink_not_followed():
    outdir, target, other = _run_to_prepared("symlink")
    check(os.path.islink(target), "symlink replaced")
    with open(other) as fh:
        eq(fh.read(), "VICTIM\n", "content of the symlink's target")


def test_output_dangling_symlink_not_followed():
    outdir, target, other = _run_to_prepared("dangling")
    check(os.path.islink(target), "symlink replaced")
    check(not os.path.exists(other), "dump written through a dangling symlink to %s" % other)


def test_output_unwritable_dir_falls_back_to_stderr():
    for template in ("/nonexistent-fdleak-dir/d.%p.json", "/etc/hostname/d.%p.json"):
        exe, res, dumps = _run("textreport", output=template)
        _ok(res)
        eq(res.facts("leak")[0][:2], ["leak", "open"], "program output")
        notes = lib.fdleak_lines(res.stderr)
        check(notes, "no `fdleak:` line saying why %s is unusable" % template, res.stderr[-2000:])
        check("leaky_function_for_report" in res.stderr,
              "no text report on stderr when %s is unusable" % template, res.stderr[-2000:])


def _bad_setting(var, value):
    exe = lib.fixture("simple")
    plain = lib.run_plain([exe])
    res, dumps = lib.run_under_shim([exe], env={var: value})
    _ok(res)
    strip = lambda text: [l for l in text.splitlines() if not l.startswith("pid ")]
    eq(strip(res.stdout), strip(plain.stdout), "program output with %s=%s" % (var, value))
    notes = lib.fdleak_lines(res.stderr)
    eq(len(notes), 1, "`fdleak:` lines for %s=%s" % (var, value), res.stderr)
    check(var in notes[0], "the message does not name %s: %r" % (var, notes[0]))
    d = _exit_dump(res)
    fd = lib.fact_fds(res.stdout, "leak")[0]
    return d, lib.need_fd(d, fd), exe


def _deep_frames(env):
    exe, res, _ = _run("simple", ["deep"], env=env)
    _ok(res)
    d = _exit_dump(res)
    e = lib.need_fd(d, lib.fact_fds(res.stdout, "leak")[0])
    lib.need_stack_function(d, e, exe, "simple_leak")
    return len(lib.stack_ips(d, e["stack"]) or []), res


def _check_depth(n, want, what):
    # the shim's own frames are removed from a capture of `want` frames: allow a few fewer
    check(want - 3 <= n <= want, "%s: %d frames captured 60 calls deep, want %d" % (
        what, n, want))


def test_bad_depth():
    d, e, exe = _bad_setting("FDLEAK_DEPTH", "abc")
    lib.need_stack_function(d, e, exe, "simple_leak")
    default = int(lib.doc_default("FDLEAK_DEPTH"))
    n, res = _deep_frames({"FDLEAK_DEPTH": "abc"})
    _check_depth(n, default, "FDLEAK_DEPTH=abc (default %d)" % default)


def test_depth_default_and_setting():
    default = int(lib.doc_default("FDLEAK_DEPTH"))
    _check_depth(_deep_frames(None)[0], default, "default depth")
    _check_depth(_deep_frames({"FDLEAK_DEPTH": "40"})[0], 40, "FDLEAK_DEPTH=40")
    exe, res, _ = _run("simple", ["deep"], env={"FDLEAK_DEPTH": "128"})
    _ok(res)
    d = _exit_dump(res)
    e = lib.need_fd(d, lib.fact_fds(res.stdout, "leak")[0])
    names = lib.stack_functions(d, e["stack"], exe)
    eq((names.count("deep"), "main" in names), (61, True),
       "whole 63-frame program stack with FDLEAK_DEPTH=128 (functions: %s)" % names)


def test_bad_threshold():
    d, e, _ = _bad_setting("FDLEAK_THRESHOLD", "-5")
    eq(e["call"], "open", "call")


def test_bad_depth_out_of_range():
    _bad_setting("FDLEAK_DEPTH", "500")
    _bad_setting("FDLEAK_DEPTH", "0")
    default = int(lib.doc_default("FDLEAK_DEPTH"))
    _check_depth(_deep_frames({"FDLEAK_DEPTH": "500"})[0], default, "FDLEAK_DEPTH=500")


def test_bad_threshold_percent():
    _bad_setting("FDLEAK_THRESHOLD", "abc%")


def test_bad_signal():
    _bad_setting("FDLEAK_SIGNAL", "BOGUS")
    rc, out, err, dumps = _signal_dump_once({"FDLEAK_SIGNAL": "BOGUS"}, 61)
    eq(rc, 0, "exit status", err)
    eq(lib.one_dump(dumps, "signal")["signal"], 61, "default dump signal after a bad setting")


def test_depth_setting():
    exe, res, dumps = _run("simple", env={"FDLEAK_DEPTH": "2"})
    _ok(res)
    d = _exit_dump(res)
    for s in d["stacks"]:
        check(len(s["ips"]) <= 2, "stack %d has %d frames with FDLEAK_DEPTH=2" % (
            s["id"], len(s["ips"])))
    fd = lib.fact_fds(res.stdout, "leak")[0]
    check(lib.stack_ips(d, lib.need_fd(d, fd)["stack"]), "empty stack with FDLEAK_DEPTH=2")


def test_exit_dump_disabled():
    exe, res, dumps = _run("simple", env={"FDLEAK_EXIT": "0"})
    _ok(res)
    eq(dumps, [], "dumps with FDLEAK_EXIT=0")
    eq(lib.fdleak_lines(res.stderr), [], "fdleak: lines with FDLEAK_EXIT=0")


def test_settings_read_once_at_startup():
    _simple_leak_only(["clearenv"])


# ---- real programs ----------------------------------------------------------------------------

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


def _snapshot(mode):
    snapdir = lib.new_tmpdir("fdleak-snap-")
    os.chmod(snapdir, mode)
    exe = lib.fixture("simple")
    proc, outdir = lib.spawn_under_shim([exe, "wait"], env={"FDLEAK_SNAPSHOT_DIR": snapdir})
    token = 4242
    try:
        seen = lib.wait_line(proc.stdout, "ready", lines=True)
        pid = int(seen[-1].split()[1])
        _sigqueue(pid, 61, 0x46440000 | token)
        want = os.path.join(snapdir, "snapshot.%d.%d.json" % (pid, token))
        for _ in range(200):
            if os.path.exists(want) or proc.poll() is not None:
                break
            time.sleep(0.025)
        out, err = proc.communicate("go\n", timeout=lib.TIMEOUT)
    finally:
        lib.kill_group(proc)
        proc.wait(timeout=lib.TIMEOUT)
    eq(proc.returncode, 0, "exit status after a snapshot request", err)
    return snapdir, want, "".join(seen) + out, err, lib.read_dumps(outdir)[0]


def test_snapshot_request_writes_snapshot_file():
    snapdir, want, out, err, dumps = _snapshot(0o700)
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
    snapdir, want, out, err, dumps = _snapshot(0o777)
    eq(os.listdir(snapdir), [], "files written to a world-writable snapshot dir")


def test_program_takes_over_shim_fd_numbers():
    exe, res, dumps = _run("clobber")
    _ok(res)
    taken = lib.fact_fds(res.stdout, "leak", "dup2")
    d = _exit_dump(res)
    _check_leaks(d, res, exe, {"dup2": {"func": "take_over", "kind": "file", "path": False},
                               "open": {"kind": "file"}, "pipe": {"kind": "pipe"}})
    check(taken, "no fd numbers of the shim visible to take over (nothing tested)")


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
    exe, res, dumps = _run("emfile", ["once"], ulimit_n=64, env={"FDLEAK_EMFILE": "0"})
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
    exe, res, dumps = _run("emfile", ["die"], ulimit_n=64)
    eq(res.returncode, -signal.SIGTERM, "wait status", res.describe())
    d = lib.one_dump(dumps, "fatal-signal")
    lib.check_complete(d)
    _check_leaks(d, res, exe, {"open": {"func": "exhaust"}})


def test_dump_signal_with_no_descriptor_left():
    exe = lib.fixture("emfile")
    proc, outdir = lib.spawn_under_shim([exe, "hold"], ulimit_n=64)
    seen = []
    try:
        seen = lib.wait_line(proc.stdout, "ready", lines=True)
        os.kill(proc.pid, 61)
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
    eq((e["origin"], e["call"]), ("tracked", "open"), "fd 0 reopened by the program")
    lib.need_stack_function(d, e, exe, "simple_leak")
    for fd in (1, 2):
        check(lib.fd_entry(d, fd) is None, "closed fd %d still listed" % fd)


def test_stdio_closed_by_program_text_report():
    exe, res, dumps = _run("simple", ["closestd"], output=False)
    _ok(res)


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
    rc, out, err, dumps = _read_once("readonce", 61)
    eq(rc, 0, "exit status", err)
    eq(lib.facts(out, "read"), [["read", "3", "errno", "0"]],
       "read() interrupted by the dump signal (SA_RESTART expected)")
    eq(len(lib.by_trigger(dumps, "signal")), 1, "on-demand dumps")


def test_program_owning_dump_signal_keeps_it():
    rc, out, err, dumps = _read_once("own61", 61)
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
