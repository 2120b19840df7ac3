"""Row 1r: what the library costs calls it does not track: a read + write + syscall(getppid)
loop (bench/rwloop.c). The library wraps syscall() (libunwind validates memory through it),
with an assembly fast path for every number but the few it looks at."""
import os

from harness import median


def run(h):
    prog = os.path.join(h.bin, "rwloop")
    n = 200000 if h.quick else 1000000

    def one(v):
        out, _ = h.run([prog, str(n)], h.env(v))
        return float(h.kv(out)["cpu_ns_per_call"])

    res = h.alternate(["bare", "shim"], one, h.rounds)
    r = h.paired(res["shim"], res["bare"])
    h.add("1r", "read + write + syscall(getppid) loop, CPU ns per call", median(res["bare"]),
          median(res["shim"]), ratio=r, target="<= 1.01x", met=r <= 1.01)
    ni, calls = 20000, 3
    tb, _ = h.callgrind([prog, str(ni)], h.env("bare"))
    ts, _ = h.callgrind([prog, str(ni)], h.env("shim"))
    tb2, _ = h.callgrind([prog, str(2 * ni)], h.env("bare"))
    ts2, _ = h.callgrind([prog, str(2 * ni)], h.env("shim"))
    h.add("1r", "  user-space instructions per call (callgrind, slope)",
          (tb2 - tb) / ni / calls, (ts2 - ts) / ni / calls)
