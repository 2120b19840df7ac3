"""Row 2: 4 threads looping open+close together (bench/fdloop.c), throughput bare and under the
library, beside the same program with 1 thread: a lock convoy would show as a gap."""
import os

from harness import median


def run(h):
    n = 30000 if h.quick else 100000
    fdloop = os.path.join(h.bin, "fdloop")
    for threads in (1, 4):
        def one(v, threads=threads):
            out, _ = h.run([fdloop, "open", str(n), str(threads)], h.env(v))
            kv = h.kv(out)
            return float(kv["ops_per_sec"]), float(kv["cpu_ns_per_op"])

        res = h.alternate(["bare", "shim"], one, h.rounds * 2)
        b, s = median([x[0] for x in res["bare"]]), median([x[0] for x in res["shim"]])
        cb, cs = median([x[1] for x in res["bare"]]), median([x[1] for x in res["shim"]])
        r = h.paired([x[0] for x in res["shim"]], [x[0] for x in res["bare"]])
        rc = h.paired([x[1] for x in res["shim"]], [x[1] for x in res["bare"]])
        h.notes.setdefault("2", {})[threads] = (r, rc)
        if threads == 4:
            h.add("2", "4 threads open+close, ops/s (throughput)", b, s, None, r,
                  ">= 0.90x", r >= 0.90)
            h.add("2", "  4 threads, CPU ns/op (all threads)", cb, cs, None, rc)
        else:
            h.add("2", "  1 thread open+close, ops/s (same program)", b, s, None, r)
            h.add("2", "  1 thread, CPU ns/op", cb, cs, None, rc)
