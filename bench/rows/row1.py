"""Row 1: open+close, socket+close and pipe+close 31 frames deep (bench/fdloop.c), bare, under
the library (default depth and FDLEAK_DEPTH=32) and under valgrind --track-fds; then callgrind's
user-space instructions per open+close and the part of them spent in unw_backtrace."""
import os

from harness import median


def run(h):
    n = 50000 if h.quick else 200000
    nv = max(n // 10, 5000)
    fdloop = os.path.join(h.bin, "fdloop")
    for mode in ("open", "socket", "pipe"):
        vg_rounds = 1 if h.quick else 3

        def one(v, mode=mode):
            if v == "valgrind":
                cmd = ["valgrind", "--tool=none", "--track-fds=yes", "-q", fdloop, mode,
                       str(nv)]
                out, _ = h.run(cmd, h.env("bare"))
            elif v == "depth32":
                out, _ = h.run([fdloop, mode, str(n)], h.env("shim", FDLEAK_DEPTH=32))
            else:
                out, _ = h.run([fdloop, mode, str(n)], h.env(v))
            kv = h.kv(out)
            return float(kv["cpu_ns_per_op"]), float(kv["ns_per_op"])

        variants = ["bare", "shim"] + (["depth32"] if mode == "open" else [])
        res = h.alternate(variants, one, h.rounds * 2)
        vg = [one("valgrind") for _ in range(vg_rounds)]
        med = {v: median([x[0] for x in res[v]]) for v in variants}
        wall = {v: median([x[1] for x in res[v]]) for v in variants}
        b, s, g = med["bare"], med["shim"], median([x[0] for x in vg])
        cpu_of = {v: [x[0] for x in res[v]] for v in variants}
        wall_of = {v: [x[1] for x in res[v]] for v in variants}
        r = h.paired(cpu_of["shim"], cpu_of["bare"])
        what = {"open": "open(/dev/null)+close", "socket": "socket(AF_INET)+close",
                "pipe": "pipe+2 close"}[mode]
        if mode == "open":
            h.add("1", f"{what}, 31 frames deep, CPU ns/op", b, s, g, r, "<= 1.10x",
                  r <= 1.10)
        else:
            h.add("1", f"{what}, 31 frames deep, CPU ns/op", b, s, g, r)
        h.add("1", f"  same, wall ns/op", wall["bare"], wall["shim"],
              median([x[1] for x in vg]), h.paired(wall_of["shim"], wall_of["bare"]))
        h.add("1", f"  valgrind --track-fds / bare ({mode}, CPU)", ratio=g / b)
        if mode == "open":
            d = med["depth32"]
            h.add("1", "  open+close, shim with FDLEAK_DEPTH=32 (whole stack), CPU ns/op",
                  b, d, None, h.paired(cpu_of["depth32"], cpu_of["bare"]))

    # Instructions per open+close (user space only), and where the shim's go, at the
    # default depth and at 32 (the whole 31-frame stack).
    ni = 20000
    ops = ni + 64
    tb, _ = h.callgrind([fdloop, "open", str(ni)], h.env("bare"))
    for label, extra in (("default depth", {}), ("FDLEAK_DEPTH=32", {"FDLEAK_DEPTH": 32})):
        ts, inc = h.callgrind([fdloop, "open", str(ni)], h.env("shim", **extra),
                              ("backtrace",))
        added = (ts - tb) / ops
        h.add("1", f"  user-space instructions per open+close (callgrind), {label}",
              tb / ops, ts / ops, None, ts / tb)
        if "backtrace" in inc:
            bt = inc["backtrace"] / ops
            h.notes.setdefault("1", dict(added=added, unwind=bt))
            h.add("1", f"  of the {added:.0f} added ({label}): unw_backtrace {bt:.0f}, "
                  f"rest of the shim {added - bt:.0f}", ratio=bt / added * 100,
                  unit="% in unw_backtrace")
