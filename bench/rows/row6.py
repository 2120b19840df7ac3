"""Row 6: 100,000 leaked descriptors over 300 stacks: raw dump time (signal and exit), `fdleak
report` render time, and the dump's cost per descriptor at two sizes (linearity)."""
import os
import shutil

from harness import median
from rows import scale


def run(h):
    want = 100000
    paths = 300
    n, _ = scale.fd_capacity(h, want)
    factor = want / n
    res = {"exit": [], "noexit": []}
    renders, sig = [], []
    rounds = 2 if h.quick else 5
    keep = None
    for _ in range(rounds):
        for v in ("exit", "noexit"):
            d = h.outdir("row6")
            kv = scale.fdmass(h, "shim", n, paths, v == "exit", d,
                              **({"FDLEAK_EXIT": 0} if v == "noexit" else {}))
            res[v].append(kv["exit_secs"])
            if v == "exit":
                sig.append(float(kv["dump_secs"]))
                path = scale.dump_file(h, d, "exit")
                if len(renders) < 3:
                    renders.append(scale.render(h, path, 1))
                keep = os.path.join(h.tmp, "row6.json")
                shutil.move(path, keep)
    # Linearity of the dump in the number of descriptors: the same at a quarter of n.
    q = n // 4
    small = []
    for _ in range(3 if not h.quick else 1):
        kv = scale.fdmass(h, "shim", q, paths, True, h.outdir("row6q"), FDLEAK_EXIT=0)
        small.append(float(kv["dump_secs"]))
    exit_dump = max(0.0, median(res["exit"]) - median(res["noexit"]))
    sd = median(sig)
    rd = median(renders)
    sq = median(small)

    def linearity():
        h.add("6", f"  raw dump (signal) per descriptor at {q} fds, ns", shim=sq * 1e9 / q)
        h.add("6", f"  raw dump (signal) per descriptor at {n} fds, ns", shim=sd * 1e9 / n)
    if n == want:
        h.add("6", f"{n} leaked fds over {paths} stacks: raw dump (signal), s", shim=sd,
              target="< 0.2 s", met=sd < 0.2)
        h.add("6", "  raw dump at exit (process end with - without FDLEAK_EXIT), s",
              shim=exit_dump, target="< 0.2 s", met=exit_dump < 0.2)
        h.add("6", "  fdleak report of the exit dump, s", shim=rd, target="< 1 s",
              met=rd < 1.0)
        linearity()
        return
    h.add("6", f"{n} leaked fds over {paths} stacks (RLIMIT cap): raw dump (signal), s",
          shim=sd)
    h.add("6", "  raw dump at exit (process end with - without FDLEAK_EXIT), s",
          shim=exit_dump)
    h.add("6", "  fdleak report of the exit dump, s", shim=rd)
    linearity()
    h.add("6", f"  raw dump of {want} leaks, s (signal dump x{factor:.1f}, linear)",
          shim=sd * factor, target="< 0.2 s", met=sd * factor < 0.2)
    rbs = []
    big = scale.synth_dump(h, keep, want, os.path.join(h.tmp, "row6-big.json"))
    for _ in range(3):
        rbs.append(scale.render(h, big, 1))
    rb = median(rbs)
    h.add("6", f"  fdleak report of a {want}-leak dump, s (real dump's records "
          f"repeated)", shim=rb, target="< 1 s", met=rb < 1.0)
