"""End-to-end tests of libfdleak.so: C++. Each fixture of tests/cases/ runs under the
library and its raw dumps (docs/dump-format.md) are checked against the facts it printed."""
import lib
from lib import check, eq
from shimcase import _ok, _exit_dump, _check_leaks


def test_cxx_exceptions_through_shim():
    exe = lib.fixture("cxx_exceptions")
    plain = lib.run_plain([exe])
    res, dumps = lib.run_under_shim([exe])
    eq(plain.returncode, 0, "exit status without the shim", plain.stderr)
    _ok(res)
    strip = lambda text: [l for l in text.splitlines()
                          if not l.startswith(("unwinder ", "backtrace "))]
    eq(strip(res.stdout), strip(plain.stdout), "output with the shim vs without")
    check("terminate called" not in res.stdout, "std::terminate reached")
    unw = lib.facts(res.stdout, "unwinder")
    check(unw, "no unwinder line", res.stdout)
    check("libunwind" not in unw[0][1], "_Unwind_RaiseException resolved to %s" % unw[0][1])
    # the ASan runtime, preloaded first in a sanitizer build, interposes it and forwards
    allowed = ("libgcc_s", "libasan") if lib.asan_build() else ("libgcc_s",)
    check(any(a in unw[0][1] for a in allowed),
          "_Unwind_RaiseException resolved to %s, not libgcc_s" % unw[0][1])
    bt = lib.facts(res.stdout, "backtrace")
    libs = ("libc.so", "libasan") if lib.asan_build() else ("libc.so",)
    check(bt and any(x in bt[0][1] for x in libs) and bt[0][2] == "ok",
          "backtrace() resolved to %s" % (bt and bt[0][1:]))
    eq(res.facts("threads"), [["threads", "ok", "1", "1", "1", "1"]], "throws in threads")
    d = _exit_dump(res)
    _check_leaks(d, res, exe, {"open": {"func": "opener_that_throws", "kind": "file"}})
