"""Descriptor leak checks for Python code running under libfdleak.so.

    with fdleak.check():          # or @fdleak.check() on a function
        run_code()                # AssertionError: what it acquired and left open

    for d in fdleak.snapshot():   # every open descriptor, as Descriptor objects
        print(d.fd, d.kind, d.path, d.call, d.python_frames)

The process must run with the library preloaded (``fdleak run -- python ...``, or
``LD_PRELOAD=/path/to/libfdleak.so``); the pytest plugin (``pytest --fdleak``) re-executes
pytest with it. The module calls the library's C API (include/fdleak.h) through ctypes and
reads the raw dump it writes into a memfd; C stacks are symbolized by ``fdleak report --json``
when that command is found (next to the library, or on PATH), else shown as module+offset.
"""
import bisect
import collections
import ctypes
import fnmatch
import functools
import gc
import json
import os
import shutil
import subprocess
import tempfile
import weakref

__all__ = ["check", "snapshot", "checkpoint", "Checkpoint", "leaks_since", "Descriptor", "Frame", "Leak",
           "NotLoadedError", "is_loaded", "find_library", "find_command", "format_leaks"]

LIB_NAME = "libfdleak.so"
# Where a `pip install .` from the repository root puts the library and the command it built.
NATIVE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_native")
# Where `make install` puts the library (PREFIX=/usr/local by default).
INSTALLED_LIBS = ("/usr/local/lib/fdleak/libfdleak.so", "/usr/lib/fdleak/libfdleak.so")


class NotLoadedError(RuntimeError):
    """libfdleak.so is not loaded in this process."""


Frame = collections.namedtuple("Frame", "file function line")


class Descriptor:
    """One open descriptor: ``fd``, ``kind`` (file, socket, pipe, ...), ``path`` (as opened,
    else what /proc showed), ``call`` (open, socket, pipe2, ...; "" unless tracked), ``origin``
    (tracked, inherited, unknown), ``python_frames`` (Frame tuples, innermost first),
    ``c_stack`` (frames as text, innermost first), ``cloexec``, ``age_ms``, ``tid``,
    ``target``, ``local``, ``peer``. A descriptor acquired from Python code may have both a
    Python stack and a (short) C stack: both lists are then filled, and ``stack_lines()``
    renders them as check() does."""

    __slots__ = ("fd", "kind", "path", "call", "origin", "python_frames", "c_stack", "cloexec",
                 "age_ms", "tid", "target", "local", "peer", "_stack_id")

    def __init__(self, **kw):
        for k in self.__slots__:
            setattr(self, k, kw.get(k))

    def __repr__(self):
        where = ""
        if self.python_frames:
            f = self.python_frames[0]
            where = " at %s:%s" % (f.file, f.line)
        if self.c_stack:
            where += " in %s" % self.c_stack[0]
        return "<Descriptor fd=%d %s %s %r%s>" % (self.fd, self.call or self.origin, self.kind,
                                                  self.path, where)

    def stack_lines(self):
        """The Python frames, then the C frames, as lines of text (see format_leaks)."""
        return _stack_lines(self.python_frames or [], self.c_stack or [])


def _lib():
    """The library's exported API, or NotLoadedError."""
    try:
        lib = ctypes.CDLL(None, use_errno=True)
        cp = lib.fdleak_checkpoint
        rs = lib.fdleak_report_since
    except (OSError, AttributeError):
        raise NotLoadedError(
            "fdleak: libfdleak.so is not loaded in this process: run it under "
            "`fdleak run -- python ...` or with LD_PRELOAD=%s" % (find_library() or LIB_NAME))
    cp.restype = ctypes.c_uint64
    cp.argtypes = []
    rs.restype = ctypes.c_int
    rs.argtypes = [ctypes.c_uint64, ctypes.c_int, ctypes.c_uint]
    return cp, rs


def is_loaded():
    """Whether libfdleak.so is loaded in this process."""
    try:
        _lib()
        return True
    except NotLoadedError:
        return False


def _loaded_path():
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                p = line.split(None, 5)[-1].strip()
                if os.path.basename(p) == LIB_NAME:
                    return p
    except OSError:
        pass
    return None


def find_command():
    """The fdleak command: FDLEAK_COMMAND, next to the library, or on PATH (None if none)."""
    cands = [os.environ.get("FDLEAK_COMMAND")]
    lib = _loaded_path() or os.environ.get("FDLEAK_LIB")
    if lib:
        d = os.path.dirname(os.path.realpath(lib))
        cands += [os.path.join(d, "fdleak"), os.path.join(d, "..", "..", "bin", "fdleak")]
    cands += [os.path.join(NATIVE_DIR, "fdleak"), shutil.which("fdleak"),
              _checkout_build("fdleak")]
    for c in cands:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return os.path.realpath(c)
    return None


def _checkout_build(name):
    """build/<name> of the fdleak checkout this package lives in, if it does."""
    here = os.path.dirname(os.path.realpath(__file__))
    return os.path.join(os.path.dirname(os.path.dirname(here)), "build", name)


def find_library():
    """libfdleak.so: the loaded one, FDLEAK_LIB, the one built with this package (`pip install
    .` from the repository root), next to the fdleak command on PATH (build/ in a checkout,
    <prefix>/lib/fdleak when installed), the checkout's build/, or the installed path. None if
    none is found."""
    cands = [_loaded_path(), os.environ.get("FDLEAK_LIB"), os.path.join(NATIVE_DIR, LIB_NAME)]
    cmd = shutil.which("fdleak")
    if cmd:
        d = os.path.dirname(os.path.realpath(cmd))
        cands += [os.path.join(d, LIB_NAME), os.path.join(d, "..", "lib", "fdleak", LIB_NAME)]
    cands.append(_checkout_build(LIB_NAME))
    cands += list(INSTALLED_LIBS)
    for c in cands:
        if c and os.path.isfile(c):
            return os.path.realpath(c)
    return None


class Checkpoint(int):
    """A checkpoint of the library (an int), with the descriptor numbers open when it was
    taken (`open_fds`): a dup2/dup3 onto one of those replaced a descriptor, it did not add
    one (pytest's output capture does that to 1 and 2 around every test)."""

    open_fds = frozenset()


def _open_numbers():
    try:
        return frozenset(int(n) for n in os.listdir("/proc/self/fd"))
    except OSError:
        return frozenset()


def checkpoint():
    """A Checkpoint for leaks_since(): orders this call after every acquisition that completed
    before it. May wait a few ms for the next tick of the coarse clock."""
    cp, _ = _lib()
    numbers = _open_numbers()
    c = Checkpoint(int(cp()))
    c.open_fds = numbers
    return c


def _raw_dump(since):
    """The raw dump (docs/dump-format.md) of the descriptors acquired since `since` (0: all)
    and open now, as bytes."""
    _, rs = _lib()
    fd = os.memfd_create("fdleak-api", os.MFD_CLOEXEC)
    try:
        n = rs(since, fd, 0)
        if n < 0:
            e = ctypes.get_errno() or 0
            raise OSError(e, "fdleak_report_since failed: %s" % os.strerror(e))
        os.lseek(fd, 0, os.SEEK_SET)
        chunks = []
        while True:
            b = os.read(fd, 1 << 20)
            if not b:
                break
            chunks.append(b)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _tool_env():
    """The environment for the fdleak command: not preloaded, not writing dumps of its own."""
    env = dict(os.environ)
    pre = [p for p in env.get("LD_PRELOAD", "").replace(":", " ").split()
           if os.path.basename(p) != LIB_NAME]
    if pre:
        env["LD_PRELOAD"] = " ".join(pre)
    else:
        env.pop("LD_PRELOAD", None)
    for k in list(env):
        if k.startswith("FDLEAK_") and k not in ("FDLEAK_COMMAND", "FDLEAK_LIB"):
            del env[k]
    return env


def _symbolize(raw):
    """{fd: [frame text, ...]} from `fdleak report --json`, or None without the command."""
    cmd = find_command()
    if not cmd:
        return None
    with tempfile.TemporaryDirectory(prefix="fdleak-py.") as d:
        dump = os.path.join(d, "dump.json")
        out = os.path.join(d, "report.json")
        with open(dump, "wb") as f:
            f.write(raw)
        try:
            # every descriptor in a group (none suppressed): each gets its symbolized stack
            subprocess.run([cmd, "report", "--fds=0", "--no-default-suppressions",
                            "--json=" + out, "-o",
                            os.path.join(d, "report.txt"), dump], env=_tool_env(),
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=120, check=False)
            with open(out) as f:
                rep = json.load(f)
        except (OSError, ValueError, subprocess.SubprocessError):
            return None
    stacks = {}
    for proc in rep.get("processes", []):
        for g in proc.get("groups", []):
            frames = [_frame_text(fr) for fr in g.get("stack", [])]
            for d in g.get("fds", []):
                stacks[d.get("fd")] = frames
    return stacks


def _frame_text(fr):
    fn = fr.get("function") or "??"
    if fr.get("file"):
        return "%s (%s:%s)" % (fn, fr["file"], fr.get("line"))
    mod = os.path.basename(fr.get("module") or "?")
    return "%s (%s+%s)" % (fn, mod, fr.get("offset") or fr.get("ip"))


def _unsymbolized(raw_dump, ips):
    """module+offset for each address, from the dump's module map."""
    mods = sorted((int(m["start"], 16), int(m["end"], 16), int(m["base"], 16), m["path"])
                  for m in raw_dump.get("modules", []))
    starts = [m[0] for m in mods]
    out = []
    for ip_text in ips:
        ip = int(ip_text, 16)
        i = bisect.bisect_right(starts, ip) - 1
        if i >= 0 and ip < mods[i][1]:
            out.append("%s+0x%x" % (os.path.basename(mods[i][3]), ip - 1 - mods[i][2]))
        else:
            out.append("0x%x" % ip)
    return out


def _descriptors(raw, symbolize):
    d = json.loads(raw.decode("utf-8", "replace"))
    stacks = {s["id"]: s.get("ips", []) for s in d.get("stacks", [])}
    pystacks = {s["id"]: [Frame(f.get("file"), f.get("function"), f.get("line"))
                          for f in s.get("frames", [])] for s in d.get("pystacks", [])}
    sym = _symbolize(raw) if symbolize and any(stacks.values()) else None
    out = []
    for e in d.get("fds", []):
        fd = e["fd"]
        ips = stacks.get(e.get("stack", 0), [])
        if sym is not None and fd in sym:
            c_stack = sym[fd]
        else:
            c_stack = _unsymbolized(d, ips)
        out.append(Descriptor(fd=fd, kind=e.get("kind", "unknown"),
                              path=e.get("path") or e.get("target") or "",
                              call=e.get("call", ""), origin=e.get("origin", ""),
                              python_frames=pystacks.get(e.get("pystack", 0), []),
                              c_stack=c_stack, cloexec=e.get("cloexec"),
                              age_ms=e.get("age_ms"), tid=e.get("tid"),
                              target=e.get("target", ""), local=e.get("local", ""),
                              peer=e.get("peer", ""), _stack_id=e.get("stack", 0)))
    return out


def snapshot(symbolize=True):
    """Every descriptor open in this process now (inherited and unknown ones included), as a
    list of Descriptor, ascending by fd."""
    return _descriptors(_raw_dump(0), symbolize)


def leaks_since(cp, symbolize=True):
    """The descriptors acquired through a tracked call after checkpoint `cp` and open now."""
    if not cp:
        raise ValueError("fdleak: checkpoint 0 is not a checkpoint (snapshot() lists all)")
    was_open = getattr(cp, "open_fds", frozenset())
    return [d for d in _descriptors(_raw_dump(int(cp)), symbolize)
            if not (d.call in ("dup2", "dup3") and d.fd in was_open)]


class Leak(AssertionError):
    """Raised by check(): `.descriptors` lists what was left open."""

    def __init__(self, message, descriptors):
        AssertionError.__init__(self, message)
        self.descriptors = descriptors


def _group_key(d):
    return (d.call, tuple(d.python_frames), tuple(d.c_stack))


# The C function where CPython's eval loop starts: below a Python stack, the C frames from
# there on only repeat it (the command's text report cuts there too, common/report_text.c).
_EVAL_LOOP = "_PyEval_EvalFrame"


def _stack_lines(python_frames, c_stack):
    """Lines for one acquisition: the Python frames (innermost first), then, under a heading
    when both are present, the C frames, cut where the interpreter's eval loop starts when
    there is a Python stack."""
    lines = []
    for i, f in enumerate(python_frames):
        lines.append("%s %s (%s:%s)" % ("at" if i == 0 else "by", f.function, f.file, f.line))
    c = list(c_stack)
    hidden = 0
    if python_frames and c:
        lines.append("C stack:")
        for i in range(1, len(c)):
            if c[i].startswith(_EVAL_LOOP):
                hidden = len(c) - i
                c = c[:i]
                break
    for i, fr in enumerate(c):
        lines.append("%s %s" % ("at" if i == 0 else "by", fr))
    if hidden:
        lines.append("by ... (%d frame%s in the Python interpreter; Descriptor.c_stack lists "
                     "them)" % (hidden, "" if hidden == 1 else "s"))
    return lines


def format_leaks(descs, what="the block"):
    """The text of a Leak: descriptors grouped by acquiring call and stack, largest first,
    like fdleak's report; each group shows its Python stack and its C stack (both when the
    library recorded both)."""
    groups = collections.OrderedDict()
    for d in descs:
        groups.setdefault(_group_key(d), []).append(d)
    n = len(descs)
    lines = ["fdleak: %d descriptor%s acquired in %s %s still open" %
             (n, "" if n == 1 else "s", what, "is" if n == 1 else "are")]
    for key, ds in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        call = key[0] or "?"
        kinds = sorted({d.kind for d in ds})
        lines.append("")
        lines.append("%d fd%s leaked from %s() [%s]" % (len(ds), "" if len(ds) == 1 else "s",
                                                       call, kinds[0] if len(kinds) == 1
                                                       else "mixed"))
        lines.extend("   " + x for x in ds[0].stack_lines())
        for d in ds:
            where = d.path or d.target or ("(%s)" % d.kind)
            if d.local or d.peer:
                where = "%s -> %s" % (d.local, d.peer) if d.peer else d.local
            lines.append("   fd %d  %s" % (d.fd, where))
    return "\n".join(lines)


def _fileno_of(obj):
    """The descriptor an object holds now (a file object, a socket, anything with fileno()),
    or None once it is closed."""
    try:
        n = obj.fileno()
    except (OSError, ValueError, AttributeError):
        return None
    return n if isinstance(n, int) and n >= 0 else None


def _holder(obj):
    """A predicate for the descriptor `obj` holds when the check runs (not when it was
    allowed: a closed object allows nothing, one that reconnected allows its new descriptor).
    The object is referenced weakly where it can be, so allowing it keeps nothing alive."""
    try:
        ref = weakref.ref(obj)
    except TypeError:
        ref = lambda: obj  # noqa: E731 - no weak reference possible: a strong one
    def pred(d):
        o = ref()
        return o is not None and d.fd == _fileno_of(o)
    pred.alive = lambda: ref() is not None
    return pred


def _matcher(allow):
    """A predicate from `allow`: None (nothing allowed), a callable taking a Descriptor, an
    int (that fd), a str (an fnmatch pattern on the path), an os.PathLike (that path), an
    object with fileno() (a file object or socket: the descriptor it holds when the check
    runs), or a list of those."""
    if allow is None:
        return lambda d: False
    if callable(allow) and not hasattr(allow, "fileno"):
        return allow
    if isinstance(allow, (int, str)) or hasattr(allow, "fileno") or \
            hasattr(allow, "__fspath__"):
        allow = [allow]
    preds = [_one_matcher(a) for a in allow]
    return lambda d: any(p(d) for p in preds)


def _one_matcher(a):
    if hasattr(a, "fileno"):
        return _holder(a)
    if callable(a):
        return a
    if isinstance(a, bool):
        raise TypeError("fdleak: allow takes fd numbers, path patterns, paths, file objects, "
                        "sockets or predicates, not %r" % (a,))
    if isinstance(a, int):
        return lambda d, a=a: d.fd == a
    if hasattr(a, "__fspath__"):
        p = os.fsdecode(os.fspath(a))
        return lambda d, p=p: (d.path or d.target or "") == p
    if isinstance(a, str):
        return lambda d, a=a: fnmatch.fnmatch(d.path or d.target or "", a)
    raise TypeError("fdleak: allow takes fd numbers, path patterns, paths, file objects, "
                    "sockets or predicates, not %r" % (a,))


class check:
    """Context manager and decorator: raises Leak (an AssertionError) listing each descriptor
    acquired inside the block and still open at its end, with its Python and C stacks.
    `allow` leaves some out (see _matcher); `collect` runs gc.collect() first, so that
    garbage in reference cycles has closed its files. Raises NotLoadedError when the library
    is not loaded."""

    def __init__(self, allow=None, collect=True, symbolize=True):
        self.allow = _matcher(allow)
        self.collect = collect
        self.symbolize = symbolize
        self._cps = []
        self.leaks = []

    def __enter__(self):
        self._cps.append(checkpoint())
        return self

    def __exit__(self, exc_type, exc, tb):
        cp = self._cps.pop()
        if exc_type is not None:
            return False  # the block's own exception says more; its frames hold its files
        if self.collect:
            gc.collect()
        self.leaks = [d for d in leaks_since(cp, self.symbolize) if not self.allow(d)]
        if self.leaks:
            raise Leak(format_leaks(self.leaks), self.leaks)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with check(self.allow, self.collect, self.symbolize):
                return fn(*args, **kwargs)
        return wrapper
