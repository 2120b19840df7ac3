"""`fdleak diff`, `fdleak watch` and the peak (issue 10): a slowly leaking loopback server
(tests/cases/slowleak.c) watched and diffed, dumps and reports compared, the peak fields of
dumps and reports, FDLEAK_PEAK's geometric dumps, and `fdleak run` showing an earlier dump when
the final one holds fewer leaked descriptors (tests/cases/peakcase.c)."""
import glob
import json
import os
import signal
import subprocess
import time

import lib

TIMEOUT = 60
SLOW = os.path.join(lib.TESTS, "cases", "slowleak.c")
PEAK = os.path.join(lib.TESTS, "cases", "peakcase.c")


def _mark(name, path):
    with open(path) as f:
        for i, line in enumerate(f, 1):
            if "MARK:%s " % name in line or line.rstrip().endswith("MARK:%s */" % name):
                return i
    raise lib.TestFailure("no MARK:%s in %s" % (name, path))


def _fdleak(args, timeout=TIMEOUT):
    return subprocess.run([lib.tool()] + args, capture_output=True, text=True, cwd=lib.ROOT,
                          env=lib.tool_env(), timeout=timeout)


def _server(output=None):
    """The slow leaker under the library (one leaked file per 50 ms tick), ready."""
    p, outdir = lib.spawn_under_shim([lib.fixture("slowleak"), "1200", "50"], output=output,
                                     watchdog=120)
    lib.wait_line(p.stdout, "ready")
    return p, outdir


def _stop(p):
    try:
        p.stdin.close()
        p.wait(timeout=TIMEOUT)
    finally:
        lib.kill_group(p)


def _open_group(groups):
    for g in groups:
        if g["call"] == "open" and g["stack"] and g["stack"][0]["function"] == "log_request":
            return g
    raise lib.TestFailure("no open() group from log_request: %s" % [
        (g["call"], g["stack"][0]["function"] if g["stack"] else None) for g in groups])


def test_watch_finds_the_growing_group():
    p, _ = _server()
    d = lib.new_tmpdir()
    j, svg, html = (os.path.join(d, n) for n in ("w.json", "w.svg", "w.html"))
    try:
        r = _fdleak(["watch", "--interval=0.3", "--count=5", "--json", j, "--plot", svg,
                     str(p.pid)])
        lib.eq(r.returncode, 0, "watch status", r.stderr)
        line = _mark("log_open", SLOW)
        lib.check("log_request (tests/cases/slowleak.c:%d)" % line in r.stdout,
                  "growing group not named at its line", r.stdout)
        lib.check("limit reached in" in r.stdout, "no projection", r.stdout)
        w = json.load(open(j))
        c = lib.contract()
        lib.eq(w["format"], c["FDC_WATCH_FORMAT"], "format")
        lib.eq(w["version"], c["FDC_WATCH_VERSION"], "version")
        lib.eq(w["pid"], p.pid, "pid")
        lib.eq(len(w["samples"]), 5, "samples")
        times = [s["time_realtime_ns"] for s in w["samples"]]
        lib.check(times == sorted(times) and times[-1] - times[0] >= 0.9e9,
                  "samples not 0.3 s apart", times)
        g = _open_group(w["groups"])
        lib.eq(len(g["counts"]), 5, "counts per sample")
        lib.check(g["counts"][-1] > g["counts"][0] and g["rate_per_min"] > 0,
                  "group does not grow", g["counts"], g["rate_per_min"])
        lib.eq(g["stack"][0]["line"], line, "line of the growing group")
        # the growing group comes first; the two config files do not grow
        lib.check(w["groups"][0] is not None and w["groups"][0]["counts"] == g["counts"],
                  "growing group not first", [x["counts"] for x in w["groups"]])
        steady = [x for x in w["groups"] if x["stack"] and
                  x["stack"][0]["function"] == "open_config"]
        lib.check(steady and steady[0]["counts"] == [2] * 5 and steady[0]["rate_per_min"] == 0,
                  "steady group", steady)
        eta = w["projected_exhaustion_s"]
        lib.check(isinstance(eta, (int, float)) and 0 < eta < 1e7, "projection", eta)
        with open(svg) as f:
            text = f.read()
        lib.check(text.startswith("<svg") and "polyline" in text and "limit" in text and
                  "log_request" in text and "open descriptors" in text, "plot", text[:300])
        r = _fdleak(["watch", "--interval=0.2", "--count=2", "--plot", html, str(p.pid)])
        lib.eq(r.returncode, 0, "watch --plot html", r.stderr)
        with open(html) as f:
            text = f.read()
        lib.check("<!DOCTYPE html>" in text and "<svg" in text and "http://" not in
                  text.replace('xmlns="http://www.w3.org/2000/svg"', ""), "html plot")
    finally:
        _stop(p)


def test_watch_stops_when_the_target_exits_and_refuses_bad_options():
    p, _ = _server()
    try:
        w = subprocess.Popen([lib.tool(), "watch", "--interval=0.2", str(p.pid)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             cwd=lib.ROOT, env=lib.tool_env())
        time.sleep(1)
        p.stdin.close()  # the server ends; watch notices through its pidfd
        out, err = w.communicate(timeout=30)
        lib.check("process %d exited" % p.pid in out, "exit not noticed", out, err)
        lib.check("summary: 1 grew" in out, "no summary at the end", out)
        lib.eq(w.returncode, 0, "watch status after the target's exit", err)
    finally:
        _stop(p)
    for args, what in ((["watch", "--interval=0", "1"], "--interval=0"),
                       (["watch", "--plot=x.png", "1"], "--plot=x.png"),
                       (["watch", "--count=0", "1"], "--count=0"),
                       (["diff", "onlyone"], "two files"),
                       (["snapshot", "--interval=1", "1"], "not an option")):
        r = _fdleak(args)
        lib.eq(r.returncode, 2, "usage error for %s" % args, r.stderr)
        lib.check(what in r.stderr, "message for %s" % args, r.stderr)
    r = _fdleak(["watch", "999999999"])
    lib.check(r.returncode == 1 and "no process 999999999" in r.stderr, "no process", r.stderr)


def test_diff_of_two_raw_dumps_shows_the_growth_at_its_line():
    outdir = lib.new_outdir()
    p, _ = _server(output=os.path.join(outdir, "d.%p.%n.json"))
    try:
        for _ in range(2):
            os.kill(p.pid, lib.default_dump_signal())
            time.sleep(0.6)
        files = sorted(glob.glob(os.path.join(outdir, "d.%d.*.json" % p.pid)))
        lib.eq(len(files), 2, "signal dumps")
    finally:
        _stop(p)
    old, new = json.load(open(files[0])), json.load(open(files[1]))
    # the log group only: a request's socket may be open in one snapshot and gone in the next
    def logs(d):
        return [e for e in lib.leaks(d) if e["call"] == "open" and ".log" in e["path"]]
    grown = len(logs(new)) - len(logs(old))
    lib.check(grown > 0, "no growth between the dumps")
    r = _fdleak(["diff", "--fds=0", files[0], files[1]])
    lib.eq(r.returncode, 0, "diff status", r.stderr)
    line = _mark("log_open", SLOW)
    first = [l for l in r.stdout.splitlines() if l.startswith("+")][0]
    lib.check(first.startswith("+%d fds from open() [file]" % grown), "first group", r.stdout)
    lib.check("at log_request (tests/cases/slowleak.c:%d)" % line in r.stdout,
              "growth not at its line", r.stdout)
    old_fds = {e["fd"] for e in lib.leaks(old)}
    new_fds = [e["fd"] for e in lib.leaks(new) if e["fd"] not in old_fds]
    for fd in new_fds:
        lib.check(lib.word_in(r.stdout, "new fd %d" % fd), "fd %d not listed new" % fd, r.stdout)
    lib.check("open_config" not in r.stdout, "unchanged group shown", r.stdout)
    j = os.path.join(lib.new_tmpdir(), "diff.json")
    r = _fdleak(["diff", "--json", j, files[0], files[1]])
    lib.eq(r.returncode, 0, "diff --json status", r.stderr)
    d = json.load(open(j))
    lib.eq(d["format"], lib.contract()["FDC_DIFF_FORMAT"], "format")
    proc = d["processes"][0]
    lib.eq(proc["before"]["open_fds"], old["open_fds"], "before open_fds")
    lib.eq(proc["after"]["time_realtime_ns"], new["time_realtime_ns"], "after time")
    g = proc["groups"][0]
    lib.eq((g["delta"], g["call"], g["kind"]), (grown, "open", "file"), "first group")
    lib.eq(g["after"] - g["before"], grown, "before/after")
    lib.eq(sorted(g["new_fds"]), sorted(new_fds), "new fds")
    lib.eq(g["stack"][0]["line"], line, "line")
    # the same dumps the other way round: the group shrank
    r = _fdleak(["diff", files[1], files[0]])
    lib.check(r.stdout.count("\n-%d fds from open() [file]" % grown) == 1, "shrunk", r.stdout)


def test_diff_of_two_json_reports_and_of_a_dump_against_a_report():
    p, _ = _server()
    d = lib.new_tmpdir()
    j1, j2 = os.path.join(d, "1.json"), os.path.join(d, "2.json")
    try:
        r = _fdleak(["snapshot", "--json", j1, str(p.pid)])
        lib.eq(r.returncode, 0, "snapshot 1", r.stderr)
        time.sleep(0.5)
        r = _fdleak(["snapshot", "--json", j2, str(p.pid)])
        lib.eq(r.returncode, 0, "snapshot 2", r.stderr)
    finally:
        _stop(p)
    a, b = (json.load(open(x))["processes"][0] for x in (j1, j2))
    grown = _open_group(b["groups"])["count"] - _open_group(a["groups"])["count"]
    lib.check(grown > 0, "no growth")
    out = os.path.join(d, "diff.json")
    r = _fdleak(["diff", "--json", out, "--error-exitcode=7", j1, j2])
    lib.eq(r.returncode, 7, "--error-exitcode on growth", r.stderr)
    lib.check(("+%d fds from open() [file]" % grown) in r.stdout, "report diff", r.stdout)
    g = json.load(open(out))["processes"][0]["groups"][0]
    lib.eq((g["delta"], g["stack"][0]["function"]), (grown, "log_request"), "report diff json")
    # a report against itself: nothing changed
    r = _fdleak(["diff", j2, j2])
    lib.check(r.returncode == 0 and "no group changed" in r.stdout, "self diff", r.stdout)
    # not a dump or report: one line, nothing else
    junk = os.path.join(d, "junk.json")
    with open(junk, "w") as f:
        f.write('{"format": "something\\u001b[2J"}\n')
    r = _fdleak(["diff", junk, j2])
    lib.check(r.returncode == 1 and "neither an fdleak dump nor" in r.stderr and
              "\x1b" not in r.stderr, "junk refused", r.stderr)
    fifo = os.path.join(d, "fifo")
    os.mkfifo(fifo)
    r = _fdleak(["diff", fifo, j2], timeout=10)
    lib.check(r.returncode == 1 and "not a regular file" in r.stderr, "fifo refused", r.stderr)


def test_peak_fields_in_dump_and_report():
    res, dumps = lib.run_under_shim([lib.fixture("peakcase"), "100", "90"])
    lib.eq(res.returncode, 0, "peakcase", res.describe())
    d = lib.one_dump(dumps, "exit")
    inherited = len([e for e in d["fds"] if e["origin"] == "inherited"])
    lib.eq(d["peak_open_fds"], 100 + inherited, "peak_open_fds")
    lib.check(abs(d["peak_time_realtime_ns"] - d["time_realtime_ns"]) < 10e9 and
              d["peak_time_realtime_ns"] > 0, "peak time", d["peak_time_realtime_ns"])
    lib.eq(len(lib.leaks(d)), 10, "leaked at exit")
    j = os.path.join(lib.new_tmpdir(), "r.json")
    r = _fdleak(["report", "--json", j, d["_file"]])
    lib.eq(r.returncode, 0, "report", r.stderr)
    proc = json.load(open(j))["processes"][0]
    lib.eq((proc["peak_open_fds"], proc["peak_time_realtime_ns"]),
           (d["peak_open_fds"], d["peak_time_realtime_ns"]), "report peak")


def test_fdleak_peak_dumps_in_geometric_steps():
    c = lib.contract()
    first, factor = c["FDC_PEAK_FIRST"], c["FDC_PEAK_FACTOR"]
    n = 5000
    res, dumps = lib.run_under_shim([lib.fixture("peakcase"), str(n), str(n)],
                                    env={"FDLEAK_PEAK": "1"}, ulimit_n=(8192, 8192))
    lib.eq(res.returncode, 0, "peakcase", res.describe())
    peaks = lib.by_trigger(dumps, "peak")
    levels = [d["threshold"] for d in peaks]
    # 64, 128, ... up to n + inherited: O(log n) dumps, each at least factor x the last
    lib.check(levels and levels[0] == first, "first peak dump", levels)
    lib.check(all(b >= factor * a for a, b in zip(levels, levels[1:])), "steps", levels)
    lib.check(len(peaks) <= 8, "more than log2(%d/%d)+1 dumps" % (n, first), levels)
    for d in peaks:
        lib.eq(d["peak_open_fds"] >= d["threshold"], True, "peak in a peak dump")
    lib.eq(lib.one_dump(dumps, "exit")["peak_open_fds"] >= n, True, "final peak")
    # without FDLEAK_PEAK: none
    res, dumps = lib.run_under_shim([lib.fixture("peakcase"), "300", "300"])
    lib.eq(lib.by_trigger(dumps, "peak"), [], "peak dumps without FDLEAK_PEAK")


def test_run_shows_an_earlier_dump_when_the_final_one_has_fewer():
    j = os.path.join(lib.new_tmpdir(), "run.json")
    r = subprocess.run([lib.tool(), "run", "--peak", "--json", j, "--error-exitcode=9", "--",
                        lib.fixture("peakcase"), "200", "atexit"], capture_output=True,
                       text=True, cwd=lib.ROOT, env=lib.tool_env(), timeout=TIMEOUT)
    # the handles were closed before exit: no leak for CI, but the pile is shown
    lib.eq(r.returncode, 0, "status", r.stderr)
    lib.check("no leaked descriptors" in r.stderr, "final dump clean", r.stderr)
    lib.check("its earlier dump" in r.stderr and "trigger: peak" in r.stderr, "earlier shown",
              r.stderr)
    lib.check("pile_up (tests/cases/peakcase.c:%d)" % _mark("pile_open", PEAK) in r.stderr,
              "earlier dump's group", r.stderr)
    procs = json.load(open(j))["processes"]
    lib.eq([(p["trigger"], p["earlier"]) for p in procs], [("peak", True)], "JSON processes")
    # a threshold dump that caught the pile is no longer dropped
    r = subprocess.run([lib.tool(), "run", "--threshold=150", "--", lib.fixture("peakcase"),
                        "200", "atexit"], capture_output=True, text=True, cwd=lib.ROOT,
                       env=lib.tool_env(), timeout=TIMEOUT)
    lib.check("trigger: threshold" in r.stderr and "pile_up" in r.stderr, "threshold shown",
              r.stderr)
    # a final dump with more leaks than the earlier ones: shown alone, as before
    r = subprocess.run([lib.tool(), "run", "--peak", "--", lib.fixture("peakcase"), "100"],
                       capture_output=True, text=True, cwd=lib.ROOT, env=lib.tool_env(),
                       timeout=TIMEOUT)
    lib.check("its earlier dump" not in r.stderr and "trigger: exit" in r.stderr and
              "earlier dumps: peak (dump 1)" in r.stderr, "final alone", r.stderr)
