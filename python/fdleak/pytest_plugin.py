"""pytest plugin: ``pytest --fdleak`` fails each test that leaves descriptors open.

Loaded by its entry point (pytest11) once the package is installed, or with
``pytest -p fdleak.pytest_plugin``. With ``--fdleak``, a checkpoint is taken before a test's
fixtures are set up and, once they are torn down, a test that passed fails when a descriptor
acquired since is still open, with the list of them and the Python line (and C stack) that
opened each. What module-, class-, package- and session-scoped fixtures acquire while they
are set up is not the test's (they outlive it). Descriptors a test keeps on purpose:

    @pytest.mark.fdleak_allow                   # anything
    @pytest.mark.fdleak_allow("/tmp/cache*", 7) # paths matching a pattern, fd 7
    @pytest.mark.fdleak_allow(lambda d: d.kind == "socket")

    def test_cache(fdleak_allow):               # the fixture (session-scoped: any fixture
        conn = fdleak_allow(connect())          # may request it), see Allow
        fdleak_allow("*/cache.db", 7)           # for this test
        fdleak_allow()                          # anything this test leaves open

When pytest does not run under libfdleak.so, the plugin re-executes it with the library
preloaded (LD_PRELOAD: FDLEAK_LIB, or the library next to the fdleak command, see
fdleak.find_library), before any output capture starts, so ``pytest --fdleak`` alone works.
A test whose call phase failed is not reported again: its traceback keeps its frames, and their
open files, alive.
"""
import gc
import os
import sys

import pytest
from _pytest.runner import runtestprotocol

import fdleak

_REEXEC_ENV = "FDLEAK_PYTEST_REEXEC"


def pytest_addoption(parser):
    group = parser.getgroup("fdleak", "descriptor leaks (fdleak)")
    group.addoption("--fdleak", action="store_true", default=False,
                    help="fail tests that leave file descriptors open (libfdleak.so; pytest "
                         "is re-executed with it preloaded when it is not)")


def _reexec():
    lib = fdleak.find_library()
    if os.environ.get(_REEXEC_ENV) or not lib:
        why = ("it was preloaded but is not loaded (LD_PRELOAD=%s)"
               % os.environ.get("LD_PRELOAD", "") if lib else
               "libfdleak.so was not found: set FDLEAK_LIB=/path/to/libfdleak.so or put the "
               "fdleak command on PATH")
        raise pytest.UsageError("fdleak: --fdleak needs libfdleak.so loaded: " + why)
    env = dict(os.environ)
    # after what is preloaded already (a sanitizer runtime must come first)
    env["LD_PRELOAD"] = (env["LD_PRELOAD"] + " " + lib).strip() if env.get("LD_PRELOAD") \
        else lib
    env[_REEXEC_ENV] = "1"
    # the per-test checks say what leaked: no exit report of pytest itself on stderr
    env.setdefault("FDLEAK_EXIT", "0")
    argv = list(getattr(sys, "orig_argv", None) or [sys.executable] + sys.argv)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, argv, env)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    # Before the capture plugin's wrapper redirects descriptors 1 and 2.
    ns = getattr(early_config, "known_args_namespace", None)
    if ns is not None and getattr(ns, "fdleak", False) and not fdleak.is_loaded():
        _reexec()
    yield


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "fdleak_allow(*patterns): descriptors this test may leave open (fdleak): "
                   "path patterns (fnmatch), fd numbers, or predicates taking a "
                   "fdleak.Descriptor; no argument: any")
    if config.getoption("fdleak", False) and not fdleak.is_loaded():
        _reexec()  # not reached through the early hook (plugin loaded late)


_CP = "_fdleak_checkpoint"
_INTERVALS = "_fdleak_wide_fixtures"
_ITEM_ALLOW = "_fdleak_allowed"
_STATE = "_fdleak_state"


class _State:
    """Per session: the test being run, the module/class/package/session-scoped fixtures
    being set up, and the allowances given through the fdleak_allow fixture that outlive one
    test (for objects: while the object lives; from a wide fixture: until its teardown)."""

    def __init__(self):
        self.item = None
        self.setting_up = []  # FixtureDefs whose setup is running, innermost last
        self.objects = []     # predicates for objects given to fdleak_allow
        self.wide = []        # [predicate, ...] lists bound to a wide fixture's lifetime


def _state(config):
    st = getattr(config, _STATE, None)
    if st is None:
        st = _State()
        setattr(config, _STATE, st)
    return st


def _checking(config):
    return config.getoption("fdleak", False)


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef, request):
    """A fixture wider than a function (module, class, package, session) is set up during the
    first test that needs it, but what it acquires is not that test's: the interval of its
    setup is remembered, and what was acquired in it and is still open is left out."""
    config = request.config
    st = _state(config)
    wide = getattr(fixturedef, "scope", "function") != "function"
    item = st.item
    cp0 = fdleak.checkpoint() if wide and item is not None and _checking(config) else None
    st.setting_up.append(fixturedef)
    try:
        yield
    finally:
        st.setting_up.pop()
        if cp0 is not None:
            getattr(item, _INTERVALS).append((cp0, fdleak.checkpoint()))


class Allow:
    """The fdleak_allow fixture's value: ``fdleak_allow(*what)`` marks descriptors as kept on
    purpose and returns its argument when it got one (so it can wrap an expression).

    * a file object, a socket, anything with ``fileno()``: the descriptor it holds whenever a
      test is checked, for as long as the object lives (held weakly);
    * fd numbers, path patterns (fnmatch), ``os.PathLike`` paths, predicates taking a
      ``fdleak.Descriptor``: for the test that is running; called while a module-, class-,
      package- or session-scoped fixture is being set up, for every test until that fixture
      is torn down;
    * no argument: anything the running test leaves open (like ``@pytest.mark.fdleak_allow``),
      or, from a wider fixture's setup, anything until that fixture is torn down.

    Without ``--fdleak`` it checks its arguments and does nothing else."""

    def __init__(self, config):
        self._config = config

    def __call__(self, *what):
        preds = [fdleak._one_matcher(a) for a in what]  # TypeError on anything else
        if not _checking(self._config):
            return what[0] if len(what) == 1 else (what or None)
        st = _state(self._config)
        objs = [p for a, p in zip(what, preds) if hasattr(a, "fileno")]
        rest = [p for a, p in zip(what, preds) if not hasattr(a, "fileno")]
        if not what:
            rest = [lambda d: True]
        st.objects.extend(objs)
        if rest:
            owner = next((f for f in reversed(st.setting_up)
                          if getattr(f, "scope", "function") != "function"), None)
            if owner is not None:
                st.wide.append(rest)
                owner.addfinalizer(lambda: _end_wide(st, rest))
            elif st.item is not None:
                getattr(st.item, _ITEM_ALLOW).extend(rest)
            else:
                st.wide.append(rest)  # outside any test: for the whole session
        return what[0] if len(what) == 1 else (what or None)

    def __repr__(self):
        return "<fdleak_allow>"


def _end_wide(st, preds):
    """A wide fixture's allowances end at its teardown, which runs in a test's teardown phase:
    they still cover that test, checked after it."""
    st.wide.remove(preds)
    if st.item is not None:
        getattr(st.item, _ITEM_ALLOW).extend(preds)


@pytest.fixture(scope="session")
def fdleak_allow(request):
    """Call it to keep descriptors open on purpose: fdleak_allow(sock), fdleak_allow(7,
    "*/cache.db"), fdleak_allow() for anything (see fdleak.pytest_plugin.Allow). Session-scoped,
    so module- and session-scoped fixtures can request it too."""
    return Allow(request.config)


_PYTEST_DIRS = tuple(os.sep + d + os.sep for d in ("_pytest", "pluggy"))


def _below_pytest(frames):
    """A Python stack without pytest's and pluggy's frames under the test's."""
    for i, f in enumerate(frames):
        if i and any(d in (f.file or "") for d in _PYTEST_DIRS):
            return frames[:i]
    return frames


def _allowed(item):
    st = _state(item.config)
    preds = list(getattr(item, _ITEM_ALLOW, []))
    for mark in item.iter_markers("fdleak_allow"):
        if not mark.args:
            return lambda d: True
        preds.append(fdleak._matcher(list(mark.args)))
    preds.extend(st.objects)
    for ps in st.wide:
        preds.extend(ps)
    return lambda d: any(p(d) for p in preds)


def _in_intervals(intervals):
    """The descriptors open now that were acquired during one of the (start, end) checkpoint
    intervals: those listed since start and not since end (a number reused later has a newer
    record, listed since end)."""
    fds = set()
    for start, end in intervals:
        since_start = {d.fd for d in fdleak.leaks_since(start, symbolize=False)}
        since_end = {d.fd for d in fdleak.leaks_since(end, symbolize=False)}
        fds |= since_start - since_end
    return fds


def _leaks(item):
    cp = getattr(item, _CP, None)
    if not cp:
        return []
    gc.collect()
    # a first look without symbols: usually nothing is left, and the command is not run
    fds = {d.fd for d in fdleak.leaks_since(cp, symbolize=False)}
    if not fds:
        return []
    fds -= _in_intervals(getattr(item, _INTERVALS, []))
    if not fds:
        return []
    allow = _allowed(item)
    leaks = [d for d in fdleak.leaks_since(cp) if d.fd in fds and not allow(d)]
    for d in leaks:
        d.python_frames = _below_pytest(d.python_frames)
    return leaks


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    """pytest's own protocol (setup, call, teardown) between a checkpoint taken before the
    test's fixtures are set up and a check once they are torn down, with the reports held
    back until then: a descriptor a finalizer closes is no leak, one a function-scoped fixture
    opened and never closed is. A passed call phase becomes a failure when the test left
    descriptors open."""
    if not _checking(item.config):
        return None
    st = _state(item.config)
    item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    setattr(item, _INTERVALS, [])
    setattr(item, _ITEM_ALLOW, [])
    setattr(item, _CP, fdleak.checkpoint())
    st.item = item
    try:
        reports = runtestprotocol(item, nextitem=nextitem, log=False)
    finally:
        st.item = None
    passed = any(rep.when == "call" and rep.passed for rep in reports)
    leaks = _leaks(item) if passed else []
    for name in (_CP, _INTERVALS, _ITEM_ALLOW):
        delattr(item, name)
    st.objects = [p for p in st.objects if p.alive()]
    for rep in reports:
        if leaks and rep.when == "call" and rep.passed:
            rep.outcome = "failed"
            rep.longrepr = fdleak.format_leaks(leaks, "test " + item.nodeid)
        item.ihook.pytest_runtest_logreport(report=rep)
    item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True
