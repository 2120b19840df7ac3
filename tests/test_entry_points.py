"""End-to-end tests of libfdleak.so: entry points. Each fixture of tests/cases/ runs under the
library and its raw dumps (docs/dump-format.md) are checked against the facts it printed."""
import os
import re

import lib
from lib import check, eq
from shimcase import _data_dir, _run, _ok, _exit_dump, _check_leaks


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


def test_library_holds_no_descriptor():
    # the library keeps no descriptor of its own while the program runs: the program sees
    # exactly the set it sees bare (it used to see a reserve and libunwind's pipe)
    exe = lib.fixture("fdnumbers")
    plain = lib.run_plain([exe])
    res, _ = lib.run_under_shim([exe], output=False)
    _ok(res)
    program = {int(x) for x in lib.facts(plain.stdout, "fds")[0][1:]}
    inside = {int(x) for x in res.facts("fds")[0][1:]}
    eq(sorted(inside), sorted(program), "descriptors the program sees under the library")
