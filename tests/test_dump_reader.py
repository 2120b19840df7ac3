"""`fdleak report` on hostile dumps (tools/dumpfile.c, tools/json_read.cc, tools/symbolize.c):
every dump here is written by hand. The command runs as root and reads what a target wrote, so
it must never hang (a FIFO where a dump, binary or debug file should be), never take nonsense
(negative or huge descriptor numbers, a key given twice), never allocate without bound, and say
what is wrong in one line naming the file and the field; while keys it does not know are
ignored whatever they hold. Also: the fuzzing corpus (tests/fuzz/corpus) replayed through the
reader, and the symbolizer's module cache (many dumps of one program)."""
import glob
import json
import os
import re
import shutil
import subprocess

import lib

TIMEOUT = 30


def _base(**over):
    """A minimal valid dump: one tracked descriptor acquired at a stack of one frame in a
    module that is no file ([fake]), so nothing is symbolized."""
    d = {
        "format": "fdleak-dump", "version": 1, "pid": 4242, "ppid": 1, "exe": "/bin/true",
        "cmdline": ["true"], "seq": 1, "trigger": "exit", "signal": 0,
        "modules": [{"path": "[fake]", "base": "0x1000", "start": "0x1000", "end": "0x2000",
                     "build_id": ""}],
        "stacks": [{"id": 1, "ips": ["0x1234"]}],
        "fds": [{"fd": 3, "origin": "tracked", "call": "open", "kind": "file",
                 "path": "/tmp/x", "stack": 1}],
        "stats": {"acquired": 1, "released": 0},
    }
    d.update(over)
    return d


def _write(d, name, content):
    path = os.path.join(d, name)
    text = content if isinstance(content, str) else json.dumps(content, indent=1) + "\n"
    with open(path, "w") as f:
        f.write(text)
    return path


def _report(*args, timeout=TIMEOUT):
    return lib.run_tool(["report"] + list(args), timeout=timeout)


def _one_line_error(r, *words):
    assert r.returncode == 1, "status %d, want 1:\n%s%s" % (r.returncode, r.stdout, r.stderr)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, "expected one line, got:\n%s" % r.stderr
    for w in words:
        assert w in lines[0], "%r not in %r" % (w, lines[0])


def test_hand_written_dump_reads():
    d = lib.new_tmpdir()
    r = _report(_write(d, "ok.json", _base()))
    assert r.returncode == 0, r.stderr
    assert "1 fd leaked from open()" in r.stdout, r.stdout


def test_field_checks_name_file_and_field():
    """Descriptor numbers outside 0..INT_MAX (2^40+7 used to show as 7), keys given twice,
    wrong types, bad addresses and ids or descriptors given twice: one line each."""
    d = lib.new_tmpdir()
    fd0 = _base()["fds"][0]
    cases = {
        "negfd.json": (_base(fds=[dict(fd0, fd=-1)]), ['"fds[0].fd" is out of range', "-1"]),
        "bigfd.json": (_base(fds=[dict(fd0, fd=2 ** 40 + 7)]),
                       ['"fds[0].fd" is out of range', "1099511627783"]),
        "u64fd.json": (_base(fds=[dict(fd0, fd=2 ** 63 + 1)]), ['"fds[0].fd" is out of range']),
        "hugefd.json": (_base(fds=[dict(fd0, fd=10 ** 30)]),
                        ['"fds[0].fd" is out of range', "beyond 64 bits"]),
        "floatfd.json": (_base(fds=[dict(fd0, fd=3.5)]), ['"fds[0]" has no integer "fd"']),
        "strpath.json": (_base(fds=[dict(fd0, path=5)]), ['"fds[0].path" is not a string']),
        "negpid.json": (_base(pid=-5), ['"pid" is out of range']),
        "stackref.json": (_base(fds=[dict(fd0, stack=2 ** 32)]), ['"fds[0].stack" is out of range']),
        "twofds.json": (_base(fds=[fd0, dict(fd0)]), ["descriptor 3 is listed twice"]),
        "twostacks.json": (_base(stacks=[{"id": 1, "ips": []}, {"id": 1, "ips": []}]),
                           ['two stacks have "id" 1']),
        "stackid0.json": (_base(stacks=[{"id": 0, "ips": []}]), ['"stacks[0].id" is out of range']),
        "noid.json": (_base(stacks=[{"ips": []}]), ['"stacks[0]" has no "id"']),
        "badip.json": (_base(stacks=[{"id": 1, "ips": ["0xzz"]}]),
                       ['"stacks[0].ips[0]" is not an address']),
        "longip.json": (_base(stacks=[{"id": 1, "ips": ["0x" + "f" * 17]}]),
                        ['"stacks[0].ips[0]" is not an address']),
        "badbase.json": (_base(modules=[dict(_base()["modules"][0], base="7")]),
                         ['"modules[0].base" is not an address']),
        "backwards.json": (_base(modules=[dict(_base()["modules"][0], start="0x3000")]),
                           ['"modules[0]" starts after its end']),
        "fdsobj.json": (_base(fds={"fd": 3}), ['"fds" is not an array']),
        "fdnotobj.json": (_base(fds=[3]), ['"fds[0]" is not an object']),
        "cmdline.json": (_base(cmdline=["a", 1]), ['"cmdline[1]" is not a string']),
        "cloexec.json": (_base(fds=[dict(fd0, cloexec="yes")]), ['"fds[0].cloexec" is not true']),
        "stats.json": (_base(stats=[]), ['"stats" is not an object']),
    }
    text = json.dumps(_base(), indent=1) + "\n"
    raw = {
        "dupfd.json": (text.replace('"fd": 3,', '"fd": 3, "fd": 2,', 1),
                       ['duplicate key "fds[0].fd"']),
        "duppid.json": (text.replace('"pid": 4242,', '"pid": 4242, "pid": 7,', 1),
                        ['duplicate key "pid"']),
        "dupfds.json": (text.replace('"fds": [', '"fds": [], "fds": [', 1),
                        ['duplicate key "fds"']),
    }
    for name, (content, words) in list(cases.items()) + list(raw.items()):
        path = _write(d, name, content)
        r = _report(path)
        _one_line_error(r, path + ": bad dump: ", *words)


def test_unknown_keys_ignored_whatever_they_hold():
    """docs/dump-format.md: unknown keys are ignored. An integer beyond 64 bits there used to
    make the dump "invalid JSON"; in a known key it is out of range."""
    d = lib.new_tmpdir()
    text = json.dumps(_base(), indent=1) + "\n"
    big = "1" + "0" * 40
    for name, content in {
        "top.json": text.replace('"pid":', '"future": %s, "pid":' % big, 1),
        "neg.json": text.replace('"pid":', '"future": -%s, "pid":' % big, 1),
        "nested.json": text.replace('"fd": 3,', '"fd": 3, "x": [%s, {"y": %s}],' % (big, big), 1),
        "many.json": text.replace('"pid":', '"f": [%s], "pid":' % ",".join([big] * 5000), 1),
        "strings.json": text.replace('"pid":', '"s": "%s", "pid":' % big, 1),
        "dupunknown.json": text.replace('"pid":', '"u": 1, "u": 2, "pid":', 1),
        "float.json": text.replace('"pid":', '"f": 1.5e300, "pid":', 1),
        "inf.json": text.replace('"pid":', '"f": [1e400, -2.5E+999], "pid":', 1),
    }.items():
        r = _report(_write(d, name, content))
        assert r.returncode == 0 and "1 fd leaked" in r.stdout, (name, r.stderr)
    path = _write(d, "known.json", text.replace('"pid": 4242', '"pid": ' + big, 1))
    _one_line_error(_report(path), '"pid" is out of range (beyond 64 bits')
    for bad in ("0123", "0" * 25 + "1", "1e", "--1"):  # not JSON numbers, whatever their size
        path = _write(d, "badnum.json", text.replace('"pid":', '"f": %s, "pid":' % bad, 1))
        _one_line_error(_report(path), "invalid JSON at line")


def test_sizes_and_counts_capped():
    d = lib.new_tmpdir()
    c = lib.contract()
    depth = int(c["FDC_DEPTH_MAX"])
    ips = ["0x%x" % (0x1000 + i) for i in range(depth + 1)]
    path = _write(d, "deep.json", _base(stacks=[{"id": 1, "ips": ips}]))
    _one_line_error(_report(path), '"stacks[0].ips" has %d entries (at most %d' % (depth + 1, depth))
    frames = [{"file": "a.py", "function": "f", "line": 1}] * (depth + 1)
    path = _write(d, "py.json", _base(pystacks=[{"id": 1, "frames": frames}]))
    _one_line_error(_report(path), '"pystacks[0].frames" has %d entries' % (depth + 1))
    # a file over the cap is refused from its size, before anything is read
    path = os.path.join(d, "huge.json")
    with open(path, "w") as f:
        f.write("{")
        f.truncate(300 << 20)
    r = _report(path, timeout=10)
    _one_line_error(r, path, "larger than")


def test_dump_that_is_not_a_regular_file():
    """A FIFO, a directory or a symlink given as a dump: refused at once, never read."""
    d = lib.new_tmpdir()
    fifo = os.path.join(d, "fifo.json")
    os.mkfifo(fifo)
    _one_line_error(_report(fifo, timeout=10), fifo, "not a regular file")
    _one_line_error(_report(d, timeout=10), d)
    good = _write(d, "good.json", _base())
    link = os.path.join(d, "link.json")
    os.symlink(good, link)
    _one_line_error(_report(link, timeout=10), link, "symbolic link")


def _program(d):
    """A copy of a fixture built with -g, and (path, start, end, ip) for a dump placing it at
    a PIE load address with ip just after the start of main."""
    exe = os.path.join(d, "prog")
    shutil.copy(lib.fixture("simple"), exe)
    nm = subprocess.run(["nm", exe], capture_output=True, text=True, timeout=TIMEOUT).stdout
    main = int(re.search(r"^([0-9a-f]+) T main$", nm, re.M).group(1), 16)
    return exe, main


def _dump_for(exe, main, base=0x555555554000):
    return _base(modules=[{"path": exe, "base": "0x%x" % base, "start": "0x%x" % base,
                           "end": "0x%x" % (base + 0x100000), "build_id": ""}],
                 stacks=[{"id": 1, "ips": ["0x%x" % (base + main + 1)]}])


def test_module_path_that_is_a_fifo_or_device():
    """A module path naming a FIFO used to hang `report` (libdwfl opened it, blocking)."""
    d = lib.new_tmpdir()
    fifo = os.path.join(d, "libfifo.so")
    os.mkfifo(fifo)
    for path in (fifo, "/dev/zero", d):
        dump = _write(d, "m.json", _dump_for(path, 0x1000))
        r = _report(dump, timeout=15)
        assert r.returncode == 0, r.stderr
        assert "not a regular file" in r.stderr, r.stderr
        assert os.path.basename(path) + "+0x" in r.stdout, r.stdout


def test_debuglink_and_altlink_that_are_fifos():
    """A binary whose .gnu_debuglink or .gnu_debugaltlink names a FIFO: libdwfl and libdw
    would open those names themselves; the symbolizer opens them (or refuses them) instead."""
    d = lib.new_tmpdir()
    exe, main = _program(d)
    # debuglink: the debug file exists when linked (objcopy computes its CRC), then is
    # replaced by a FIFO
    dbg = exe + ".debug"
    for c in (["objcopy", "--only-keep-debug", exe, dbg], ["strip", "--strip-debug", exe],
              ["objcopy", "--add-gnu-debuglink=" + dbg, exe]):
        r = subprocess.run(c, capture_output=True, text=True, timeout=TIMEOUT)
        assert r.returncode == 0, r.stderr
    os.unlink(dbg)
    os.mkfifo(dbg)
    r = _report(_write(d, "link.json", _dump_for(exe, main)), timeout=15)
    assert r.returncode == 0, r.stderr
    assert "main" in r.stdout, r.stdout  # from the symbol table
    # altlink: a dwz file name that is a FIFO, in a binary that keeps its DWARF
    exe2 = os.path.join(d, "prog2")
    shutil.copy(lib.fixture("simple"), exe2)
    alt = os.path.join(d, "alt.content")
    with open(alt, "wb") as f:
        f.write(b"dwz.fifo\0" + b"\x11" * 20)
    os.mkfifo(os.path.join(d, "dwz.fifo"))
    r = subprocess.run(["objcopy", "--add-section", ".gnu_debugaltlink=" + alt, exe2],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    r = _report(_write(d, "alt.json", _dump_for(exe2, main)), timeout=15)
    assert r.returncode == 0, r.stderr
    assert "debugaltlink" in r.stderr and "main" in r.stdout, r.stdout + r.stderr


def test_many_dumps_of_one_program_share_symbols():
    """50 dumps of one program: one warning per module file for the whole run, not one per
    dump, and every dump symbolized the same."""
    d = lib.new_tmpdir()
    exe, main = _program(d)
    paths = []
    for i in range(50):
        dump = _dump_for(exe, main, base=0x555555554000 + i * 0x1000000)
        dump["pid"] = 1000 + i
        dump["modules"].append({"path": "/nonexistent/lib.so", "base": "0x7f0000000000",
                                "start": "0x7f0000000000", "end": "0x7f0000100000",
                                "build_id": ""})
        dump["stacks"][0]["ips"].append("0x7f0000001234")
        paths.append(_write(d, "d%02d.json" % i, dump))
    r = _report(*paths, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("/nonexistent/lib.so") == 1, r.stderr
    assert r.stdout.count(" main ") + r.stdout.count(" main\n") >= 50 or \
        len(re.findall(r"\bmain\b", r.stdout)) >= 50, r.stdout[:3000]


def test_fuzz_corpus_replays():
    """Every input of tests/fuzz/corpus through the reader (the fuzz target's code, built
    without libFuzzer): no crash, no sanitizer report, within seconds."""
    replay = os.path.join(lib.build_dir(), "tests", "fuzz", "replay")
    corpus = sorted(glob.glob(os.path.join(lib.ROOT, "tests", "fuzz", "corpus", "*")))
    if not os.path.exists(replay):
        raise lib.TestFailure("not built: %s (make test builds it)" % replay)
    assert len(corpus) >= 20, "corpus too small: %d files" % len(corpus)
    r = subprocess.run([replay] + corpus, capture_output=True, text=True, timeout=120,
                       env=lib.tool_env())
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert "replayed %d inputs" % len(corpus) in r.stdout, r.stdout[-500:]


def test_thousands_of_modules_few_warnings():
    """A dump naming 5,000 unreadable modules, each with a frame: rendered at once, with a
    bounded number of warnings."""
    d = lib.new_tmpdir()
    mods, ips = [], []
    for i in range(5000):
        start = 0x10000000 + i * 0x10000
        mods.append({"path": "/nonexistent/lib%d.so" % i, "base": "0x%x" % start,
                     "start": "0x%x" % start, "end": "0x%x" % (start + 0x10000),
                     "build_id": "%040x" % i})
        ips.append("0x%x" % (start + 0x100))
    stacks = [{"id": i + 1, "ips": ips[i * 100:(i + 1) * 100]} for i in range(50)]
    fds = [{"fd": 3 + i, "origin": "tracked", "call": "open", "stack": i + 1} for i in range(50)]
    r = _report(_write(d, "mods.json", _base(modules=mods, stacks=stacks, fds=fds)),
                timeout=60)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stderr.splitlines()
    assert 0 < len(lines) <= 32 and "no more warnings" in lines[-1], lines[-3:]


_SRC = r'''#include <fcntl.h>
static __attribute__((noinline)) int leak_here(void)
{
    return open("/dev/null", O_RDONLY); /* line 4 */
}
static inline int inlined(void)
{
    return leak_here() + 0; /* line 8 */
}
int main(void)
{
    return inlined() < 0;
}
'''


def test_pie_and_non_pie_in_one_report():
    """The same source built as PIE and non-PIE, dumps reported together: each module file is
    its own cache entry (file addresses differ), both symbolized to the line, inlined caller
    included."""
    d = lib.new_tmpdir()
    src = os.path.join(d, "leakone.c")
    with open(src, "w") as f:
        f.write(_SRC)
    keep = os.path.join(d, "dumps")
    for name, flag in (("pie", "-pie"), ("nopie", "-no-pie")):
        exe = os.path.join(d, name)
        r = subprocess.run(["gcc", "-g", "-O1", "-fPIE" if flag == "-pie" else "-fno-pie", flag,
                            "-o", exe, src], capture_output=True, text=True, timeout=TIMEOUT)
        assert r.returncode == 0, r.stderr
        typ = subprocess.run(["readelf", "-h", exe], capture_output=True, text=True,
                             timeout=TIMEOUT).stdout
        assert ("DYN" if flag == "-pie" else "EXEC") in typ, typ
        r = lib.run_tool(["run", "--keep-dumps", keep, "--", exe], timeout=60)
        assert "leak_here (%s:4)" % src in r.stderr or "leak_here (leakone.c:4)" in r.stderr, \
            r.stderr
    dumps = sorted(glob.glob(os.path.join(keep, "*.json")))
    assert len(dumps) == 2, dumps
    r = _report(*dumps)
    assert r.returncode == 0, r.stderr
    for want in ("leak_here (", "leakone.c:4)", "inlined (", "leakone.c:8)"):
        assert r.stdout.count(want) == 2, (want, r.stdout)
