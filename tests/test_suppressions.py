"""Flame graphs (--folded, --flamegraph) and suppressions (--suppressions, --gen-suppressions,
--show-unused-suppressions, the default file): against tests/cases/suppcase.c, whose stacks are
known (main -> leak_logs -> open_log: 3 fds, /dev/null twice and /dev/zero; main -> leak_pipe:
2 fds; main -> leak_socket: 1 fd)."""
import json
import os
import re
import subprocess
import xml.etree.ElementTree as ET

import lib
from lib import check, eq

FOLDED = ["main;leak_logs;open_log;open() 3", "main;leak_pipe;pipe() 2",
          "main;leak_socket;socket() 1"]


def _fdleak(args, cwd=None):
    env = lib.tool_env()
    return subprocess.run([lib.tool()] + args, capture_output=True, text=True, timeout=120,
                          env=env, cwd=cwd, errors="replace")


def _run(args, prog=None):
    return _fdleak(["run"] + args + ["--", prog or lib.fixture("suppcase")])


def _dump():
    """One kept raw dump of suppcase, for `fdleak report`."""
    d = lib.new_tmpdir()
    keep = os.path.join(d, "keep")
    r = _run(["--keep-dumps=" + keep])
    eq(r.returncode, 0, "fdleak run", r.stderr)
    files = [os.path.join(keep, f) for f in os.listdir(keep)]
    eq(len(files), 1, "kept dumps", files)
    return files[0], d


def _write(d, name, text):
    path = os.path.join(d, name)
    with open(path, "w") as fh:
        fh.write(text)
    return path


def _summary(text):
    m = re.search(r"^==\d+== summary: .*$", text, re.M)
    check(m, "no summary line", text)
    return m.group(0)


def test_folded_lines():
    d = lib.new_tmpdir()
    out = os.path.join(d, "folded")
    r = _run(["--folded", "-o", out])
    eq(r.returncode, 0, "status", r.stderr)
    with open(out) as fh:
        got = fh.read().splitlines()
    eq(got, sorted(FOLDED), "folded lines")
    # report: --folded=FILE next to the text report, the same lines
    dump, d = _dump()
    f2 = os.path.join(d, "f2")
    r = _fdleak(["report", "--folded=" + f2, dump])
    eq(r.returncode, 0, "report status", r.stderr)
    check("leaked from open()" in r.stdout, "text report kept with --folded=FILE", r.stdout)
    with open(f2) as fh:
        eq(fh.read().splitlines(), sorted(FOLDED), "folded file of report")


def test_flamegraph_svg():
    dump, d = _dump()
    svg = os.path.join(d, "leaks.svg")
    r = _fdleak(["report", "--flamegraph=" + svg, dump])
    eq(r.returncode, 0, "status", r.stderr)
    root = ET.parse(svg).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    eq(root.tag, ns + "svg", "root element")
    titles = [t.text for t in root.iter(ns + "title")]
    for fn in ("open_log", "leak_logs", "leak_pipe", "leak_socket", "main", "open()"):
        check(any(t.startswith(fn + " (") for t in titles), "no bar for %s" % fn, titles)
    check(any(t == "all (6 fds, 100.0%)" for t in titles), "root bar", titles)
    rects = {g.find(ns + "title").text.split(" (")[0]: float(g.find(ns + "rect").get("width"))
             for g in root.iter(ns + "g")}
    # widths proportional to counts: open_log (3) is three times leak_socket (1)
    check(abs(rects["open_log"] - 3 * rects["leak_socket"]) < 0.5, "widths", rects)
    texts = [t.text or "" for t in root.iter(ns + "text")]
    check(any("leaked file descriptors" in t for t in texts), "title", texts)
    for t in root.iter(ns + "script"):
        raise lib.TestFailure("the SVG holds a script")


def test_gen_suppressions_then_clean_run():
    d = lib.new_tmpdir()
    gen = os.path.join(d, "gen.supp")
    r = _run(["--error-exitcode=9", "--gen-suppressions=" + gen])
    eq(r.returncode, 9, "first run fails the gate", r.stderr)
    r = _run(["--error-exitcode=9", "--suppressions=" + gen, "--show-unused-suppressions",
              "--no-default-suppressions",
              "--json=" + os.path.join(d, "j.json")])
    eq(r.returncode, 0, "second run passes", r.stderr)
    check("fdleak: no leaked descriptors (1 process checked; 6 fds suppressed)" in r.stderr,
          "no-leak line", r.stderr)
    check("unused suppression" not in r.stderr, "every generated entry used", r.stderr)
    # the text entries under each group work as well, copied as printed
    r = _run(["--gen-suppressions"])
    entries = re.findall(r"^\{\n(?:   .*\n)+\}\n", r.stderr, re.M)
    eq(len(entries), 3, "entries under the groups", r.stderr)
    check("   open-open_log\n   call: open\n   kind: file\n   fun:open_log\n   fun:leak_logs\n"
          "   fun:main\n" in entries[0] or any("fun:open_log" in e for e in entries),
          "entry for open_log", entries)
    text = _write(d, "text.supp", "".join(entries))
    r = _run(["--error-exitcode=9", "--suppressions=" + text])
    eq(r.returncode, 0, "run with the printed entries", r.stderr)


def test_frame_patterns_globs_and_ellipsis():
    dump, d = _dump()
    supp = _write(d, "p.supp", """
# innermost first: open_log, then any frames, then a frame of the executable
{
   logs via ellipsis
   fun:open_*
   ...
   obj:suppcase
}
{
   pipe by glob
   fun:leak_p?pe
   src:*cases/suppcase.c
}
{
   never matches
   fun:leak_socket
   fun:main
   fun:nothing_here
}
""")
    j = os.path.join(d, "r.json")
    r = _fdleak(["report", "--suppressions=" + supp, "--json=" + j, "--error-exitcode=5",
                 "--show-unused-suppressions", dump])
    eq(r.returncode, 5, "the socket still leaks", r.stderr)
    s = _summary(r.stdout)
    check("1 leaked in 1 group" in s, "summary counts", s)
    check("suppressed: 5 fds in 2 groups by 2 rules" in s, "summary suppressed", s)
    check(re.search(r"^==\d+== suppressed by logs via ellipsis: 3 fds in 1 group$", r.stdout,
                    re.M), "per-rule line", r.stdout)
    check(re.search(r"^fdleak: unused suppression never matches \(.*p\.supp:14\)$", r.stdout,
                    re.M), "unused entry named", r.stdout)
    with open(j) as fh:
        p = json.load(fh)["processes"][0]
    eq(p["leaked"], 1, "JSON leaked")
    eq(p["suppressed"], [{"rule": "logs via ellipsis", "count": 3, "groups": 1},
                         {"rule": "pipe by glob", "count": 2, "groups": 1}], "JSON suppressed")


def test_call_kind_path_filters():
    dump, d = _dump()
    supp = _write(d, "f.supp", """
{
   zero only
   call: open
   path: /dev/zero
   ...
}
{
   wrong call
   call: socket
   fun:open_log
}
{
   pipes
   kind: pipe
   ...
}
""")
    j = os.path.join(d, "r.json")
    r = _fdleak(["report", "--suppressions=" + supp, "--json=" + j, "--show-unused-suppressions",
                 dump])
    eq(r.returncode, 0, "status", r.stderr)
    with open(j) as fh:
        p = json.load(fh)["processes"][0]
    eq(p["suppressed"], [{"rule": "zero only", "count": 1, "groups": 1},
                         {"rule": "pipes", "count": 2, "groups": 1}], "JSON suppressed")
    groups = {g["call"]: [f["path"] for f in g["fds"]] for g in p["groups"]}
    eq(groups.get("open"), ["/dev/null", "/dev/null"], "open group keeps /dev/null", groups)
    check("socket" in groups and "pipe" not in groups, "groups left", groups)
    check("unused suppression wrong call" in r.stdout, "wrong call unused", r.stdout)


def test_bad_suppression_files_exit_2_before_running():
    d = lib.new_tmpdir()
    marker = os.path.join(d, "ran")
    cases = [
        ("{\n   name\n   fun:a\n   bogus line\n}\n", "bad.supp:4: expected fun:"),
        ("{\n   name\n   fun:a\n", "bad.supp:3: end of file inside the entry that starts at "
                                    "line 1"),
        ("fun:a\n", "bad.supp:1: expected '{' to start an entry"),
        ("{\n   name\n   call: open\n}\n", "bad.supp:4: entry has no frame pattern"),
        ("{\n   a\n   fun:x\n}\n{\n   a\n   fun:y\n}\n", "bad.supp:6: duplicate entry name"),
        ("{\n   a\n   py:nofunction\n}\n", "bad.supp:3: expected py:FILE:FUNCTION"),
    ]
    for text, want in cases:
        bad = _write(d, "bad.supp", text)
        r = _fdleak(["run", "--suppressions=" + bad, "--", "touch", marker])
        eq(r.returncode, 2, "status for %r" % text, r.stderr)
        lines = r.stderr.splitlines()
        eq(len(lines), 1, "one line", r.stderr)
        check(want in lines[0] and lines[0].startswith("fdleak: "), "message", want, lines)
        check(not os.path.exists(marker), "the command ran")
    r = _fdleak(["report", "--suppressions=" + os.path.join(d, "missing.supp"), "x.json"])
    eq(r.returncode, 2, "unreadable file", r.stderr)
    check("missing.supp: cannot read suppressions: No such file" in r.stderr, "message",
          r.stderr)


def test_default_file_and_no_default():
    """share/fdleak/default.supp, found next to the command (build/default.supp): the script
    file bash keeps on fd 255 is suppressed by default, and shown without the default."""
    bash = "/usr/bin/bash" if os.path.exists("/usr/bin/bash") else "/bin/bash"
    script = os.path.join(lib.new_tmpdir(), "s.sh")
    with open(script, "w") as fh:
        fh.write("echo hi\n")
    argv = ["--", bash, script]
    r = _fdleak(["run", "--error-exitcode=3", "--no-default-suppressions"] + argv)
    eq(r.returncode, 3, "leak shown without the default file", r.stderr)
    check("at move_to_high_fd" in r.stderr, "bash frame", r.stderr)
    r = _fdleak(["run", "--error-exitcode=3"] + argv)
    eq(r.returncode, 0, "suppressed by default", r.stderr)
    check("1 fd suppressed" in r.stderr, "no-leak line", r.stderr)
    d = lib.new_tmpdir()
    j = os.path.join(d, "j.json")
    r = _fdleak(["run", "--show-unused-suppressions", "-o", os.path.join(d, "out"),
                 "--", lib.fixture("suppcase")])
    with open(os.path.join(d, "out")) as fh:
        out = fh.read()
    check(re.search(r"unused suppression bash-script-fd \(.*default\.supp:\d+\)",
                    out), "default entry named when unused", out)


def test_hostile_frames_escaped():
    """Frames from a dump are escaped in folded lines (no raw ';' or newline), in the SVG
    (well-formed XML) and in generated entries (no control byte, globs that still match)."""
    dump, d = _dump()
    with open(dump) as fh:
        j = json.load(fh)
    evil = "ev;il\n\x1b[2Jfn*"
    j["pystacks"] = [{"id": 9, "frames": [{"file": "/x/a;b.py", "function": evil, "line": 3}]}]
    for f in j["fds"]:
        if f.get("call") == "open":
            f["pystack"] = 9
    hostile = _write(d, "hostile.json", json.dumps(j) + "\n")
    folded, svg, gen = (os.path.join(d, n) for n in ("folded", "f.svg", "gen.supp"))
    r = _fdleak(["report", "--folded=" + folded, "--flamegraph=" + svg,
                 "--gen-suppressions=" + gen, hostile])
    eq(r.returncode, 0, "status", r.stderr)
    with open(folded, "rb") as fh:
        lines = fh.read().decode().splitlines()
    eq(len(lines), 3, "folded lines", lines)
    first = [l for l in lines if l.endswith("open() 3")]
    eq(len(first), 1, "open line", lines)
    frames = first[0].rsplit(" ", 1)[0].split(";")
    eq(frames[0], "/x/a\\x3bb.py:ev\\x3bil\\n\\x1b[2Jfn*:3", "escaped Python frame", frames)
    eq(frames[1:], ["main", "leak_logs", "open_log", "open()"], "C frames", frames)
    ET.parse(svg)
    with open(gen, "rb") as fh:
        text = fh.read().decode()
    check("\x1b" not in text and "ev;il\n" not in text, "raw bytes in entries", repr(text))
    check("   py:a;b.py:ev;il??\\[2Jfn\\*\n" in text, "Python entry line", text)
    r = _fdleak(["report", "--suppressions=" + gen, "--error-exitcode=4", hostile])
    eq(r.returncode, 0, "generated entries match the hostile frames", r.stdout + r.stderr)
