"""Row 1v: what a Python stack costs on each CPython the walk knows (3.8-3.13, each one
installed: Debian's python3 and pyenv's): callgrind's user-space instructions per
`os.pipe()` and its two closes, bare and under the library, from the difference between a
4,000- and a 2,000-iteration run (start-up and the exit dump cancel out)."""
import glob
import os
import subprocess

from harness import log

CODE = "import os, sys\nfor _ in range(int(sys.argv[1])):\n    r, w = os.pipe(); os.close(r); os.close(w)\n"


def _pythons():
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    found, seen = [], set()
    for exe in ["/usr/bin/python3"] + sorted(glob.glob(os.path.join(root, "versions", "*", "bin",
                                                                       "python3"))):
        try:
            r = subprocess.run([exe, "-c", "import sys; print(*sys.version_info[:3])"],
                               capture_output=True, text=True, timeout=60)
        except OSError:
            continue
        v = tuple(int(x) for x in r.stdout.split()) if r.returncode == 0 else ()
        if len(v) == 3 and (3, 8) <= v[:2] <= (3, 13) and os.path.realpath(exe) not in seen:
            seen.add(os.path.realpath(exe))
            found.append((exe, v))
    return sorted(found, key=lambda x: x[1])


def run(h):
    script = os.path.join(h.outdir("pyver"), "pipes.py")
    with open(script, "w") as f:
        f.write(CODE)
    for exe, v in _pythons():
        name = "%d.%d.%d" % v + (" (Debian)" if exe.startswith("/usr/bin/") else "")
        per = {}
        for variant in ("bare", "shim"):
            n = [h.callgrind([exe, script, str(k)], h.env(variant))[0] for k in (2000, 4000)]
            per[variant] = (n[1] - n[0]) / 2000
        log(f"row 1v: {name}: {per}")
        h.add("1v", f"CPython {name}: instructions per os.pipe() + 2 closes (callgrind)",
              per["bare"], per["shim"], None, per["shim"] / per["bare"])
        h.add("1v", f"  CPython {name}: added by the library", shim=per["shim"] - per["bare"],
              unit="instr")
