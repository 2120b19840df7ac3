"""Helpers shared by the fdleak tests: locating the build, running programs under the shim,
reading raw dumps (docs/dump-format.md) and checking which function acquired a descriptor."""
import atexit
import glob
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import tempfile
import threading

TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)
TIMEOUT = 30


class TestFailure(AssertionError):
    pass


class Skip(Exception):
    """Raised by a test that cannot run here (a missing tool or privilege); counted apart."""


def build_dir():
    b = os.environ.get("FDLEAK_BUILD", "build")
    return b if os.path.isabs(b) else os.path.join(ROOT, b)


def shim():
    """Absolute path of the preload library under test."""
    path = os.path.join(build_dir(), "libfdleak.so")
    if not os.path.exists(path):
        raise TestFailure("shim not built: %s" % path)
    return path


def tool():
    return os.path.join(build_dir(), "fdleak")


def fixture(name):
    """Absolute path of a compiled tests/cases/<name>.c(c)."""
    path = os.path.join(build_dir(), "tests", name)
    if not os.path.exists(path):
        raise TestFailure("fixture not built: %s" % path)
    return path


def unit(name):
    path = os.path.join(build_dir(), "tests", "unit", name)
    if not os.path.exists(path):
        raise TestFailure("unit test not built: %s" % path)
    return path


def py_script(name):
    return os.path.join(TESTS, "py", name)


_asan_cache = {}
# Sanitizer settings, for a sanitizer build (make test-sanitize), one value for every process
# of a test, because `fdleak run` passes its environment on to the program it runs. LeakSanitizer
# is off for programs under the library (leaking is what the fixtures are for; CPython leaks at
# exit by design) and on for the command, where a leak is a bug: the last option reads
# tests/asan.<binary name> if there is one (%b), and tests/asan.fdleak turns leak detection on.
# tests/lsan.supp names the command's known leaks being fixed elsewhere, each with a comment.
ASAN_OPTIONS = ("detect_leaks=0:verify_asan_link_order=0:handle_segv=0:handle_sigbus=0:"
                "include_if_exists=%s" % os.path.join(TESTS, "asan.%b"))
LSAN_OPTIONS = "suppressions=%s:print_suppressions=0" % os.path.join(TESTS, "lsan.supp")


def _asan_runtime():
    """Path of libasan when the shim is a sanitizer build, else None."""
    lib = shim()
    if lib not in _asan_cache:
        out = subprocess.run(["ldd", lib], capture_output=True, text=True, timeout=TIMEOUT).stdout
        rt = None
        if "libasan" in out:
            name = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True,
                                  text=True, timeout=TIMEOUT).stdout.strip()
            rt = os.path.realpath(name)
        _asan_cache[lib] = rt
    return _asan_cache[lib]


def asan_build():
    return _asan_runtime() is not None


def preload_value():
    """The LD_PRELOAD value that loads the shim (after the ASan runtime in a sanitizer build)."""
    rt = _asan_runtime()
    return "%s:%s" % (rt, shim()) if rt else shim()


def shim_env(extra=None, output=None):
    """Environment for a program under the shim. `output` is the FDLEAK_OUTPUT template (None
    leaves it unset). FDLEAK_* inherited from the caller are removed first."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("FDLEAK_") or k == "FDLEAK_BUILD"}
    env.pop("LD_PRELOAD", None)
    env["LD_PRELOAD"] = preload_value()
    if _asan_runtime():
        # leaks are the programs' purpose here; ASan's own SEGV/BUS reports would pre-empt the
        # shim's fatal-signal handling, which is what the tests check
        env["ASAN_OPTIONS"] = ASAN_OPTIONS
        env["LSAN_OPTIONS"] = LSAN_OPTIONS
    if output is not None:
        env["FDLEAK_OUTPUT"] = output
    if extra:
        for k, v in extra.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
    return env


def plain_env(extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FDLEAK_")}
    env.pop("LD_PRELOAD", None)
    if extra:
        env.update({k: v for k, v in extra.items() if v is not None})
    return env


def _preexec(ulimit_n, no_core=True):
    def fn():
        if no_core:
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if ulimit_n is not None:
            # a number sets soft and hard; (soft, hard) leaves the room above soft that the
            # library needs to write a dump file at the soft limit
            soft, hard = ulimit_n if isinstance(ulimit_n, tuple) else (ulimit_n, ulimit_n)
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        # default dispositions for the signals the tests rely on
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGPIPE):
            signal.signal(s, signal.SIG_DFL)
    return fn


class Result:
    """What a run produced: returncode, stdout, stderr (text), dumps (parsed), outdir."""

    def __init__(self, proc, dumps, outdir, dump_files):
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.dumps = dumps
        self.outdir = outdir
        self.dump_files = dump_files

    def facts(self, *kinds):
        return facts(self.stdout, *kinds)

    def describe(self):
        return "rc=%s\n--- stdout\n%s--- stderr\n%s" % (self.returncode, self.stdout[-3000:],
                                                       self.stderr[-3000:])


_tmpdirs = []


def new_tmpdir(prefix="fdleak-test-"):
    """A fresh directory, removed when the test run ends (kept if FDLEAK_KEEP_TMP is set)."""
    d = tempfile.mkdtemp(prefix=prefix)
    _tmpdirs.append(d)
    return d


def new_outdir():
    return new_tmpdir("fdleak-test-")


@atexit.register
def _remove_tmpdirs():
    if os.environ.get("FDLEAK_KEEP_TMP"):
        return
    for d in _tmpdirs:
        shutil.rmtree(d, ignore_errors=True)


def run_under_shim(argv, env=None, outdir=None, timeout=TIMEOUT, ulimit_n=None, output=True,
                   stdin=subprocess.DEVNULL, input=None, cwd=None, pass_fds=()):
    """Runs argv with the shim preloaded and FDLEAK_OUTPUT=<outdir>/d.%p.%n.json (unless
    output is False: then the report goes to stderr). Returns (Result, dumps), dumps sorted by
    (pid, seq)."""
    if outdir is None:
        outdir = new_outdir()
    out = os.path.join(outdir, "d.%p.%n.json") if output is True else (output or None)
    e = shim_env(env, out)
    proc = _run_group(argv, e, timeout, stdin, input, cwd, pass_fds, ulimit_n)
    dumps, files = read_dumps(outdir)
    res = Result(proc, dumps, outdir, files)
    return res, dumps


def run_plain(argv, env=None, timeout=TIMEOUT, ulimit_n=None, stdin=subprocess.DEVNULL,
              input=None, cwd=None):
    """Runs argv without the shim (reference behaviour)."""
    return _run_group(argv, plain_env(env), timeout, stdin, input, cwd, (), ulimit_n)


def kill_group(proc):
    """SIGKILL to the process group of a program started by this module (its children too:
    a forked child stuck in a deadlock would otherwise outlive the test)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _run_group(argv, env, timeout, stdin, input, cwd, pass_fds, ulimit_n):
    """subprocess.run in a new process group, the whole group killed on timeout."""
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE if input is not None else stdin,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            errors="replace", cwd=cwd, pass_fds=pass_fds,
                            preexec_fn=_preexec(ulimit_n), start_new_session=True)
    try:
        out, err = proc.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        out, err = proc.communicate(timeout=timeout)
        raise TestFailure("timed out after %d s (process group killed): %s\n%s" % (
            timeout, " ".join(map(str, argv)), (err or "")[-2000:]))
    # members of the group still alive after the program exited (a stuck child) are killed
    kill_group(proc)
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def spawn_under_shim(argv, env=None, outdir=None, ulimit_n=None, output=None, watchdog=180):
    """Starts argv under the shim with pipes on stdin/stdout/stderr; returns (Popen, outdir).
    Dumps go to output (a template) or <outdir>/d.%p.%n.json."""
    if outdir is None:
        outdir = new_outdir()
    e = shim_env(env, output or os.path.join(outdir, "d.%p.%n.json"))
    proc = subprocess.Popen(argv, env=e, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=_preexec(ulimit_n),
                            start_new_session=True)
    # a watchdog: reading the program's stdout line by line has no timeout of its own
    dog = threading.Timer(watchdog, lambda: kill_group(proc))
    dog.daemon = True
    dog.start()
    return proc, outdir


def read_dumps(outdir, pattern="*"):
    """Parses every dump file in outdir. A file that is not a complete fdleak-dump raises."""
    files = sorted(f for f in glob.glob(os.path.join(outdir, pattern)) if os.path.isfile(f)
                   and not os.path.islink(f))
    dumps = []
    for f in files:
        with open(f, "rb") as fh:
            data = fh.read()
        if not data.endswith(b"}\n"):
            raise TestFailure("truncated dump %s (%d bytes, ends %r)" % (f, len(data), data[-20:]))
        try:
            d = json.loads(data.decode("utf-8"))
        except ValueError as exc:
            raise TestFailure("invalid JSON in %s: %s" % (f, exc))
        if d.get("format") != "fdleak-dump" or d.get("version") != 1:
            raise TestFailure("not an fdleak-dump v1: %s" % f)
        d["_file"] = f
        dumps.append(d)
    dumps.sort(key=lambda d: (d.get("pid", 0), d.get("seq", 0)))
    return dumps, files


def cleanup(outdir):
    shutil.rmtree(outdir, ignore_errors=True)


# ---- facts printed by fixtures: one per line, words separated by spaces -----------------

def facts(stdout, *kinds):
    """Lines of the program's stdout split into words; filtered by first word if kinds."""
    out = []
    for line in stdout.splitlines():
        w = line.split()
        if not w:
            continue
        if kinds and w[0] not in kinds:
            continue
        out.append(w)
    return out


def fact_fds(stdout, kind, call=None):
    """fd numbers of lines `<kind> <call> <fd> ...` (call filtered when given)."""
    fds = []
    for w in facts(stdout, kind):
        if call is None or w[1] == call:
            fds.append(int(w[2]))
    return fds


def fact_map(stdout, kind):
    """{call: [fd, ...]} for lines `<kind> <call> <fd>`."""
    m = {}
    for w in facts(stdout, kind):
        m.setdefault(w[1], []).append(int(w[2]))
    return m


# ---- dump queries ---------------------------------------------------------------------------

def by_trigger(dumps, trigger):
    return [d for d in dumps if d.get("trigger") == trigger]


def one_dump(dumps, trigger="exit", pid=None):
    got = [d for d in dumps if d.get("trigger") == trigger and (pid is None or d["pid"] == pid)]
    if len(got) != 1:
        raise TestFailure("expected one %r dump%s, got %d (triggers: %s)" % (
            trigger, "" if pid is None else " for pid %d" % pid, len(got),
            [(d.get("pid"), d.get("trigger")) for d in dumps]))
    return got[0]


def fd_entry(dump, fd):
    for e in dump["fds"]:
        if e["fd"] == fd:
            return e
    return None


def need_fd(dump, fd):
    e = fd_entry(dump, fd)
    if e is None:
        raise TestFailure("fd %d missing from dump (pid %s, trigger %s); fds: %s" % (
            fd, dump.get("pid"), dump.get("trigger"), brief(dump)))
    return e


def leaks(dump):
    """fd entries with origin tracked."""
    return [e for e in dump["fds"] if e.get("origin") == "tracked"]


def by_call(dump, call):
    return [e for e in dump["fds"] if e.get("call") == call]


def by_path(dump, path):
    return [e for e in dump["fds"] if e.get("path") == path]


def brief(dump):
    return ", ".join("%d:%s/%s/%s/%s" % (e["fd"], e.get("origin"), e.get("call"), e.get("kind"),
                                        e.get("path") or e.get("target"))
                     for e in dump["fds"])


def stack_ips(dump, stack_id):
    for s in dump.get("stacks", []):
        if s["id"] == stack_id:
            return [int(x, 16) for x in s["ips"]]
    return None


def _modules(dump):
    mods = []
    for m in dump.get("modules", []):
        try:
            mods.append((int(m["start"], 16), int(m["end"], 16), int(m["base"], 16), m["path"]))
        except (KeyError, ValueError):
            continue
    return mods


_nm_cache = {}


def nm_functions(binary):
    """{name: [(start, end), ...]} of the functions defined in binary (nm -S)."""
    binary = os.path.realpath(binary)
    if binary not in _nm_cache:
        out = subprocess.run(["nm", "-S", "-C", "--defined-only", binary], capture_output=True,
                             text=True, timeout=TIMEOUT).stdout
        funcs = {}
        for line in out.splitlines():
            w = line.split(None, 3)
            if len(w) == 4 and w[2] in "tTwW":
                start, size = int(w[0], 16), int(w[1], 16)
                name = w[3]
                funcs.setdefault(name, []).append((start, start + size))
        _nm_cache[binary] = funcs
    return _nm_cache[binary]


def stack_functions(dump, stack_id, binary):
    """Names of binary's functions on the stack (innermost first), by address ranges."""
    ips = stack_ips(dump, stack_id)
    if not ips:
        return []
    real = os.path.realpath(binary)
    funcs = nm_functions(binary)
    names = []
    for ip in ips:
        for start, end, base, path in _modules(dump):
            if start <= ip < end and path and os.path.exists(path) and \
                    os.path.realpath(path) == real:
                addr = ip - base - 1
                for name, ranges in funcs.items():
                    if any(lo <= addr < hi for lo, hi in ranges):
                        names.append(name)
                break
    return names


def stack_has_function(dump, fd_entry_or_stack, binary_path, func_name):
    """True if the stack of an fd entry (or a stack id) holds a frame inside func_name of
    binary_path (a PIE or shared object: runtime ip - module base = address in nm)."""
    sid = fd_entry_or_stack if isinstance(fd_entry_or_stack, int) else \
        fd_entry_or_stack.get("stack", 0)
    names = stack_functions(dump, sid, binary_path)
    if isinstance(func_name, str):
        func_name = (func_name,)
    return any(n == f or n.startswith(f + ".") or n.startswith(f + "(")
               for n in names for f in func_name)


def need_stack_function(dump, entry, binary, func):
    if not stack_has_function(dump, entry, binary, func):
        sid = entry if isinstance(entry, int) else entry.get("stack")
        raise TestFailure("%s not on the stack of %s (stack %s: %s; functions %s)" % (
            func, entry if isinstance(entry, int) else "fd %d" % entry["fd"], sid,
            [hex(x) for x in (stack_ips(dump, sid) or [])],
            stack_functions(dump, sid, binary)))


# ---- assertions with readable messages -----------------------------------------------------

def check(cond, msg, *detail):
    if not cond:
        raise TestFailure(msg + "".join("\n" + str(d) for d in detail))


def eq(got, want, what, *detail):
    if got != want:
        raise TestFailure("%s: expected %r, got %r" % (what, want, got) +
                          "".join("\n" + str(d) for d in detail))


def fdleak_lines(text):
    return [l for l in text.splitlines() if l.startswith("fdleak:")]


def check_complete(dump, res=None):
    """Structural checks every dump must pass: keys, ascending fds, stack ids resolvable."""
    for k in ("pid", "seq", "trigger", "fds", "stacks", "modules", "stats"):
        check(k in dump, "dump lacks %r: %s" % (k, dump.get("_file")))
    fds = [e["fd"] for e in dump["fds"]]
    check(fds == sorted(set(fds)), "fds not ascending/unique in %s: %s" % (dump["_file"], fds))
    ids = {s["id"] for s in dump["stacks"]}
    for e in dump["fds"]:
        check(e.get("origin") in ("tracked", "inherited", "unknown"),
              "bad origin %r for fd %d" % (e.get("origin"), e["fd"]))
        if e.get("stack"):
            check(e["stack"] in ids, "fd %d refers to missing stack %d" % (e["fd"], e["stack"]))
        # an inherited record keeps the acquisition it had (a fork child's, or one on 0-2)
        if e.get("origin") == "unknown":
            eq(e.get("call"), "", "call of unknown-origin fd %d" % e["fd"])


def wait_line(stream, prefix, limit=200, lines=False):
    """Reads lines from stream until one starts with prefix (bounded). Returns that line, or
    with lines=True every line read (the last one is the match)."""
    seen = []
    for _ in range(limit):
        line = stream.readline()
        if not line:
            break
        seen.append(line)
        if line.startswith(prefix):
            return seen if lines else line
    raise TestFailure("no %r line from the program" % prefix)


def word_in(text, word):
    return re.search(r"(?<![\w.])%s(?![\w])" % re.escape(str(word)), text) is not None


def doc_default(var):
    """The default of an FDLEAK_* setting as docs/environment.md states it."""
    with open(os.path.join(ROOT, "docs", "environment.md")) as fh:
        for line in fh:
            cells = [c.strip().strip("`") for c in line.split("|")]
            if len(cells) > 3 and cells[1] == var:
                return cells[2]
    raise TestFailure("%s not documented in docs/environment.md" % var)


_contract = None


def contract():
    """The #defines of common/contract.h, the one definition of what library and command agree
    on (dump format, snapshot magic, default signal...): numbers as int, strings as str."""
    global _contract
    if _contract is None:
        _contract = {}
        with open(os.path.join(ROOT, "common", "contract.h")) as fh:
            for line in fh:
                m = re.match(r'#define (FDC_\w+)\s+("[^"]*"|0x[0-9a-fA-F]+u?|\d+u?)(?=\s|$)', line)
                if m:
                    v = m.group(2)
                    _contract[m.group(1)] = v.strip('"') if v.startswith('"') else \
                        int(v.rstrip("u"), 0)
    return _contract


def default_dump_signal():
    """The library's default dump signal number (SIGRTMAX - FDC_SIGNAL_DEFAULT_RTMAX_OFFSET)."""
    return signal.SIGRTMAX - contract()["FDC_SIGNAL_DEFAULT_RTMAX_OFFSET"]


def snapshot_value(token):
    """The sigqueue value with which `fdleak snapshot` asks for a snapshot with this token."""
    return contract()["FDC_SNAPSHOT_MAGIC"] | token


# ---- the fdleak command (tests/test_tool.py) --------------------------------------------------

TOOL_TIMEOUT = 60  # the command symbolizes with elfutils: slower than a fixture alone


def tool_fixture(name):
    """Absolute path of a compiled tests/tool/ fixture (tests/tests.mk builds them)."""
    path = os.path.join(build_dir(), "tests", "tool", name)
    if not os.path.exists(path):
        raise TestFailure("tool fixture not built: %s" % path)
    return path


def tool_env(extra=None):
    """Environment for the fdleak command: no FDLEAK_* settings of the caller. In a sanitizer
    build the ASan runtime is preloaded, as it must come first (`fdleak run` adds the library
    after it), and LeakSanitizer is on for the command itself (ASAN_OPTIONS, LSAN_OPTIONS).
    A value of None in extra removes that variable."""
    env = plain_env()
    env["ASAN_OPTIONS"] = ASAN_OPTIONS
    env["LSAN_OPTIONS"] = LSAN_OPTIONS
    rt = _asan_runtime()
    if rt:
        env["LD_PRELOAD"] = rt
    for k, v in (extra or {}).items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


def run_tool(args, env=None, timeout=TOOL_TIMEOUT, **kw):
    """Runs `fdleak ARGS` from the top of the tree (reports name sources relative to it)."""
    return subprocess.run([tool()] + list(args), cwd=ROOT, env=env or tool_env(),
                          capture_output=True, text=True, timeout=timeout, **kw)
