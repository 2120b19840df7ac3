"""The benchmark harness: runs and times programs (bare, under the library, under valgrind),
alternates the variants of a row round by round, counts instructions with callgrind and
collects the measured rows. The rows themselves live in bench/rows/, the results writer in
bench/results.py.

"shim" means LD_PRELOAD=libfdleak.so with the settings `fdleak run` uses (FDLEAK_OUTPUT to a
temporary directory, exit dump on), unless a row says otherwise."""
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = "/usr/bin/python3"


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def fmt(x):
    if x is None:
        return ""
    if isinstance(x, str):
        return x
    if x != x:
        return "nan"
    ax = abs(x)
    if ax >= 1000:
        return f"{x:,.0f}"
    if ax >= 100:
        return f"{x:.1f}"
    if ax >= 1:
        return f"{x:.3g}" if ax < 10 else f"{x:.2f}".rstrip("0").rstrip(".")
    return f"{x:.3g}"


class Harness:
    """What every row measures with: paths of the build under test, a scratch directory, the
    environments of the variants, timed runs, and the rows measured so far (self.rows, in the
    order added; self.notes holds figures the results writer quotes)."""

    def __init__(self, build, quick=False, rounds=0):
        self.quick = quick
        self.build = os.path.abspath(os.path.join(ROOT, build))
        self.bin = os.path.join(self.build, "bench")
        self.tmp = tempfile.mkdtemp(prefix="fdleak-bench-")
        self.lib = os.path.join(self.build, "libfdleak.so")
        self.fdleak = os.path.join(self.build, "fdleak")
        self.rows = []  # dicts: row, metric, bare, shim, valgrind, ratio, target, met, unit
        self.notes = {}
        self.last_cpu = 0.0
        self.rounds = rounds or (3 if quick else 9)

    def freeze(self):
        """Measures private copies of the library and the command from now on: a rebuild of
        build/ during the run must not change what is measured."""
        for attr in ("lib", "fdleak"):
            src = getattr(self, attr)
            dst = os.path.join(self.tmp, os.path.basename(src))
            shutil.copy2(src, dst)
            setattr(self, attr, dst)

    def cleanup(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def outdir(self, name):
        d = os.path.join(self.tmp, name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        return d

    def env(self, variant, outdir=None, **extra):
        e = dict(os.environ)
        for k in list(e):
            if k.startswith("FDLEAK_") or k == "LD_PRELOAD":
                del e[k]
        if variant == "shim":
            e["LD_PRELOAD"] = self.lib
            e["FDLEAK_OUTPUT"] = os.path.join(outdir or self.outdir("dumps"), "%p.%t.%n.json")
        e.update({k: str(v) for k, v in extra.items()})
        return e

    def run(self, cmd, env=None, timeout=600, check=True, stdin=subprocess.DEVNULL,
            discard=False, nofile=None):
        pre = None
        if nofile:
            def pre():
                hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
                resource.setrlimit(resource.RLIMIT_NOFILE, (min(nofile, hard), hard))
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        p = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL if discard else subprocess.PIPE,
                           stderr=subprocess.PIPE, stdin=stdin, text=True, timeout=timeout,
                           preexec_fn=pre)
        dt = time.monotonic() - t0
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        # CPU time (user + system) of the child and the descendants it waited for.
        self.last_cpu = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
        if check and p.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr[-2000:]}")
        return p.stdout, dt

    @staticmethod
    def kv(text):
        out = {}
        for m in re.finditer(r"(\w+)=(\S+)", text):
            out[m.group(1)] = m.group(2)
        return out

    def add(self, row, metric, bare=None, shim=None, valgrind=None, ratio=None, target="",
            met=None, unit=""):
        self.rows.append(dict(row=row, metric=metric, bare=bare, shim=shim, valgrind=valgrind,
                              ratio=ratio, target=target, met=met, unit=unit))
        r = self.rows[-1]
        log(f"row {row}: {metric}: bare={fmt(bare)} shim={fmt(shim)} valgrind={fmt(valgrind)} "
            f"ratio={fmt(ratio)} {target} {'' if met is None else ('met' if met else 'MISSED')}")
        return r

    @staticmethod
    def paired(xs, ys):
        """Median over rounds of x/y from the same round: runs of one round are seconds apart,
        so a change in the machine's load between rounds cancels out."""
        return median([x / y for x, y in zip(xs, ys) if y])

    def alternate(self, variants, fn, rounds):
        """Runs fn(variant) for each variant, rotating the order every round; returns
        {variant: [results]}."""
        res = {v: [] for v in variants}
        for r in range(rounds):
            order = variants[r % len(variants):] + variants[:r % len(variants)]
            for v in order:
                res[v].append(fn(v))
        for v in variants:  # per-round values, for a look at the spread
            log(f"  {v}: " + " ".join(fmt(x[0] if isinstance(x, tuple) else
                                          (x.get("SET") if isinstance(x, dict) else x))
                                      for x in res[v]))
        return res

    def callgrind(self, cmd, env, funcs=()):
        """Instructions executed by cmd (callgrind counts user-space instructions: stable on a
        shared machine, blind to the kernel), and the inclusive count of each function whose
        name contains one of `funcs`."""
        out = os.path.join(self.tmp, "callgrind.out")
        self.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out] + cmd, env,
                 timeout=1200)
        total = 0
        with open(out) as f:
            for line in f:
                if line.startswith(("summary:", "totals:")):
                    total = int(line.split()[1])
        incl = {}
        if funcs:
            text, _ = self.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100",
                                out], self.env("bare"))
            for fn in funcs:
                for line in text.splitlines():
                    m = re.match(r"\s*([\d,]+)\s+\(.*?\)\s+(\S+)", line)
                    if m and fn in m.group(2) and "'" not in m.group(2):
                        incl[fn] = int(m.group(1).replace(",", ""))
                        break
        os.unlink(out)
        return total, incl
