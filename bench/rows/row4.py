"""Row 4: process start-up and exit: posix_spawn of /bin/true (bench/spawnloop.c) bare, under the
library, without the exit dump, and at a soft RLIMIT_NOFILE of 1024; a probe of what one
descriptor near the soft limit costs a spawn; and a make -j2 job of ~300 processes."""
import os
import resource
import shutil

from harness import median


def run(h):
    spawn = os.path.join(h.bin, "spawnloop")
    batch = 25 if h.quick else 50
    rounds = 4 if h.quick else 8  # rounds x batch runs per variant (200 / 400)
    d = h.outdir("startup")

    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]

    def one(v):
        nofile = 1024 if v.endswith("1024") else None
        if v.startswith("noexit"):
            e = h.env("shim", d, FDLEAK_EXIT=0)
        else:
            e = h.env(v.split("@")[0], d)
        out, _ = h.run([spawn, str(batch), "/bin/true"], e, nofile=nofile)
        return float(h.kv(out)["median_us"]), h.last_cpu * 1e6 / batch

    variants = ["bare", "shim", "noexit"]
    if soft > 1024:
        variants += ["bare@1024", "shim@1024", "noexit@1024"]
    raw = h.alternate(variants, one, rounds)
    res = {v: [x[0] for x in raw[v]] for v in variants}
    cpu = {v: median([x[1] for x in raw[v]]) for v in variants}
    b, s, x = median(res["bare"]), median(res["shim"]), median(res["noexit"])
    h.add("4", f"/bin/true, ms per process ({batch * rounds} runs each, soft "
          f"RLIMIT_NOFILE {soft})", b / 1000, s / 1000, None, s / b)
    h.add("4", "  added ms per process (shim - bare), exit dump written",
          ratio=(s - b) / 1000, unit="ms", target="< 1 ms", met=(s - b) / 1000 < 1.0)
    h.add("4", "  added ms per process with FDLEAK_EXIT=0 (start-up alone)",
          ratio=(x - b) / 1000, unit="ms")
    h.add("4", "  CPU ms per process (spawner + /bin/true)", cpu["bare"] / 1000,
          cpu["shim"] / 1000, None, cpu["shim"] / cpu["bare"])
    h.add("4", "  CPU ms per process, FDLEAK_EXIT=0", cpu["bare"] / 1000,
          cpu["noexit"] / 1000, None, cpu["noexit"] / cpu["bare"])
    if soft > 1024:
        b1, s1, x1 = (median(res["bare@1024"]), median(res["shim@1024"]),
                      median(res["noexit@1024"]))
        h.add("4", "  /bin/true at soft RLIMIT_NOFILE 1024, ms per process", b1 / 1000,
              s1 / 1000, None, s1 / b1)
        h.add("4", "  added ms per process at 1024, exit dump written",
              ratio=(s1 - b1) / 1000, unit="ms")
        h.add("4", "  added ms per process at 1024, FDLEAK_EXIT=0",
              ratio=(x1 - b1) / 1000, unit="ms")

    # Probe, no shim: a spawner holding one close-on-exec descriptor near the soft limit
    # (where the shim puts its reserve) against one holding fd 100.
    if soft > 1024:
        hi = min(soft, 1 << 20) - 10

        def hold(v):
            e = h.env("bare", SPAWNLOOP_HOLD_FD=100 if v == "low" else hi)
            out, _ = h.run([spawn, str(batch), "/bin/true"], e)
            return float(h.kv(out)["median_us"])

        hres = h.alternate(["low", "high"], hold, rounds)
        lo_, hi_ = median(hres["low"]), median(hres["high"])
        h.add("4", f"  probe, no shim: spawner holding fd 100 (bare column) vs fd {hi} "
              f"(shim column), ms per /bin/true", lo_ / 1000, hi_ / 1000, None,
              (hi_ - lo_) / 1000, unit="ms added")

    # A process-heavy job: make -j2 over recipes that each start a shell and two programs.
    targets = 40 if h.quick else 100
    mk = os.path.join(h.tmp, "spawn.mk")
    with open(mk, "w") as f:
        names = " ".join(f"t{i}" for i in range(targets))
        f.write(f".PHONY: all {names}\nall: {names}\n")
        for i in range(targets):
            f.write(f"t{i}:\n\t@/bin/true && /bin/true $@ > /dev/null\n")
    make = shutil.which("make")

    def job(v):
        _, dt = h.run([make, "-s", "-j2", "-f", mk], h.env(v, h.outdir("make")))
        return dt

    res = h.alternate(["bare", "shim"], job, max(3, h.rounds))
    b, s = median(res["bare"]), median(res["shim"])
    nproc = 1 + targets * 3
    h.add("4", f"make -j2, {targets} recipes (~{nproc} processes), s", b, s, None, s / b)
    h.add("4", "  added ms per process in the make job", ratio=(s - b) / nproc * 1000,
          unit="ms", target="< 1 ms", met=(s - b) / nproc * 1000 < 1.0)
