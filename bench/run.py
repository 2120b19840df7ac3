#!/usr/bin/python3
"""`make bench`: fdleak's overhead measured side by side with bare runs and valgrind.

Every row runs its variants alternately in one invocation (bare, shim, valgrind, rotated each
round) and reports medians and ratios: absolute times on a shared 2-vCPU machine are noise,
the ratios are what carry over. Prints a table and (full runs) rewrites bench/RESULTS.md.

    /usr/bin/python3 bench/run.py --build build [--quick] [--rows 1,1b,2,3,4,5,6] [--write]

"shim" means LD_PRELOAD=libfdleak.so with the settings `fdleak run` uses (FDLEAK_OUTPUT to a
temporary directory, exit dump on), unless a row says otherwise.
"""
import argparse
import datetime
import os
import platform
import resource
import re
import shutil
import signal
import socket
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


class Bench:
    def __init__(self, args):
        self.args = args
        self.quick = args.quick
        self.build = os.path.abspath(os.path.join(ROOT, args.build))
        self.bin = os.path.join(self.build, "bench")
        self.tmp = tempfile.mkdtemp(prefix="fdleak-bench-")
        # Private copies: a rebuild of build/ during the run must not change what is measured.
        self.lib = os.path.join(self.build, "libfdleak.so")
        self.fdleak = os.path.join(self.build, "fdleak")
        self.rows = []  # dicts: row, metric, bare, shim, valgrind, ratio, target, met
        self.notes = {}
        self.last_cpu = 0.0
        self.rounds = args.rounds or (3 if self.quick else 9)

    # ---- helpers -------------------------------------------------------------------------
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

    # ---- row 1: open/socket/pipe + close at ~30 frames ------------------------------------
    def row1(self):
        n = 50000 if self.quick else 200000
        nv = max(n // 10, 5000)
        fdloop = os.path.join(self.bin, "fdloop")
        for mode in ("open", "socket", "pipe"):
            vg_rounds = 1 if self.quick else 3

            def one(v, mode=mode):
                if v == "valgrind":
                    cmd = ["valgrind", "--tool=none", "--track-fds=yes", "-q", fdloop, mode,
                           str(nv)]
                    out, _ = self.run(cmd, self.env("bare"))
                elif v == "depth32":
                    out, _ = self.run([fdloop, mode, str(n)], self.env("shim", FDLEAK_DEPTH=32))
                else:
                    out, _ = self.run([fdloop, mode, str(n)], self.env(v))
                kv = self.kv(out)
                return float(kv["cpu_ns_per_op"]), float(kv["ns_per_op"])

            variants = ["bare", "shim"] + (["depth32"] if mode == "open" else [])
            res = self.alternate(variants, one, self.rounds * 2)
            vg = [one("valgrind") for _ in range(vg_rounds)]
            med = {v: median([x[0] for x in res[v]]) for v in variants}
            wall = {v: median([x[1] for x in res[v]]) for v in variants}
            b, s, g = med["bare"], med["shim"], median([x[0] for x in vg])
            cpu_of = {v: [x[0] for x in res[v]] for v in variants}
            wall_of = {v: [x[1] for x in res[v]] for v in variants}
            r = self.paired(cpu_of["shim"], cpu_of["bare"])
            what = {"open": "open(/dev/null)+close", "socket": "socket(AF_INET)+close",
                    "pipe": "pipe+2 close"}[mode]
            if mode == "open":
                self.add("1", f"{what}, 31 frames deep, CPU ns/op", b, s, g, r, "<= 1.10x",
                         r <= 1.10)
            else:
                self.add("1", f"{what}, 31 frames deep, CPU ns/op", b, s, g, r)
            self.add("1", f"  same, wall ns/op", wall["bare"], wall["shim"],
                     median([x[1] for x in vg]), self.paired(wall_of["shim"], wall_of["bare"]))
            self.add("1", f"  valgrind --track-fds / bare ({mode}, CPU)", ratio=g / b)
            if mode == "open":
                d = med["depth32"]
                self.add("1", "  open+close, shim with FDLEAK_DEPTH=32 (whole stack), CPU ns/op",
                         b, d, None, self.paired(cpu_of["depth32"], cpu_of["bare"]))

        # Instructions per open+close (user space only), and where the shim's go, at the
        # default depth and at 32 (the whole 31-frame stack).
        ni = 20000
        ops = ni + 64
        tb, _ = self.callgrind([fdloop, "open", str(ni)], self.env("bare"))
        for label, extra in (("default depth", {}), ("FDLEAK_DEPTH=32", {"FDLEAK_DEPTH": 32})):
            ts, inc = self.callgrind([fdloop, "open", str(ni)], self.env("shim", **extra),
                                     ("backtrace",))
            added = (ts - tb) / ops
            self.add("1", f"  user-space instructions per open+close (callgrind), {label}",
                     tb / ops, ts / ops, None, ts / tb)
            if "backtrace" in inc:
                bt = inc["backtrace"] / ops
                self.notes.setdefault("1", dict(added=added, unwind=bt))
                self.add("1", f"  of the {added:.0f} added ({label}): unw_backtrace {bt:.0f}, "
                         f"rest of the shim {added - bt:.0f}", ratio=bt / added * 100,
                         unit="% in unw_backtrace")

        # Design probe (not the shim): a capture 31 frames deep with unw_backtrace, and with a
        # verified reuse of the previous capture (bench/proto_capture.c): its cost on a hit,
        # and on a refusal with the slots found by unw_step or by a scan of the stack.
        proto = os.path.join(self.bin, "proto_capture")
        if os.path.exists(proto):
            for fr in (16, 32):
                bad = 0
                for slow in ("step", "scan"):
                    out, _ = self.run([proto, "check", "2000", str(fr)],
                                      self.env("bare", PROTO_SLOW=slow), check=False)
                    bad += int(self.kv(out).get("mismatches", 1))
                res = self.alternate(
                    ["unw", "reuse"],
                    lambda v, fr=fr: float(self.kv(self.run(
                        [proto, v, "100000" if self.quick else "300000", str(fr)],
                        self.env("bare"))[0])["ns_per_capture"]),
                    self.rounds)
                u, r = median(res["unw"]), median(res["reuse"])
                miss = {}
                for slow, cnt in (("step", "5000"), ("scan", "100000")):
                    out, _ = self.run([proto, "miss", cnt, str(fr)],
                                      self.env("bare", PROTO_SLOW=slow))
                    miss[slow] = float(self.kv(out)["ns_per_capture"])
                self.add("1", f"  probe, {fr} frames: ns per capture with unw_backtrace",
                         shim=u)
                self.add("1", f"  probe, {fr} frames: verified reuse, hit ({bad} mismatches "
                         f"in the checks)", shim=r, ratio=r / u, unit="x unw_backtrace")
                self.add("1", f"  probe, {fr} frames: refused reuse, slots from unw_step",
                         shim=miss["step"], ratio=miss["step"] / u, unit="x unw_backtrace")
                self.add("1", f"  probe, {fr} frames: refused reuse, slots from a stack scan",
                         shim=miss["scan"], ratio=miss["scan"] / u, unit="x unw_backtrace")
                self.notes.setdefault("probe", {})[fr] = (u, r, miss["step"], miss["scan"])

    # ---- row 1b: mixed Python workload ----------------------------------------------------
    def row1b(self):
        n = 10000 if self.quick else 50000
        script = os.path.join(ROOT, "bench", "mixed.py")
        work = self.outdir("mixed")

        def one(v):
            if v == "valgrind":
                cmd = ["valgrind", "--tool=none", "--track-fds=yes", "-q", PY, script, str(n),
                       work]
                _, dt = self.run(cmd, self.env("bare"), timeout=1200)
            elif v == "nopy":
                _, dt = self.run([PY, script, str(n), work], self.env("shim", FDLEAK_PYTHON=0))
            else:
                _, dt = self.run([PY, script, str(n), work], self.env(v))
            return self.last_cpu, dt

        rounds = self.rounds + (2 if not self.quick else 0)
        variants = ["bare", "shim", "nopy"]
        res = self.alternate(variants, one, rounds)
        vg = [one("valgrind") for _ in range(1 if self.quick else 2)]
        cpu = {v: median([x[0] for x in res[v]]) for v in variants}
        wall = {v: median([x[1] for x in res[v]]) for v in variants}
        b, s, g = cpu["bare"], cpu["shim"], median([x[0] for x in vg])
        cpu_of = {v: [x[0] for x in res[v]] for v in variants}
        wall_of = {v: [x[1] for x in res[v]] for v in variants}
        r = self.paired(cpu_of["shim"], cpu_of["bare"])
        self.add("1b", f"mixed Python (JSON, sha256, files, sockets), {n} iterations, CPU s",
                 b, s, g, r, "<= 1.03x", r <= 1.03)
        self.add("1b", "  same, wall s", wall["bare"], wall["shim"], median([x[1] for x in vg]),
                 self.paired(wall_of["shim"], wall_of["bare"]))
        self.add("1b", "  valgrind --track-fds / bare (mixed Python, CPU)", ratio=g / b)
        self.add("1b", "  shim with FDLEAK_PYTHON=0 (no Python stacks), CPU s", b, cpu["nopy"],
                 ratio=self.paired(cpu_of["nopy"], cpu_of["bare"]))

        ni = 2000
        cmd = [PY, script, str(ni), work]
        tb, _ = self.callgrind(cmd, self.env("bare"))
        ts, inc = self.callgrind(cmd, self.env("shim"), ("PyFrame_GetLineNumber", "backtrace",
                                                          "PySys_Audit"))
        tn, _ = self.callgrind(cmd, self.env("shim", FDLEAK_PYTHON=0))
        self.add("1b", f"  user-space instructions per iteration (callgrind, {ni} iterations)",
                 tb / ni, ts / ni, None, ts / tb)
        self.add("1b", "  same with FDLEAK_PYTHON=0", tb / ni, tn / ni, None, tn / tb)
        added = (ts - tb) / ni
        parts = {"unw_backtrace (C stacks)": inc.get("backtrace", 0) / ni,
                 "PySys_Audit (audit events, hook, Python stacks)": inc.get("PySys_Audit", 0) / ni,
                 "PyFrame_GetLineNumber (part of the above)":
                     inc.get("PyFrame_GetLineNumber", 0) / ni}
        if added > 0:
            for name, v in parts.items():
                self.add("1b", f"  added instructions per iteration in {name}", shim=v,
                         ratio=100 * v / added, unit="% of added")
        self.notes["1b"] = dict(instr=ts / tb, instr_nopy=tn / tb, added=added,
                                lineno=parts["PyFrame_GetLineNumber (part of the above)"],
                                unwind=parts["unw_backtrace (C stacks)"],
                                audit=parts["PySys_Audit (audit events, hook, Python stacks)"])

    # ---- rows 1s and 1r: the host's stack, and the read/write wrappers ---------------------
    def row1s(self):
        prog = os.path.join(self.bin, "stackuse")

        def one(v):
            out, _ = self.run([prog], self.env(v))
            return int(self.kv(out)["stack_used"])

        res = self.alternate(["bare", "shim"], one, 3)
        b, s = max(res["bare"]), max(res["shim"])
        self.add("1s", "program stack taken by open+close on a fresh thread, bytes", b, s,
                 ratio=s / b if b else None, target="shim - bare <= 1024", met=s - b <= 1024)
        self.add("1s", "  extra bytes under the library (its TLS included)", shim=s - b)

    def row1r(self):
        prog = os.path.join(self.bin, "rwloop")
        n = 200000 if self.quick else 1000000

        def one(v):
            out, _ = self.run([prog, str(n)], self.env(v))
            return float(self.kv(out)["cpu_ns_per_call"])

        res = self.alternate(["bare", "shim"], one, self.rounds)
        r = self.paired(res["shim"], res["bare"])
        self.add("1r", "read + write + syscall(getppid) loop, CPU ns per call", median(res["bare"]),
                 median(res["shim"]), ratio=r, target="<= 1.01x", met=r <= 1.01)
        ni = 20000
        calls = 3
        tb, _ = self.callgrind([prog, str(ni)], self.env("bare"))
        ts, _ = self.callgrind([prog, str(ni)], self.env("shim"))
        tb2, _ = self.callgrind([prog, str(2 * ni)], self.env("bare"))
        ts2, _ = self.callgrind([prog, str(2 * ni)], self.env("shim"))
        self.add("1r", "  user-space instructions per call (callgrind, slope)",
                 (tb2 - tb) / ni / calls, (ts2 - ts) / ni / calls)

    # ---- row 2: threads -------------------------------------------------------------------
    def row2(self):
        n = 30000 if self.quick else 100000
        fdloop = os.path.join(self.bin, "fdloop")
        for threads in (1, 4):
            def one(v, threads=threads):
                out, _ = self.run([fdloop, "open", str(n), str(threads)], self.env(v))
                kv = self.kv(out)
                return float(kv["ops_per_sec"]), float(kv["cpu_ns_per_op"])

            res = self.alternate(["bare", "shim"], one, self.rounds * 2)
            b, s = median([x[0] for x in res["bare"]]), median([x[0] for x in res["shim"]])
            cb, cs = median([x[1] for x in res["bare"]]), median([x[1] for x in res["shim"]])
            r = self.paired([x[0] for x in res["shim"]], [x[0] for x in res["bare"]])
            rc = self.paired([x[1] for x in res["shim"]], [x[1] for x in res["bare"]])
            self.notes.setdefault("2", {})[threads] = (r, rc)
            if threads == 4:
                self.add("2", "4 threads open+close, ops/s (throughput)", b, s, None, r,
                         ">= 0.90x", r >= 0.90)
                self.add("2", "  4 threads, CPU ns/op (all threads)", cb, cs, None, rc)
            else:
                self.add("2", "  1 thread open+close, ops/s (same program)", b, s, None, r)
                self.add("2", "  1 thread, CPU ns/op", cb, cs, None, rc)

    # ---- row 3: redis ---------------------------------------------------------------------
    @staticmethod
    def free_port():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    @staticmethod
    def proc_cpu(pid):
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def start_redis(self, variant):
        port = self.free_port()
        d = self.outdir(f"redis-{variant}")
        cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", d, "--daemonize", "no", "--logfile", "",
               "--loglevel", "warning"]
        p = subprocess.Popen(cmd, env=self.env(variant, d), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as c:
                    c.sendall(b"PING\r\n")
                    if c.recv(16).startswith(b"+PONG"):
                        return p, port, d
            except OSError:
                pass
            if p.poll() is not None:
                raise RuntimeError(f"redis-server ({variant}) exited {p.returncode}")
            time.sleep(0.1)
        p.kill()
        raise RuntimeError(f"redis-server ({variant}) did not answer")

    def row3(self):
        n = 20000 if self.quick else 50000
        servers = {}
        try:
            for v in ("bare", "shim"):
                servers[v] = self.start_redis(v)

            def one(v):
                port = servers[v][1]
                c0 = self.proc_cpu(servers[v][0].pid)
                out, _ = self.run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(port),
                                   "-t", "set,get", "-n", str(n), "-c", "50", "--csv"],
                                  self.env("bare"), timeout=600)
                rps = {}
                for line in out.splitlines():
                    f = [x.strip('"') for x in line.split(",")]
                    if len(f) > 1 and f[0] in ("SET", "GET"):
                        rps[f[0]] = float(f[1])
                rps["cpu_us"] = (self.proc_cpu(servers[v][0].pid) - c0) * 1e6 / (2 * n)
                return rps

            res = self.alternate(["bare", "shim"], one, self.rounds * 2)
            # Connections the shim saw: the server's records at the end show it tracked them.
            for t in ("SET", "GET"):
                b = median([r[t] for r in res["bare"]])
                s = median([r[t] for r in res["shim"]])
                q = self.paired([r[t] for r in res["shim"]], [r[t] for r in res["bare"]])
                self.add("3", f"redis-server {t}, 50 clients, requests/s", b, s, None, q,
                         ">= 0.97x", q >= 0.97)
            b = median([r["cpu_us"] for r in res["bare"]])
            s = median([r["cpu_us"] for r in res["shim"]])
            q = self.paired([r["cpu_us"] for r in res["shim"]], [r["cpu_us"] for r in res["bare"]])
            self.add("3", "  server CPU us per request (SET+GET)", b, s, None, q)
        finally:
            for v, (p, _, _) in servers.items():
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        # Sanity: the server under the shim really recorded the benchmark's connections (its
        # exit dump, written when redis shuts down on SIGTERM, counts them).
        import json
        d = servers["shim"][2]
        dumps = [f for f in os.listdir(d) if f.endswith(".json") or ".json." in f]
        acquired = 0
        for f in dumps:
            try:
                with open(os.path.join(d, f)) as fh:
                    acquired += json.load(fh)["stats"]["acquired"]
            except (OSError, ValueError, KeyError):
                pass
        self.add("3", "  descriptors the shim recorded in the server (exit dump stats)",
                 shim=float(acquired))

    # ---- row 4: process start-up ----------------------------------------------------------
    def row4(self):
        spawn = os.path.join(self.bin, "spawnloop")
        batch = 25 if self.quick else 50
        rounds = 4 if self.quick else 8  # rounds x batch runs per variant (200 / 400)
        d = self.outdir("startup")

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]

        def one(v):
            nofile = 1024 if v.endswith("1024") else None
            if v.startswith("noexit"):
                e = self.env("shim", d, FDLEAK_EXIT=0)
            else:
                e = self.env(v.split("@")[0], d)
            out, _ = self.run([spawn, str(batch), "/bin/true"], e, nofile=nofile)
            return float(self.kv(out)["median_us"]), self.last_cpu * 1e6 / batch

        variants = ["bare", "shim", "noexit"]
        if soft > 1024:
            variants += ["bare@1024", "shim@1024", "noexit@1024"]
        raw = self.alternate(variants, one, rounds)
        res = {v: [x[0] for x in raw[v]] for v in variants}
        cpu = {v: median([x[1] for x in raw[v]]) for v in variants}
        b, s, x = median(res["bare"]), median(res["shim"]), median(res["noexit"])
        self.add("4", f"/bin/true, ms per process ({batch * rounds} runs each, soft "
                 f"RLIMIT_NOFILE {soft})", b / 1000, s / 1000, None, s / b)
        self.add("4", "  added ms per process (shim - bare), exit dump written",
                 ratio=(s - b) / 1000, unit="ms", target="< 1 ms", met=(s - b) / 1000 < 1.0)
        self.add("4", "  added ms per process with FDLEAK_EXIT=0 (start-up alone)",
                 ratio=(x - b) / 1000, unit="ms")
        self.add("4", "  CPU ms per process (spawner + /bin/true)", cpu["bare"] / 1000,
                 cpu["shim"] / 1000, None, cpu["shim"] / cpu["bare"])
        self.add("4", "  CPU ms per process, FDLEAK_EXIT=0", cpu["bare"] / 1000,
                 cpu["noexit"] / 1000, None, cpu["noexit"] / cpu["bare"])
        if soft > 1024:
            b1, s1, x1 = (median(res["bare@1024"]), median(res["shim@1024"]),
                          median(res["noexit@1024"]))
            self.add("4", "  /bin/true at soft RLIMIT_NOFILE 1024, ms per process", b1 / 1000,
                     s1 / 1000, None, s1 / b1)
            self.add("4", "  added ms per process at 1024, exit dump written",
                     ratio=(s1 - b1) / 1000, unit="ms")
            self.add("4", "  added ms per process at 1024, FDLEAK_EXIT=0",
                     ratio=(x1 - b1) / 1000, unit="ms")

        # Probe, no shim: a spawner holding one close-on-exec descriptor near the soft limit
        # (where the shim puts its reserve) against one holding fd 100.
        if soft > 1024:
            hi = min(soft, 1 << 20) - 10

            def hold(v):
                e = self.env("bare", SPAWNLOOP_HOLD_FD=100 if v == "low" else hi)
                out, _ = self.run([spawn, str(batch), "/bin/true"], e)
                return float(self.kv(out)["median_us"])

            hres = self.alternate(["low", "high"], hold, rounds)
            lo_, hi_ = median(hres["low"]), median(hres["high"])
            self.add("4", f"  probe, no shim: spawner holding fd 100 (bare column) vs fd {hi} "
                     f"(shim column), ms per /bin/true", lo_ / 1000, hi_ / 1000, None,
                     (hi_ - lo_) / 1000, unit="ms added")

        # A process-heavy job: make -j2 over recipes that each start a shell and two programs.
        targets = 40 if self.quick else 100
        mk = os.path.join(self.tmp, "spawn.mk")
        with open(mk, "w") as f:
            names = " ".join(f"t{i}" for i in range(targets))
            f.write(f".PHONY: all {names}\nall: {names}\n")
            for i in range(targets):
                f.write(f"t{i}:\n\t@/bin/true && /bin/true $@ > /dev/null\n")
        make = shutil.which("make")

        def job(v):
            _, dt = self.run([make, "-s", "-j2", "-f", mk], self.env(v, self.outdir("make")))
            return dt

        res = self.alternate(["bare", "shim"], job, max(3, self.rounds))
        b, s = median(res["bare"]), median(res["shim"])
        nproc = 1 + targets * 3
        self.add("4", f"make -j2, {targets} recipes (~{nproc} processes), s", b, s, None, s / b)
        self.add("4", "  added ms per process in the make job", ratio=(s - b) / nproc * 1000,
                 unit="ms", target="< 1 ms", met=(s - b) / nproc * 1000 < 1.0)

    # ---- rows 5 and 6: scale --------------------------------------------------------------
    def fdmass(self, variant, n, paths, dump, outdir, **extra):
        fdmass = os.path.join(self.bin, "fdmass")
        cmd = [fdmass, str(n), str(paths)] + (["dump"] if dump else [])
        e = self.env(variant, outdir, **extra)
        p = subprocess.Popen(cmd, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        try:
            out, err = p.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            p.kill()
            raise
        t_end = time.monotonic_ns()
        if p.returncode != 0:
            raise RuntimeError(f"fdmass {n} {paths} ({variant}) exited {p.returncode}: {err}")
        kv = self.kv(out)
        kv["exit_secs"] = (t_end - int(kv["exit_mono_ns"])) / 1e9
        kv["rss_delta_kb"] = int(kv["rss_after_kb"]) - int(kv["rss_before_kb"])
        return kv

    def render(self, path, runs=3):
        ts = []
        for _ in range(runs):
            _, dt = self.run([self.fdleak, "report", path], self.env("bare"), timeout=600,
                             discard=True)
            ts.append(dt)
        return median(ts)

    def dump_file(self, d, trigger):
        files = [f for f in os.listdir(d) if f".{trigger}." in f]
        if not files:
            raise RuntimeError(f"no {trigger} dump in {d}")
        path = os.path.join(d, sorted(files)[-1])
        with open(path, "rb") as f:
            f.seek(-2, os.SEEK_END)
            if f.read() != b"}\n":
                raise RuntimeError(f"{path} is incomplete")
        return path

    def fd_capacity(self, want):
        """How many descriptors fdmass can hold here: the hard RLIMIT_NOFILE caps it unless we
        may raise it (CAP_SYS_RESOURCE), which fs.nr_open caps in turn."""
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        cap_eff = 0
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    cap_eff = int(line.split()[1], 16)
        can_raise = bool(cap_eff & (1 << 24))  # CAP_SYS_RESOURCE
        if can_raise:
            with open("/proc/sys/fs/nr_open") as f:
                hard = max(hard, int(f.read()))
        if hard == resource.RLIM_INFINITY:
            return want, can_raise
        return min(want, hard - 100), can_raise

    def raise_nr_open(self, need):
        """fs.nr_open caps the hard limit: raise it (as root) for the run if too low."""
        try:
            with open("/proc/sys/fs/nr_open") as f:
                cur = int(f.read())
        except OSError:
            return None
        if cur >= need or os.geteuid() != 0:
            return None
        try:
            with open("/proc/sys/fs/nr_open", "w") as f:
                f.write(str(need))
        except OSError:
            return None
        return cur

    def synth_dump(self, src, n, dst):
        """A copy of the real dump `src` with its tracked fds repeated (renumbered) until it
        holds n descriptors: same modules, stacks and record layout, n times the records.
        Used to time `fdleak report` at a scale this machine's RLIMIT_NOFILE does not allow."""
        with open(src) as f:
            text = f.read()
        start = text.index('"fds":[\n') + len('"fds":[\n')
        end = text.index("],\n", start)
        lines = text[start:end].split(",\n")
        tracked = [ln for ln in lines if '"origin":"tracked"' in ln]
        fixed = [ln for ln in lines if '"origin":"tracked"' not in ln]
        first = max(int(re.match(r'\{"fd":(\d+)', ln).group(1)) for ln in fixed) + 1 \
            if fixed else 0
        out = list(fixed)
        rx = re.compile(r'^\{"fd":\d+')
        for i in range(n - len(fixed)):
            out.append(rx.sub('{"fd":%d' % (first + i), tracked[i % len(tracked)], count=1))
        head = re.sub(r'"open_fds":\d+', '"open_fds":%d' % n, text[:start], count=1)
        head = re.sub(r'"limit_nofile":\d+', '"limit_nofile":%d' % (n + 64), head, count=1)
        head = re.sub(r'"limit_nofile_max":\d+', '"limit_nofile_max":%d' % (n + 64), head,
                      count=1)
        with open(dst, "w") as f:
            f.write(head)
            f.write(",\n".join(out))
            f.write(text[end:])
        return dst

    def row5(self):
        want = 200000 if self.quick else 1000000
        old = self.raise_nr_open(want + 1024)
        try:
            n, can_raise = self.fd_capacity(want)
            if n < want:
                self.notes["fd_cap"] = n
                log(f"row 5: RLIMIT_NOFILE allows only {n} fds here (no CAP_SYS_RESOURCE to "
                    f"raise the hard limit): measuring {n}, extrapolating to {want}")
            res = {"bare": [], "shim": []}
            rounds = 1 if self.quick else 3
            keep = None
            for _ in range(rounds):
                for v in ("bare", "shim"):
                    d = self.outdir("row5")
                    # One call path: the per-fd cost without the stacks' own memory.
                    kv = self.fdmass(v, n, 1, v == "shim", d,
                                     **({"FDLEAK_EXIT": 0} if v == "shim" else {}))
                    if v == "shim":
                        path = self.dump_file(d, "signal")
                        kv["render_secs"] = self.render(path, 1)
                        kv["dump_bytes"] = os.path.getsize(path)
                        keep = os.path.join(self.tmp, "row5.json")
                        shutil.move(path, keep)
                    res[v].append(kv)
        finally:
            if old is not None:
                with open("/proc/sys/fs/nr_open", "w") as f:
                    f.write(str(old))
        scale = want / n
        sfx = "" if n == want else f" (measured at {n}, x{scale:.0f})"
        bd = median([r["rss_delta_kb"] for r in res["bare"]])
        sd = median([r["rss_delta_kb"] for r in res["shim"]])
        per_fd = (sd - bd) * 1024 / n
        self.add("5", f"{n} live fds (eventfd+dup, 1 stack): RSS growth, KiB", bd, sd, None,
                 None)
        self.add("5", "  shim bytes per live fd ((shim - bare RSS growth) / fds)",
                 ratio=per_fd, target="<= 64 B", met=per_fd <= 64, unit="B")
        bc = median([float(r["create_secs"]) for r in res["bare"]])
        sc = median([float(r["create_secs"]) for r in res["shim"]])
        self.add("5", f"  time to create the {n} fds, s", bc, sc, None, sc / bc)
        ds = median([float(r["dump_secs"]) for r in res["shim"]])
        rs = median([r["render_secs"] for r in res["shim"]])
        mb = median([r["dump_bytes"] for r in res["shim"]]) / 1e6
        self.add("5", f"  raw dump (on-demand signal) of {n} fds, s ({mb:.1f} MB)", shim=ds)
        self.add("5", f"  fdleak report of that dump, s", shim=rs)
        if n < want:
            self.add("5", f"  raw dump of {want} fds, s (linear extrapolation x{scale:.0f})",
                     shim=ds * scale)
            big = self.synth_dump(keep, want, os.path.join(self.tmp, "row5-big.json"))
            mbb = os.path.getsize(big) / 1e6
            rb = self.render(big, 1)
            os.unlink(big)
            self.add("5", f"  fdleak report of a {want}-fd dump, s (measured: real dump's "
                     f"records repeated, {mbb:.0f} MB)", shim=rb)

        # Bytes per distinct stack: the same number of fds from 1 path vs from all different
        # paths (binary recursion: 2^k stacks of ~k+6 frames), at two sizes: the stack store's
        # hash slots (8 MiB reserved for 1M stacks) are touched at random, so the first
        # thousands of stacks each commit a page of slots; the marginal cost is the record.
        sizes = [1 << 10, 1 << (12 if self.quick else 14)]
        sizes = [m for m in sizes if m <= n]
        delta = {}
        for m in sizes:
            out = {"same": [], "distinct": []}
            for _ in range(1 if self.quick else 3):
                for v, p in (("same", 1), ("distinct", m)):
                    kv = self.fdmass("shim", m, p, False, self.outdir("row5s"), FDLEAK_EXIT=0)
                    out[v].append(kv["rss_delta_kb"])
            delta[m] = (median(out["distinct"]) - median(out["same"])) * 1024
            k = m.bit_length() - 1
            self.add("5", f"  shim bytes per distinct stack, {m} stacks of ~{k + 6} frames "
                     f"(RSS / stacks)", ratio=delta[m] / m, unit="B")
        if len(sizes) == 2:
            lo, hi = sizes
            self.add("5", f"  marginal bytes per distinct stack ({lo} -> {hi} stacks)",
                     ratio=(delta[hi] - delta[lo]) / (hi - lo), unit="B")

    def row6(self):
        want = 100000
        paths = 300
        n, _ = self.fd_capacity(want)
        scale = want / n
        res = {"exit": [], "noexit": []}
        renders, sig = [], []
        rounds = 2 if self.quick else 5
        keep = None
        for _ in range(rounds):
            for v in ("exit", "noexit"):
                d = self.outdir("row6")
                kv = self.fdmass("shim", n, paths, v == "exit", d,
                                 **({"FDLEAK_EXIT": 0} if v == "noexit" else {}))
                res[v].append(kv["exit_secs"])
                if v == "exit":
                    sig.append(float(kv["dump_secs"]))
                    path = self.dump_file(d, "exit")
                    if len(renders) < 3:
                        renders.append(self.render(path, 1))
                    keep = os.path.join(self.tmp, "row6.json")
                    shutil.move(path, keep)
        # Linearity of the dump in the number of descriptors: the same at a quarter of n.
        q = n // 4
        small = []
        for _ in range(3 if not self.quick else 1):
            kv = self.fdmass("shim", q, paths, True, self.outdir("row6q"), FDLEAK_EXIT=0)
            small.append(float(kv["dump_secs"]))
        exit_dump = max(0.0, median(res["exit"]) - median(res["noexit"]))
        sd = median(sig)
        rd = median(renders)
        sq = median(small)

        def linearity():
            self.add("6", f"  raw dump (signal) per descriptor at {q} fds, ns", shim=sq * 1e9 / q)
            self.add("6", f"  raw dump (signal) per descriptor at {n} fds, ns", shim=sd * 1e9 / n)
        if n == want:
            self.add("6", f"{n} leaked fds over {paths} stacks: raw dump (signal), s", shim=sd,
                     target="< 0.2 s", met=sd < 0.2)
            self.add("6", "  raw dump at exit (process end with - without FDLEAK_EXIT), s",
                     shim=exit_dump, target="< 0.2 s", met=exit_dump < 0.2)
            self.add("6", "  fdleak report of the exit dump, s", shim=rd, target="< 1 s",
                     met=rd < 1.0)
            linearity()
            return
        self.add("6", f"{n} leaked fds over {paths} stacks (RLIMIT cap): raw dump (signal), s",
                 shim=sd)
        self.add("6", "  raw dump at exit (process end with - without FDLEAK_EXIT), s",
                 shim=exit_dump)
        self.add("6", "  fdleak report of the exit dump, s", shim=rd)
        linearity()
        self.add("6", f"  raw dump of {want} leaks, s (signal dump x{scale:.1f}, linear)",
                 shim=sd * scale, target="< 0.2 s", met=sd * scale < 0.2)
        rbs = []
        big = self.synth_dump(keep, want, os.path.join(self.tmp, "row6-big.json"))
        for _ in range(3):
            rbs.append(self.render(big, 1))
        rb = median(rbs)
        self.add("6", f"  fdleak report of a {want}-leak dump, s (real dump's records "
                 f"repeated)", shim=rb, target="< 1 s", met=rb < 1.0)

    # ---- output ---------------------------------------------------------------------------
    def table(self):
        head = ["row", "metric", "bare", "shim", "valgrind", "ratio", "target", "met?"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in self.rows:
            ratio = r["ratio"]
            if ratio is None:
                rs = ""
            elif r["unit"]:
                rs = f"{fmt(ratio)} {r['unit']}"
            else:
                rs = f"{ratio:.3f}x"
            met = "" if r["met"] is None else ("yes" if r["met"] else "**no**")
            lines.append("| " + " | ".join([r["row"], r["metric"], fmt(r["bare"]),
                                            fmt(r["shim"]), fmt(r["valgrind"]), rs,
                                            r["target"], met]) + " |")
        return "\n".join(lines)

    def write_results(self, table, started, elapsed):
        path = os.path.join(ROOT, "bench", "RESULTS.md")
        notes_path = os.path.join(ROOT, "bench", "NOTES.md")
        date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
        try:
            commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                    capture_output=True, text=True).stdout.strip()
        except OSError:
            commit = "?"
        cpus = os.cpu_count()
        model = ""
        try:
            with open("/proc/cpuinfo") as f:
                m = re.search(r"model name\s*:\s*(.*)", f.read())
                model = m.group(1) if m else ""
        except OSError:
            pass
        missed = []
        for r in self.rows:
            if r["met"] is False and r["row"] not in [m[0] for m in missed]:
                missed.append((r["row"], r["metric"].strip()))
        notes = ""
        if missed:
            notes = "\n## Targets missed in this run\n\n"
            for row, metric in missed:
                cause = KNOWN_CAUSES.get(row, "")
                n1b = self.notes.get("1b")
                n1 = self.notes.get("1")
                if row in ("1", "2") and n1:
                    cause = (f"callgrind: the shim adds {n1['added']:,.0f} instructions per "
                             f"open+close at its default depth, {n1['unwind']:,.0f} "
                             f"({100 * n1['unwind'] / n1['added']:.0f}%) of them in libunwind's "
                             f"unw_backtrace; the fd table, interning, clock and wrappers are "
                             f"the other {n1['added'] - n1['unwind']:,.0f}. " + cause)
                pr = self.notes.get("probe", {}).get(16)
                if row == "1" and pr:
                    cause += (f" Probe at 16 frames: unw_backtrace {pr[0]:.0f} ns per capture; "
                              f"verified reuse {pr[1]:.0f} ns when the call site repeats, "
                              f"{pr[3]:.0f} ns when it does not (slots found by a stack scan; "
                              f"{pr[2] / 1000:.1f} us with unw_step).")
                n2 = self.notes.get("2")
                if row == "2" and n2 and 1 in n2 and 4 in n2:
                    cause = (f"throughput ratio 1 thread {n2[1][0]:.3f}, 4 threads "
                             f"{n2[4][0]:.3f}; CPU per operation 1 thread {n2[1][1]:.3f}x, "
                             f"4 threads {n2[4][1]:.3f}x. " + cause)
                if row == "1b" and n1b and n1b["added"] > 0 and \
                        n1b["lineno"] < 0.3 * n1b["added"]:
                    cause = (f"in this run the shim adds {100 * (n1b['instr'] - 1):.1f}% "
                             f"instructions ({100 * (n1b['instr_nopy'] - 1):.1f}% with "
                             f"FDLEAK_PYTHON=0): per iteration {n1b['added']:,.0f}, of which "
                             f"{n1b['unwind']:,.0f} unwinding C stacks through the interpreter "
                             f"(the row-1 cost) and {n1b['audit']:,.0f} in CPython's audit "
                             f"calls with the shim's hook and Python stack capture; the CPU "
                             f"ratio is higher than the instruction ratio because of added "
                             f"I-cache and D-cache misses (callgrind cache simulation: +13% "
                             f"and +12%, bench/NOTES.md). The CPU ratio also moves by "
                             f"several points between runs on the shared VM; the "
                             f"instruction ratio does not.")
                notes += f"- Row {row} ({metric}): {cause or 'no cause established yet.'}\n"
        text = (f"# `make bench` results\n\n"
                f"Last full run: {date} (UTC), commit {commit}, {cpus} vCPU VM ({model}), "
                f"kernel {platform.release()}, {platform.libc_ver()[0]} "
                f"{platform.libc_ver()[1]}; {self.rounds} alternating rounds per row "
                f"({2 * self.rounds} for rows 1, 2, 3; {self.rounds + 2} for 1b), medians; run took {elapsed / 60:.1f} min. The machine was shared "
                f"with other work, so absolute times are noisy: compare the ratios, and the "
                f"callgrind instruction counts, which do not depend on the load.\n\n"
                f"Regenerate with `make bench` (rewrites this file). bench/README.md says what "
                f"each row measures; bench/NOTES.md has the analysis of missed targets.\n\n"
                f"{table}\n{notes}")
        with open(path, "w") as f:
            f.write(text)
        log(f"wrote {path}" + (f" (analysis: {notes_path})" if os.path.exists(notes_path) else ""))


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


ALL_ROWS = ["1", "1b", "1s", "1r", "2", "3", "4", "5", "6"]

# Causes found for targets missed on the project's VM (details and numbers: bench/NOTES.md).
# RESULTS.md quotes the one for each row that misses its target in the run being written.
KNOWN_CAUSES = {
    "1": "libunwind costs ~75 instructions a frame plus ~280 a capture. Meeting 1.10x needs a "
         "cheaper unwind, not tuning of the rest: e.g. reusing the previous capture from the "
         "same call site when the return-address slots it read still hold the same values "
         "(bench/proto_capture.c; see the probe rows).",
    "1b": "CPython's PyFrame_GetLineNumber, called by the shim's Python stack capture for "
          "every frame of every open/socket audit event, is ~70% of the instructions the shim "
          "adds (~4,000 instructions a frame: CPython 3.11 rescans the code object's line "
          "table from the start). With FDLEAK_PYTHON=0 the shim adds 2% instructions. A cache "
          "of (code object, PyFrame_GetLasti) -> line in the shim would remove most of it.",
    "2": "Contention would show as a 4-thread CPU-per-operation ratio above the 1-thread one "
         "(spinning) or a throughput ratio well below it with the same CPU (blocking); "
         "strace -f -c shows no futex per operation. What is left is row 1's "
         "per-acquisition cost.",
    "3": "Noise on the shared VM unless the server CPU per request (sub-row) also rises.",
    "4": "Check whether it depends on the soft RLIMIT_NOFILE (the 1024 sub-rows): a dump "
         "that polls every descriptor number below the limit (8 us per 1024) or private "
         "descriptors near the limit (the kernel's fd table grows to it; see the probe "
         "sub-row) did, before shim commit 3b37b67.",
    "5": "The stack store's hash slots (2M x 8 B = 16 MiB reserved) are indexed by hash, so "
         "each of the first few thousand distinct stacks commits its own 4 KiB page.",
    "6": "",
}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--quick", action="store_true", help="fewer rounds and iterations")
    ap.add_argument("--rows", default=",".join(ALL_ROWS), help="comma-separated rows to run")
    ap.add_argument("--rounds", type=int, default=0, help="alternating rounds per row")
    ap.add_argument("--write", action="store_true",
                    help="rewrite bench/RESULTS.md (default for a full run of all rows)")
    ap.add_argument("--no-write", action="store_true", help="never rewrite bench/RESULTS.md")
    args = ap.parse_args()
    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    for r in rows:
        if r not in ALL_ROWS:
            ap.error(f"unknown row {r} (rows: {', '.join(ALL_ROWS)})")
    b = Bench(args)
    for f in (b.lib, b.fdleak, os.path.join(b.bin, "fdloop")):
        if not os.path.exists(f):
            sys.exit(f"bench: {f} is missing: run `make bench` (or make all bench-progs)")
    for tool in ("valgrind", "redis-server", "redis-benchmark"):
        if not shutil.which(tool):
            sys.exit(f"bench: {tool} is missing: run scripts/deps.sh bench")
    for attr in ("lib", "fdleak"):
        src = getattr(b, attr)
        dst = os.path.join(b.tmp, os.path.basename(src))
        shutil.copy2(src, dst)
        setattr(b, attr, dst)
    started = time.monotonic()
    log(f"rows {','.join(rows)}, {'quick' if args.quick else 'full'} mode, "
        f"{b.rounds} rounds, scratch {b.tmp}")
    old_int = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks
    try:
        for r in rows:
            getattr(b, "row" + r)()
    finally:
        signal.signal(signal.SIGTERM, old_int)
        shutil.rmtree(b.tmp, ignore_errors=True)
    elapsed = time.monotonic() - started
    table = b.table()
    print()
    print(table)
    print()
    print(f"({'quick' if args.quick else 'full'} run, {elapsed / 60:.1f} min; ratio = shim/bare "
          f"unless the row says otherwise; rows 1-3: median over rounds of the ratio within a "
          f"round; bare/shim/valgrind columns: medians)")
    full = not args.quick and rows == ALL_ROWS
    if not args.no_write and (args.write or full):
        b.write_results(table, started, elapsed)


if __name__ == "__main__":
    main()
