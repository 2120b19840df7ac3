"""Row "probe" (`make bench-probes`, not part of `make bench`): the design probe of
bench/probes/proto_capture.c, which is not the library. A capture 31 frames deep with
unw_backtrace, and with a verified reuse of the previous capture: its cost on a hit, and on a
refusal with the slots found by unw_step or by a scan of the stack; and a check of the reuse
against unw_backtrace. Row 1's note in RESULTS.md quotes it when both ran."""
import os

from harness import median


def run(h):
    proto = os.path.join(h.bin, "probes", "proto_capture")
    if not os.path.exists(proto):
        raise RuntimeError(f"{proto} is missing: run `make bench-probes`")
    for fr in (16, 32):
        bad = 0
        for slow in ("step", "scan"):
            out, _ = h.run([proto, "check", "2000", str(fr)],
                           h.env("bare", PROTO_SLOW=slow), check=False)
            bad += int(h.kv(out).get("mismatches", 1))
        res = h.alternate(
            ["unw", "reuse"],
            lambda v, fr=fr: float(h.kv(h.run(
                [proto, v, "100000" if h.quick else "300000", str(fr)],
                h.env("bare"))[0])["ns_per_capture"]),
            h.rounds)
        u, r = median(res["unw"]), median(res["reuse"])
        miss = {}
        for slow, cnt in (("step", "5000"), ("scan", "100000")):
            out, _ = h.run([proto, "miss", cnt, str(fr)],
                           h.env("bare", PROTO_SLOW=slow))
            miss[slow] = float(h.kv(out)["ns_per_capture"])
        h.add("probe", f"{fr} frames: ns per capture with unw_backtrace",
              shim=u)
        h.add("probe", f"{fr} frames: verified reuse, hit ({bad} mismatches "
              f"in the checks)", shim=r, ratio=r / u, unit="x unw_backtrace")
        h.add("probe", f"{fr} frames: refused reuse, slots from unw_step",
              shim=miss["step"], ratio=miss["step"] / u, unit="x unw_backtrace")
        h.add("probe", f"{fr} frames: refused reuse, slots from a stack scan",
              shim=miss["scan"], ratio=miss["scan"] / u, unit="x unw_backtrace")
        h.notes.setdefault("probe", {})[fr] = (u, r, miss["step"], miss["scan"])
