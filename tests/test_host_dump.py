"""The dump side of libfdleak.so never harms the host (issue 11): no descriptor kept while the
program runs, no report written into a file the program put on fd 2, no SIGPIPE from a report,
no fault reading the module map, a SIGTERM during the exit dump waits for it; and what the
library does for `fdleak run` (FDLEAK_RUN_DIR). Each case runs tests/cases/hostdump.c bare and
under the library and compares what the program sees."""
import os
import resource
import signal
import subprocess

import lib
from lib import check, eq


def _hostdump():
    return lib.fixture("hostdump")


def _both(args, tmp_bare, tmp_lib, **kw):
    """Runs hostdump with args (TMP in args replaced by a fresh directory per run) bare and
    under the library; returns (bare CompletedProcess, library Result)."""
    exe = _hostdump()
    bare = lib.run_plain([exe] + [a.replace("TMP", tmp_bare) for a in args],
                         ulimit_n=kw.get("ulimit_n"))
    res, _ = lib.run_under_shim([exe] + [a.replace("TMP", tmp_lib) for a in args], **kw)
    return bare, res


def _read(path):
    with open(path, "rb") as fh:
        return fh.read()


def test_no_reserve_fd_journal_survives_emfile():
    # The program closes everything with a raw close_range, its journal lands on 4088 (where
    # the library kept a /dev/null "for reports at the fd limit"), then it runs out of
    # descriptors: the EMFILE dump must not close and replace its journal.
    a, b = lib.new_tmpdir(), lib.new_tmpdir()
    bare, res = _both(["journal", "TMP/journal"], a, b, ulimit_n=4096)
    eq(bare.returncode, 0, "bare exit status", bare.stderr)
    eq(res.returncode, 0, "exit status under the library", res.describe())
    eq(res.stdout.replace(b, "DIR"), bare.stdout.replace(a, "DIR"),
       "journal fd, descriptors opened and fd 4088's target, library vs bare")
    eq(_read(os.path.join(b, "journal")), _read(os.path.join(a, "journal")), "journal content")
    check("fd4088 %s/journal" % b in res.stdout, "fd 4088 is not the journal", res.stdout)


def _fd_lines(stdout):
    return {int(w[1]): w[2] for w in lib.facts(stdout, "fd")}


def test_fd_limit_same_descriptors_as_bare():
    # soft == hard == 29: the program must get as many descriptors as bare, and see the same
    # ones in /proc/self/fd. The library writes its EMFILE report to stderr (no room for a
    # file) and keeps nothing open.
    bare, res = _both(["fdlimit"], lib.new_tmpdir(), lib.new_tmpdir(), ulimit_n=29)
    eq(bare.returncode, 0, "bare exit status", bare.stderr)
    eq(res.returncode, 0, "exit status under the library", res.describe())
    want, got = _fd_lines(bare.stdout), _fd_lines(res.stdout)
    eq(sorted(got), sorted(want), "descriptor numbers open, library vs bare")
    extra = [fd for fd in got if fd > 2 and got[fd] != want[fd]]
    eq(extra, [], "descriptors held by the library", res.stdout)
    opened_bare = int(lib.facts(bare.stdout, "opened")[0][1])
    opened = int(lib.facts(res.stdout, "opened")[0][1])
    eq(opened, opened_bare, "descriptors the program got before EMFILE")
    check("trigger: emfile" in res.stderr, "no EMFILE report on stderr", res.stderr[-2000:])


def test_database_on_fd2_is_never_written():
    # A daemon closes 0-2 and gets its database on fd 2: neither the text report nor any
    # fdleak: line may land in it; the JSON dump (FDLEAK_OUTPUT) is still written.
    for output in (False, True):
        a, b = lib.new_tmpdir(), lib.new_tmpdir()
        bare, res = _both(["database", "TMP/db"], a, b, output=output)
        eq(bare.returncode, 0, "bare exit status", bare.stderr)
        eq(res.returncode, 0, "exit status under the library", res.describe())
        eq(_read(os.path.join(b, "db")), _read(os.path.join(a, "db")),
           "database content (FDLEAK_OUTPUT %s)" % ("set" if output else "unset"))
        if output:
            d = lib.one_dump(res.dumps, "exit")
            check(lib.fd_entry(d, 3) is not None, "leaked fd 3 missing", lib.brief(d))


def _run_stderr_to_dead_pipe(argv, env):
    r, w = os.pipe()
    os.close(r)
    try:
        proc = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=w, timeout=lib.TIMEOUT, preexec_fn=lib._preexec(None))
    finally:
        os.close(w)
    return proc.returncode


def test_report_to_pipe_without_reader_raises_no_sigpipe():
    # stderr is a pipe whose reader is gone (`prog 2>&1 | head -0`): writing the report or a
    # message must not kill the program with SIGPIPE.
    exe = _hostdump()
    cases = [([exe, "leak"], {}), (["/bin/true"], {"FDLEAK_DEPTH": "zero"})]
    for argv, extra in cases:
        bare = _run_stderr_to_dead_pipe(argv, lib.plain_env())
        got = _run_stderr_to_dead_pipe(argv, lib.shim_env(extra))
        eq(got, bare, "exit status of %s %s with stderr on a dead pipe" % (argv, extra))


def test_truncated_exec_mapping_does_not_fault():
    # The module map is read at every dump: a file mapped executable and truncated since must
    # not raise SIGBUS in the program.
    exe = _hostdump()
    bare = lib.run_plain([exe, "truncmap", lib.new_tmpdir()])
    res, dumps = lib.run_under_shim([exe, "truncmap", lib.new_tmpdir()])
    eq(bare.returncode, 0, "bare exit status", bare.stderr)
    eq(res.returncode, bare.returncode, "exit status under the library", res.describe())
    d = lib.one_dump(dumps, "exit")
    lib.check_complete(d)
    check(any(m.get("path") == os.path.realpath(exe) for m in d["modules"]),
          "the program's own module missing from the map", d["modules"][:5])


def test_sigterm_during_exit_dump_finishes_it():
    # SIGTERM arrives while the exit dump is being written (a thread sends it at the dump's
    # first write): the dump is finished, then the process dies of SIGTERM.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = min(hard, 20000)
    if limit < 2000:
        raise lib.Skip("hard RLIMIT_NOFILE %d is too low for a slow dump" % hard)
    n = limit - 100
    outdir = lib.new_tmpdir()
    res, dumps = lib.run_under_shim([_hostdump(), "slowexit", outdir, str(n)], outdir=outdir,
                                    ulimit_n=limit, timeout=60)
    eq(res.returncode, -signal.SIGTERM, "wait status", res.describe())
    d = lib.one_dump(dumps, "exit")  # read_dumps raised if it did not end with "}\n"
    lib.check_complete(d)
    check(len(lib.leaks(d)) >= n, "exit dump lists %d leaks of %d" % (len(lib.leaks(d)), n))


def test_clean_process_prints_nothing():
    # Without FDLEAK_OUTPUT a process with nothing leaked writes no text report (programs parse
    # their stderr); one with a leak still does; a JSON dump is always written.
    res, _ = lib.run_under_shim(["/bin/true"], output=False)
    eq(res.returncode, 0, "exit status", res.describe())
    eq(res.stderr, "", "stderr of a clean process")
    res, _ = lib.run_under_shim([_hostdump(), "leak"], output=False)
    check("1 fd leaked from open()" in res.stderr, "no report for a leak", res.stderr)
    res, dumps = lib.run_under_shim(["/bin/true"])
    eq(res.stderr, "", "stderr of a clean process with FDLEAK_OUTPUT")
    lib.one_dump(dumps, "exit")


def _started(rundir, pid):
    path = os.path.join(rundir, "started.%d" % pid)
    check(os.path.isfile(path), "no %s; run dir holds %s" % (path, os.listdir(rundir)))
    st = os.stat(path)
    eq(st.st_mode & 0o777, 0o600, "mode of " + path)
    return _read(path).decode()


def test_run_dir_start_markers():
    rundir = lib.new_tmpdir()
    exe = _hostdump()
    res, _ = lib.run_under_shim([exe, "fork"], env={"FDLEAK_RUN_DIR": rundir},
                                output=os.path.join(rundir, "fdleak.%p.%n.json"))
    eq(res.returncode, 0, "exit status", res.describe())
    dumps, _ = lib.read_dumps(rundir, "fdleak.*")
    pid, child = int(res.facts("pid")[0][1]), int(res.facts("child")[0][1])
    for p in (pid, child):
        eq(_started(rundir, p), os.path.realpath(exe), "content of started.%d" % p)
    eq(sorted(d["pid"] for d in dumps), sorted([pid, child]), "dumps in the run dir")


def test_run_dir_dump_not_created_says_one_line():
    rundir = lib.new_tmpdir()
    bad = os.path.join(rundir, "missing", "fdleak.%p.%n.json")
    res, _ = lib.run_under_shim([_hostdump(), "leak"], env={"FDLEAK_RUN_DIR": rundir},
                                output=bad)
    eq(res.returncode, 0, "exit status", res.describe())
    lines = res.stderr.splitlines()
    eq(len(lines), 1, "stderr lines in run mode when the dump cannot be created", res.stderr)
    check(lines[0].startswith("fdleak: cannot create %s/missing/fdleak." % rundir) and
          lines[0].endswith(": No such file or directory"), "the line", lines[0])
    # without FDLEAK_RUN_DIR the text report is the fallback
    res, _ = lib.run_under_shim([_hostdump(), "leak"], output=bad)
    check("writing the report to stderr" in res.stderr and "leaked from open()" in res.stderr,
          "no fallback text report", res.stderr)


def test_run_dir_process_changed_user():
    if os.geteuid() != 0:
        raise lib.Skip("needs root to change user")
    rundir = lib.new_tmpdir()
    os.chmod(rundir, 0o700)
    res, _ = lib.run_under_shim([_hostdump(), "dropuser"], env={"FDLEAK_RUN_DIR": rundir},
                                output=os.path.join(rundir, "fdleak.%p.%n.json"))
    eq(res.returncode, 0, "exit status", res.describe())
    lines = res.stderr.splitlines()
    eq(len(lines), 1, "stderr lines", res.stderr)
    check(lines[0].endswith(": Permission denied (the process changed its user to 65534?)"),
          "the line", lines[0])
    files = os.listdir(rundir)
    check(any(f.startswith("started.") for f in files), "no start marker", files)
