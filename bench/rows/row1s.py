"""Row 1s: the program stack a wrapped call takes. bench/stackuse.c runs open+close on a fresh
thread whose stack is pre-filled with a pattern and reports how many bytes were touched, bare
and under the library (its unwinding runs on a stack of its own)."""
import os


def run(h):
    prog = os.path.join(h.bin, "stackuse")

    def one(v):
        out, _ = h.run([prog], h.env(v))
        return int(h.kv(out)["stack_used"])

    res = h.alternate(["bare", "shim"], one, 3)
    b, s = max(res["bare"]), max(res["shim"])
    h.add("1s", "program stack taken by open+close on a fresh thread, bytes", b, s,
          ratio=s / b if b else None, target="shim - bare <= 1024", met=s - b <= 1024)
    h.add("1s", "  extra bytes under the library", shim=s - b)
