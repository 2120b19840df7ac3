"""Row 1b: a mixed CPython workload (bench/mixed.py: JSON, SHA-256, files, sockets), bare,
under the library with and without Python stacks, and under valgrind; callgrind's instructions
per iteration and where the added ones go (unw_backtrace, PySys_Audit, PyFrame_GetLineNumber)."""
import os

from harness import PY, ROOT, median


def run(h):
    n = 10000 if h.quick else 50000
    script = os.path.join(ROOT, "bench", "mixed.py")
    work = h.outdir("mixed")

    def one(v):
        if v == "valgrind":
            cmd = ["valgrind", "--tool=none", "--track-fds=yes", "-q", PY, script, str(n),
                   work]
            _, dt = h.run(cmd, h.env("bare"), timeout=1200)
        elif v == "nopy":
            _, dt = h.run([PY, script, str(n), work], h.env("shim", FDLEAK_PYTHON=0))
        else:
            _, dt = h.run([PY, script, str(n), work], h.env(v))
        return h.last_cpu, dt

    rounds = h.rounds + (2 if not h.quick else 0)
    variants = ["bare", "shim", "nopy"]
    res = h.alternate(variants, one, rounds)
    vg = [one("valgrind") for _ in range(1 if h.quick else 2)]
    cpu = {v: median([x[0] for x in res[v]]) for v in variants}
    wall = {v: median([x[1] for x in res[v]]) for v in variants}
    b, s, g = cpu["bare"], cpu["shim"], median([x[0] for x in vg])
    cpu_of = {v: [x[0] for x in res[v]] for v in variants}
    wall_of = {v: [x[1] for x in res[v]] for v in variants}
    r = h.paired(cpu_of["shim"], cpu_of["bare"])
    h.add("1b", f"mixed Python (JSON, sha256, files, sockets), {n} iterations, CPU s",
          b, s, g, r, "<= 1.03x", r <= 1.03)
    h.add("1b", "  same, wall s", wall["bare"], wall["shim"], median([x[1] for x in vg]),
          h.paired(wall_of["shim"], wall_of["bare"]))
    h.add("1b", "  valgrind --track-fds / bare (mixed Python, CPU)", ratio=g / b)
    h.add("1b", "  shim with FDLEAK_PYTHON=0 (no Python stacks), CPU s", b, cpu["nopy"],
          ratio=h.paired(cpu_of["nopy"], cpu_of["bare"]))

    ni = 2000
    cmd = [PY, script, str(ni), work]
    tb, _ = h.callgrind(cmd, h.env("bare"))
    ts, inc = h.callgrind(cmd, h.env("shim"), ("PyFrame_GetLineNumber", "backtrace",
                                               "PySys_Audit"))
    tn, _ = h.callgrind(cmd, h.env("shim", FDLEAK_PYTHON=0))
    h.add("1b", f"  user-space instructions per iteration (callgrind, {ni} iterations)",
          tb / ni, ts / ni, None, ts / tb)
    h.add("1b", "  same with FDLEAK_PYTHON=0", tb / ni, tn / ni, None, tn / tb)
    added = (ts - tb) / ni
    parts = {"unw_backtrace (C stacks)": inc.get("backtrace", 0) / ni,
             "PySys_Audit (audit events, hook, Python stacks)": inc.get("PySys_Audit", 0) / ni,
             "PyFrame_GetLineNumber (part of the above)":
                 inc.get("PyFrame_GetLineNumber", 0) / ni}
    if added > 0:
        for name, v in parts.items():
            h.add("1b", f"  added instructions per iteration in {name}", shim=v,
                  ratio=100 * v / added, unit="% of added")
    h.notes["1b"] = dict(instr=ts / tb, instr_nopy=tn / tb, added=added,
                         lineno=parts["PyFrame_GetLineNumber (part of the above)"],
                         unwind=parts["unw_backtrace (C stacks)"],
                         audit=parts["PySys_Audit (audit events, hook, Python stacks)"])
