"""End-to-end tests of libfdleak.so: reports and settings. Each fixture of tests/cases/ runs under the
library and its raw dumps (docs/dump-format.md) are checked against the facts it printed."""
import os
import resource
import stat
import subprocess
import time

import lib
from lib import check, eq
from shimcase import _run, _ok, _exit_dump, _simple_leak_only, _check_leaks
from test_signals import _signal_dump_once

DUMP_SIG = lib.default_dump_signal()


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
    rc, out, err, dumps = _signal_dump_once(None, DUMP_SIG, output=target, outdir=outdir)
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
    rc, out, err, dumps = _signal_dump_once({"FDLEAK_SIGNAL": "BOGUS"}, DUMP_SIG)
    eq(rc, 0, "exit status", err)
    eq(lib.one_dump(dumps, "signal")["signal"], DUMP_SIG, "default dump signal after a bad setting")


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
