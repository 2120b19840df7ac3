"""End-to-end tests of libfdleak.so: the host program is sacred while the library captures
stacks. libunwind's private pipe never becomes the program's descriptor, a wrapped call needs
little of the program's stack, siglongjmp out of a wrapped call leaves no stale state, signal
handlers' descriptors are recorded, clone(CLONE_VM) children leave the parent's records alone.
Each fixture runs bare and under the library; the results must agree."""
import os
import re

import lib
from lib import check, eq
from shimcase import _data_dir, _run, _ok, _exit_dump, _check_leaks


def _plain(name, args):
    proc = lib.run_plain([lib.fixture(name)] + list(args))
    eq(proc.returncode, 0, "bare exit status of %s" % name, proc.stderr)
    return proc


def _fact_value(stdout, key):
    for line in stdout.splitlines():
        w = line.split()
        if w and w[0] == key:
            return int(w[1])
    raise lib.TestFailure("no `%s` line in:\n%s" % (key, stdout[-2000:]))


def _pipe_case(mode):
    """Runs host_pipe bare and under the library, each on fresh data files."""
    runs = []
    for under in (False, True):
        d = lib.new_tmpdir("fdleak-pipe-")
        if under:
            exe, res, dumps = _run("host_pipe", [d, mode], timeout=60)
            _ok(res)
            out = res.stdout
        else:
            out = _plain("host_pipe", [d, mode]).stdout
        files = {n: open(os.path.join(d, n), "rb").read() for n in ("a", "b")}
        runs.append((out, files))
    return runs


def _unwinder_pipe(mode):
    (bare_out, bare_files), (shim_out, shim_files) = _pipe_case(mode)
    if bare_out.startswith("skip"):
        raise lib.Skip(bare_out.strip())
    # same descriptor numbers everywhere, same /proc/self/fd, nothing written to the files
    # dup2'd where libunwind's pipe used to live
    eq(shim_out, bare_out, "stdout under the library (fd numbers, sizes, /proc/self/fd)")
    eq(shim_files, bare_files, "file contents")
    eq(shim_files["a"], b"alpha\n", "file dup2'd onto 4088 and 4090")


def test_unwinder_pipe_after_raw_close_range():
    _unwinder_pipe("raw")


def test_unwinder_pipe_after_close_range():
    _unwinder_pipe("close_range")


def test_unwinder_pipe_after_closefrom():
    _unwinder_pipe("closefrom")


def test_unwinder_pipe_after_close_loop():
    _unwinder_pipe("loop")


def _no_asan():
    if lib.asan_build():
        raise lib.Skip("the ASan build unwinds on the program's stack (shim/capture.c)")


def test_open_on_small_signal_stack():
    _no_asan()
    f = os.path.join(_data_dir(), "f")
    bare = _plain("host_stack", ["altstack", f])
    exe, res, dumps = _run("host_stack", ["altstack", f])
    _ok(res)
    eq(res.stdout, bare.stdout, "stdout")
    d = _exit_dump(res)
    _check_leaks(d, res, exe, {"open": {"func": "handler_open"}})


def test_open_on_small_thread_stack():
    _no_asan()
    f = os.path.join(_data_dir(), "f")
    bare = _plain("host_stack", ["thread", f])
    exe, res, dumps = _run("host_stack", ["thread", f])
    _ok(res)
    eq(res.stdout, bare.stdout, "stdout")
    d = _exit_dump(res)
    _check_leaks(d, res, exe, {"open": {"func": "thread_open"}})


# Extra stack a wrapped open+close may take from the program (the library's static TLS, which
# glibc carves from every thread's stack, included); it was ~9.7 KiB before unwinding moved to
# a private stack.
STACK_EXTRA_MAX = 1024


def test_stack_use_of_wrapped_calls():
    _no_asan()
    f = os.path.join(_data_dir(), "f")
    bare = _fact_value(_plain("host_stack", ["measure", f]).stdout, "stack_used")
    exe, res, dumps = _run("host_stack", ["measure", f])
    _ok(res)
    shim = _fact_value(res.stdout, "stack_used")
    check(shim - bare <= STACK_EXTRA_MAX, "open+close takes %d bytes of stack bare, %d under "
          "the library (more than %d extra)" % (bare, shim, STACK_EXTRA_MAX))


def test_siglongjmp_out_of_wrapped_calls():
    f = os.path.join(_data_dir(), "f")
    bare = _plain("host_longjmp", [f])
    exe, res, dumps = _run("host_longjmp", [f], timeout=60)
    _ok(res)
    check(_fact_value(res.stdout, "jumps") > 0, "no jump happened", res.stdout)
    # every leak after the jumps is tracked, from leak_after(); the jumps' own leaks (an fd
    # opened, the jump before its close) are the program's too, so not exact
    d = _exit_dump(res)
    _check_leaks(d, res, exe, {"open": {"func": "leak_after"}}, exact=False)
    # forks stay as fast as bare, give or take each child's exit dump; a stale capture slot
    # cost 100 ms a fork
    bare_ms = _fact_value(bare.stdout, "forks_ms")
    shim_ms = _fact_value(res.stdout, "forks_ms")
    check(shim_ms < 1000 and shim_ms < 10 * bare_ms + 500,
          "20 forks took %d ms under the library, %d ms bare" % (shim_ms, bare_ms))


def test_signal_handler_opens_all_recorded():
    f = os.path.join(_data_dir(), "f")
    exe, res, dumps = _run("host_handler_open", [f], timeout=60)
    _ok(res)
    n = _fact_value(res.stdout, "handler_opens")
    check(n > 0, "the handler never ran", res.stdout)
    d = _exit_dump(res)
    # each one tracked, charged to open(); a stack where the handler did not interrupt
    # libunwind itself
    _check_leaks(d, res, exe, {"open": {}}, exact=False)
    with_stack = sum(1 for e in lib.leaks(d) if e.get("stack"))
    check(with_stack * 2 > n, "only %d of %d handler opens have a stack" % (with_stack, n))


def _clone(mode):
    f = os.path.join(_data_dir(), "f")
    bare = _plain("host_clone", [mode, f])
    exe, res, dumps = _run("host_clone", [mode, f])
    _ok(res)
    child = int(res.facts("child")[0][2])
    eq(res.stdout.replace(str(child), "C"), re.sub(r"child pid \d+", "child pid C", bare.stdout),
       "stdout")
    parent = [x for x in dumps if x["pid"] != child]
    d = lib.one_dump(parent, "exit")
    lib.check_complete(d)
    # exactly the parent's three leaks, tracked, from parent_open(); no dup2 onto 50
    _check_leaks(d, res, exe, {"open": {"func": "parent_open"}})
    check(lib.fd_entry(d, 50) is None, "the clone child's dup2 onto 50 shows in the parent")
    check(not [x for x in dumps if x["pid"] == child], "the clone child wrote a dump")


def test_clone_vm_vfork_child():
    _clone("vfork")


def test_clone_vm_shared_child():
    _clone("shared")


def test_clone_copy_child_reports_only_its_own():
    """clone() without CLONE_VM copies the parent's memory, as fork does: the child's exit
    dump has its own open as its leak, and the parent's three as inherited (with the parent's
    stack), not as the child's leaks; the parent's dump is unchanged."""
    f = os.path.join(_data_dir(), "f")
    exe, res, dumps = _run("host_clone", ["copy", f])
    _ok(res)
    facts = {f[1]: int(f[2]) for f in res.facts("child")}
    child, mine = facts["pid"], facts["open"]
    cd = lib.one_dump([x for x in dumps if x["pid"] == child], "exit")
    pd = lib.one_dump([x for x in dumps if x["pid"] != child], "exit")
    _check_leaks(pd, res, exe, {"open": {"func": "parent_open"}})
    eq(sorted(x["fd"] for x in lib.leaks(cd)), [mine], "the child's leaks", lib.brief(cd))
    lib.need_stack_function(cd, lib.need_fd(cd, mine), exe, "child_open")
    for fd in sorted({int(v[2]) for v in res.facts("leak")}):  # the child flushes them too
        e = lib.need_fd(cd, fd)
        eq(e["origin"], "inherited", "origin of the parent's fd %d in the child" % fd)
        lib.need_stack_function(cd, e, exe, "parent_open")
