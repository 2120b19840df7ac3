#!/usr/bin/python3
"""fdleak test runner: imports every tests/test_*.py (sorted) and runs each top-level function
named test_* (no arguments) in definition order.

    /usr/bin/python3 tests/run.py [FILTER...]

A test runs when any FILTER is a substring of `module.function` (all tests without filters).
Prints `PASS name`, `SKIP name: why` (the test raised lib.Skip: what it needs is not on this
machine) or `FAIL name: reason` (details indented below), then `N passed, N failed, N skipped`.
Exit status 1 if any test failed. FDLEAK_BUILD names the build directory (default `build`).
Tests guard their own time (subprocess timeouts); the runner does not kill them.
"""
import importlib
import inspect
import os
import signal
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))


def _reason(exc):
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return "%s%s" % (type(exc).__name__, ": " + first if first else "")


def _detail(exc):
    lines = []
    rest = str(exc).strip().splitlines()[1:]
    lines.extend(rest)
    tb = traceback.extract_tb(exc.__traceback__)
    # keep the frames inside tests/ only: where the assertion sits
    for fr in tb:
        if fr.filename.startswith(HERE) and os.path.basename(fr.filename) != "run.py":
            lines.append("at %s:%d in %s: %s" % (os.path.basename(fr.filename), fr.lineno,
                                                  fr.name, (fr.line or "").strip()))
    return lines


def _collect():
    sys.path.insert(0, HERE)
    tests = []
    errors = []
    for fn in sorted(os.listdir(HERE)):
        if not (fn.startswith("test_") and fn.endswith(".py")):
            continue
        mod_name = fn[:-3]
        try:
            mod = importlib.import_module(mod_name)
        except Exception as exc:  # an import error is one failure, not a crash of the runner
            errors.append((mod_name + ".<import>", exc))
            continue
        funcs = [(name, obj) for name, obj in vars(mod).items()
                 if name.startswith("test_") and inspect.isfunction(obj)
                 and obj.__module__ == mod.__name__]
        funcs.sort(key=lambda item: item[1].__code__.co_firstlineno)
        for name, obj in funcs:
            tests.append(("%s.%s" % (mod_name, name), obj))
    return tests, errors


def _default_signals():
    """The programs the tests start inherit what this runner ignores, across exec: started as
    a background job of a script (`make test &`, as CI runners may), the runner has SIGINT and
    SIGQUIT ignored, and a program expected to die of Ctrl-C would sleep on. Dispositions are
    made what an interactive start gives, so results do not depend on how the suite was
    started."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for s in (signal.SIGQUIT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(s, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def main(argv):
    _default_signals()
    filters = argv[1:]
    tests, errors = _collect()
    import lib  # after _collect has put tests/ on the path
    passed = failed = skipped = 0
    for name, exc in errors:
        if filters and not any(f in name for f in filters):
            continue
        failed += 1
        print("FAIL %s: %s" % (name, _reason(exc)))
        for line in _detail(exc):
            print("    " + line)
    for name, func in tests:
        if filters and not any(f in name for f in filters):
            continue
        sys.stdout.flush()
        try:
            func()
        except lib.Skip as exc:
            skipped += 1
            print("SKIP %s: %s" % (name, exc))
        except Exception as exc:  # noqa: BLE001 - every failure is reported, none stops the run
            failed += 1
            print("FAIL %s: %s" % (name, _reason(exc)))
            for line in _detail(exc):
                print("    " + line)
        else:
            passed += 1
            print("PASS %s" % name)
        sys.stdout.flush()
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
