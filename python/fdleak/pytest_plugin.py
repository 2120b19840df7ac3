"""pytest plugin: ``pytest --fdleak`` fails each test that leaves descriptors open.

Loaded by its entry point (pytest11) once the package is installed, or with
``pytest -p fdleak.pytest_plugin``. With ``--fdleak``, a checkpoint is taken when a test's call
phase starts (after its fixtures are set up) and, once its fixtures are torn down, a test that
passed fails when a descriptor it acquired is still open, with the list of them and the Python
line (and C stack) that opened each. Descriptors a test keeps on purpose:

    @pytest.mark.fdleak_allow                   # anything
    @pytest.mark.fdleak_allow("/tmp/cache*", 7) # paths matching a pattern, fd 7
    @pytest.mark.fdleak_allow(lambda d: d.kind == "socket")

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
        raise pytest.UsageError("--fdleak needs libfdleak.so loaded: " + why)
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


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_call(item):
    if item.config.getoption("fdleak", False):
        setattr(item, _CP, fdleak.checkpoint())
    yield


_PYTEST_DIRS = tuple(os.sep + d + os.sep for d in ("_pytest", "pluggy"))


def _below_pytest(frames):
    """A Python stack without pytest's and pluggy's frames under the test's."""
    for i, f in enumerate(frames):
        if i and any(d in (f.file or "") for d in _PYTEST_DIRS):
            return frames[:i]
    return frames


def _allowed(item):
    preds = []
    for mark in item.iter_markers("fdleak_allow"):
        if not mark.args:
            return lambda d: True
        preds.append(fdleak._matcher(list(mark.args)))
    return lambda d: any(p(d) for p in preds)


def _leaks(item):
    cp = getattr(item, _CP, None)
    if not cp:
        return []
    gc.collect()
    allow = _allowed(item)
    leaks = [d for d in fdleak.leaks_since(cp) if not allow(d)]
    for d in leaks:
        d.python_frames = _below_pytest(d.python_frames)
    return leaks


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    """pytest's own protocol (setup, call, teardown), with the reports held back until the
    fixtures are torn down: a descriptor a finalizer closes is no leak. A passed call phase
    becomes a failure when the test left descriptors open."""
    if not item.config.getoption("fdleak", False):
        return None
    item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    reports = runtestprotocol(item, nextitem=nextitem, log=False)
    passed = any(rep.when == "call" and rep.passed for rep in reports)
    leaks = _leaks(item) if passed else []
    if hasattr(item, _CP):
        delattr(item, _CP)
    for rep in reports:
        if leaks and rep.when == "call" and rep.passed:
            rep.outcome = "failed"
            rep.longrepr = fdleak.format_leaks(leaks, "test " + item.nodeid)
        item.ihook.pytest_runtest_logreport(report=rep)
    item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True
