"""Row 5: memory per live descriptor (eventfd + dup up to 1,000,000 fds, or what the hard
RLIMIT_NOFILE allows), the time to create them, an on-demand dump and its report; and the
bytes per distinct stack."""
import os
import shutil

from harness import log, median
from rows import scale


def run(h):
    want = 200000 if h.quick else 1000000
    old = scale.raise_nr_open(h, want + 1024)
    try:
        n, can_raise = scale.fd_capacity(h, want)
        if n < want:
            h.notes["fd_cap"] = n
            log(f"row 5: RLIMIT_NOFILE allows only {n} fds here (no CAP_SYS_RESOURCE to "
                f"raise the hard limit): measuring {n}, extrapolating to {want}")
        res = {"bare": [], "shim": []}
        rounds = 1 if h.quick else 3
        keep = None
        for _ in range(rounds):
            for v in ("bare", "shim"):
                d = h.outdir("row5")
                # One call path: the per-fd cost without the stacks' own memory.
                kv = scale.fdmass(h, v, n, 1, v == "shim", d,
                                  **({"FDLEAK_EXIT": 0} if v == "shim" else {}))
                if v == "shim":
                    path = scale.dump_file(h, d, "signal")
                    kv["render_secs"] = scale.render(h, path, 1)
                    kv["dump_bytes"] = os.path.getsize(path)
                    keep = os.path.join(h.tmp, "row5.json")
                    shutil.move(path, keep)
                res[v].append(kv)
    finally:
        if old is not None:
            with open("/proc/sys/fs/nr_open", "w") as f:
                f.write(str(old))
    factor = want / n
    sfx = "" if n == want else f" (measured at {n}, x{factor:.0f})"
    bd = median([r["rss_delta_kb"] for r in res["bare"]])
    sd = median([r["rss_delta_kb"] for r in res["shim"]])
    per_fd = (sd - bd) * 1024 / n
    h.add("5", f"{n} live fds (eventfd+dup, 1 stack): RSS growth, KiB", bd, sd, None,
          None)
    h.add("5", "  shim bytes per live fd ((shim - bare RSS growth) / fds)",
          ratio=per_fd, target="<= 64 B", met=per_fd <= 64, unit="B")
    bc = median([float(r["create_secs"]) for r in res["bare"]])
    sc = median([float(r["create_secs"]) for r in res["shim"]])
    h.add("5", f"  time to create the {n} fds, s", bc, sc, None, sc / bc)
    ds = median([float(r["dump_secs"]) for r in res["shim"]])
    rs = median([r["render_secs"] for r in res["shim"]])
    mb = median([r["dump_bytes"] for r in res["shim"]]) / 1e6
    h.add("5", f"  raw dump (on-demand signal) of {n} fds, s ({mb:.1f} MB)", shim=ds)
    h.add("5", f"  fdleak report of that dump, s", shim=rs)
    if n < want:
        h.add("5", f"  raw dump of {want} fds, s (linear extrapolation x{factor:.0f})",
              shim=ds * factor)
        big = scale.synth_dump(h, keep, want, os.path.join(h.tmp, "row5-big.json"))
        mbb = os.path.getsize(big) / 1e6
        rb = scale.render(h, big, 1)
        os.unlink(big)
        h.add("5", f"  fdleak report of a {want}-fd dump, s (measured: real dump's "
              f"records repeated, {mbb:.0f} MB)", shim=rb)

    # Bytes per distinct stack: the same number of fds from 1 path vs from all different
    # paths (binary recursion: 2^k stacks of ~k+6 frames), at two sizes: the stack store's
    # hash slots (8 MiB reserved for 1M stacks) are touched at random, so the first
    # thousands of stacks each commit a page of slots; the marginal cost is the record.
    sizes = [1 << 10, 1 << (12 if h.quick else 14)]
    sizes = [m for m in sizes if m <= n]
    delta = {}
    for m in sizes:
        out = {"same": [], "distinct": []}
        for _ in range(1 if h.quick else 3):
            for v, p in (("same", 1), ("distinct", m)):
                kv = scale.fdmass(h, "shim", m, p, False, h.outdir("row5s"), FDLEAK_EXIT=0)
                out[v].append(kv["rss_delta_kb"])
        delta[m] = (median(out["distinct"]) - median(out["same"])) * 1024
        k = m.bit_length() - 1
        h.add("5", f"  shim bytes per distinct stack, {m} stacks of ~{k + 6} frames "
              f"(RSS / stacks)", ratio=delta[m] / m, unit="B")
    if len(sizes) == 2:
        lo, hi = sizes
        h.add("5", f"  marginal bytes per distinct stack ({lo} -> {hi} stacks)",
              ratio=(delta[hi] - delta[lo]) / (hi - lo), unit="B")
