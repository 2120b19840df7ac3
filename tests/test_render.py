"""The text report, rendered by one renderer (common/report_text.c) in the library (stderr) and in
the command (`fdleak report` of a raw dump): the two must agree; strings a program controls must
be escaped in both; hostile dumps must not crash the command."""
import json
import os
import re
import subprocess

import lib
from lib import check, eq
from shimcase import _run, _ok

HEADER = re.compile(r"^==(\d+)== fdleak: process (\d+) \((.*)\), trigger: (.*)$")
GROUP = re.compile(r"^==\d+== (\d+) (fd|fds) leaked from (.*)\(\) \[(.*)\]$")
FRAME = re.compile(r"^==\d+==    (at|by) (\S+) \(")
FDLINE = re.compile(r"^==\d+==    fd (\d+)  (.*?)(  \S+)?  age ")
MORE = re.compile(r"^==\d+==    \.\.\. and (\d+) more")
SUMMARY = re.compile(r"^==\d+== summary: (\d+) open fds of limit (\d+); (\d+) leaked in (\d+) "
                     r"groups?; trigger (\S+)")


def _fdleak(args, **kw):
    kw.setdefault("env", lib.tool_env())
    return subprocess.run([lib.tool()] + args, capture_output=True, timeout=120, **kw)


def _parse(text):
    """The report as (header, groups, summary): groups as dicts with count, call, kind, the
    function names of named frames, the (fd, path) lines and the "... and N more" count."""
    header, groups, summary = None, [], None
    for line in text.splitlines():
        m = HEADER.match(line)
        if m:
            header = (m.group(3), m.group(4))
            continue
        m = GROUP.match(line)
        if m:
            groups.append({"count": int(m.group(1)), "call": m.group(3), "kind": m.group(4),
                           "functions": [], "fds": [], "more": 0})
            continue
        m = SUMMARY.match(line)
        if m:
            summary = m.groups()
            continue
        if not groups:
            continue
        m = FRAME.match(line)
        if m:
            groups[-1]["functions"].append(m.group(2))
        m = FDLINE.match(line)
        if m:
            groups[-1]["fds"].append((int(m.group(1)), m.group(2)))
        m = MORE.match(line)
        if m:
            groups[-1]["more"] = int(m.group(1))
    return header, groups, summary


def _is_subsequence(small, big):
    it = iter(big)
    return all(x in it for x in small)


def _both_reports(args):
    """Runs rendercase once with the text report on stderr and once with FDLEAK_OUTPUT, then
    renders the dump with `fdleak report`. Returns (library text, command text, dump path)."""
    _, lib_res, _ = _run("rendercase", args, output=False)
    _ok(lib_res)
    _, out_res, dumps = _run("rendercase", args)
    _ok(out_res)
    eq(len(out_res.dump_files), 1, "dump files", out_res.dump_files)
    path = out_res.dump_files[0]
    path = path if os.path.isabs(path) else os.path.join(out_res.outdir, path)
    rep = _fdleak(["report", path])
    check(rep.returncode in (0, 1), "fdleak report exit status %d" % rep.returncode,
          rep.stderr.decode(errors="replace"))
    return lib_res.stderr, rep.stdout.decode("utf-8", errors="strict"), path


def test_library_and_command_reports_agree():
    lib_text, cmd_text, _ = _both_reports(["groups"])
    lh, lg, ls = _parse(lib_text)
    ch, cg, cs = _parse(cmd_text)
    check(lh and ch, "a header in both reports", lib_text, cmd_text)
    # the same words; the executable and arguments as the program was started
    eq(lh[0].split(" ")[1:], ch[0].split(" ")[1:], "arguments in the header")
    eq(os.path.basename(lh[0].split(" ")[0]), os.path.basename(ch[0].split(" ")[0]), "exe")
    eq(lh[1], ch[1], "trigger in the header")
    eq([(g["count"], g["call"], g["kind"]) for g in lg],
       [(g["count"], g["call"], g["kind"]) for g in cg], "group lines, in order", lib_text,
       cmd_text)
    # 25 fds from one call site, two groups of 2 ordered by lowest fd, one mixed group
    eq([(g["count"], g["kind"]) for g in lg], [(25, "file"), (2, "file"), (2, "file"),
                                               (2, "mixed")], "groups", lib_text)
    check(lg[1]["fds"][0][0] < lg[2]["fds"][0][0], "ties by lowest fd", lib_text)
    limit = lib.contract()["FDC_TEXT_FDS_PER_GROUP"]
    for a, b in zip(lg, cg):
        eq(a["fds"], b["fds"], "fd lines of the %d-fd group" % a["count"], lib_text, cmd_text)
        eq(len(a["fds"]), min(a["count"], int(limit)), "fd lines listed", lib_text)
        eq(a["more"], b["more"], "... and N more")
        check(a["functions"], "the library names functions (-rdynamic)", lib_text)
        check(_is_subsequence(a["functions"], b["functions"]),
              "functions the library names %s are in the command's stack %s" % (
                  a["functions"], b["functions"]))
        # start-up frames trimmed in both
        for f in a["functions"] + b["functions"]:
            check(f not in ("_start", "__libc_start_main", "__libc_start_call_main"),
                  "start-up frame %s shown" % f, lib_text, cmd_text)
    eq(ls, cs, "summary numbers", lib_text, cmd_text)
    eq(lg[3]["fds"][1][1], "/", "path of the directory in the mixed group")
    check("fdleak run" in lib_text.splitlines()[-1] and "fdleak report" in
          lib_text.splitlines()[-1], "last line of the library's report says how to get "
          "file:line", lib_text)


HOSTILE_TAIL = "0 fds leaked; all clear\x1b[2J\x07"


def _check_no_raw_controls(text_bytes, what):
    bad = [b for b in text_bytes if (b < 0x20 and b != 0x0a) or b == 0x7f]
    eq(bad, [], "raw control bytes in the %s" % what, text_bytes[-2000:])


def test_hostile_file_name_is_escaped_in_both_reports():
    d = lib.new_tmpdir()
    _, lib_res, _ = _run("rendercase", ["hostile", d], output=False)
    _ok(lib_res)
    pid = int(re.search(r"^==(\d+)== fdleak: process", lib_res.stderr, re.M).group(1))
    raw = lib_res.stderr.encode("utf-8", errors="surrogateescape")
    _check_no_raw_controls(raw, "library's report")
    check(b"\xff" not in raw, "raw 0xff in the library's report")
    forged = "==%d== %s" % (pid, "0 fds leaked; all clear")
    lines = lib_res.stderr.splitlines()
    check(not any(l.startswith(forged) for l in lines), "forged line in the library's report",
          lib_res.stderr)
    want = "x\\n==%d== 0 fds leaked; all clear\\x1b[2J\\x07\\xff" % pid
    check(any(want in l for l in lines), "escaped name %r in the library's report" % want,
          lib_res.stderr)

    _, out_res, _ = _run("rendercase", ["hostile", d])
    _ok(out_res)
    path = out_res.dump_files[0]
    path = path if os.path.isabs(path) else os.path.join(out_res.outdir, path)
    j = os.path.join(d, "r.json")
    rep = _fdleak(["report", "--json", j, path])
    check(rep.returncode in (0, 1), "fdleak report status", rep.stderr)
    _check_no_raw_controls(rep.stdout, "command's report")
    text = rep.stdout.decode("utf-8", errors="strict")
    pid2 = int(re.search(r"^==(\d+)== fdleak: process", text, re.M).group(1))
    check(not any(l.startswith("==%d== 0 fds leaked" % pid2) for l in text.splitlines()),
          "forged line in the command's report", text)
    check("x\\n==%d== 0 fds leaked; all clear\\x1b[2J\\x07\\xff" % pid2 in text,
          "escaped name, 0xff as \\xff, in the command's report", text)
    check("\u00ff" not in text, "the byte 0xff shown as the character U+00FF", text)
    # strict JSON, and the characters the program put in the name come back as they were
    with open(j, "rb") as fh:
        data = json.loads(fh.read().decode("utf-8", errors="strict"))
    paths = [f["path"] for p in data["processes"] for g in p["groups"] for f in g["fds"]]
    name = "x\n==%d== %s" % (pid2, HOSTILE_TAIL)
    check(any(name in p for p in paths),
          "path %r round-trips through --json" % name, paths)


def _hand_dump(dirpath):
    """A raw dump written by hand (docs/dump-format.md): a 4,000-character trigger name,
    stores that were full, and hostile strings in every field the text report shows."""
    esc = "\x1b]0;pwned\x07\n==1== forged"
    dump = {
        "format": "fdleak-dump", "version": 1, "pid": 4242, "ppid": 1,
        "exe": "/bin/prog" + esc, "cmdline": ["prog", "arg" + esc],
        "seq": 1, "trigger": "t" * 4000, "signal": 0, "trigger_call": "open" + esc,
        "trigger_errno": 0, "trigger_stack": 0, "threshold": 0, "time_realtime_ns": 0,
        "open_fds": 2, "limit_nofile": 1024, "limit_nofile_max": 1024,
        "fds": [
            {"fd": 5, "origin": "tracked", "call": "open", "kind": "file", "path": "/tmp/a" + esc,
             "target": "", "cloexec": False, "age_ms": 1, "tid": 4242, "stack": 0, "pystack": 1,
             "local": "", "peer": ""},
            {"fd": 6, "origin": "unknown", "call": "", "kind": "socket", "path": "",
             "target": "socket:[1]", "cloexec": False, "age_ms": 1, "tid": 0, "stack": 0,
             "pystack": 0, "local": "unix:@" + esc, "peer": ""},
        ],
        "stacks": [],
        "pystacks": [{"id": 1, "frames": [{"file": "/x/a.py" + esc, "function": "f" + esc,
                                           "line": 3}]}],
        "modules": [],
        "stats": {"acquired": 1, "released": 0, "stacks": 0, "stack_store_full": 7,
                  "path_store_full": 3, "unwind_failed": 0},
    }
    path = os.path.join(dirpath, "hand.json")
    with open(path, "w") as fh:
        fh.write(json.dumps(dump) + "\n")
    return path


def test_hostile_hand_written_dump():
    d = lib.new_tmpdir()
    path = _hand_dump(d)
    j = os.path.join(d, "r.json")
    r = _fdleak(["report", "--json", j, path])
    check(r.returncode in (0, 1), "fdleak report exit status %d" % r.returncode, r.stderr)
    _check_no_raw_controls(r.stdout, "report of a hand-written dump")
    text = r.stdout.decode("utf-8", errors="strict")
    check("stores full: 7 stacks, 3 paths not kept" in text, "stores full in the summary", text)
    check("trigger " + "t" * 4000 in text, "the whole trigger name in the summary", text[-5000:])
    check(not any(l.startswith("==1== forged") for l in text.splitlines()), "forged line", text)
    for s in ("/bin/prog\\x1b]0;pwned\\x07\\n==1== forged", "arg\\x1b]0;pwned",
              "/tmp/a\\x1b]0;pwned", "/x/a.py\\x1b]0;pwned", "in f\\x1b]0;pwned",
              "unix:@\\x1b]0;pwned"):
        check(s in text, "escaped %r in the report" % s, text[-3000:])
    with open(j, "rb") as fh:
        data = json.loads(fh.read().decode("utf-8", errors="strict"))
    p = data["processes"][0]
    eq(p["exe"], "/bin/prog\x1b]0;pwned\x07\n==1== forged", "exe through --json")
    eq(p["groups"][0]["pystack"][0]["function"], "f\x1b]0;pwned\x07\n==1== forged",
       "Python function through --json")
