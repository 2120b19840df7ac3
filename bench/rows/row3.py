"""Row 3: redis-server, one bare and one under the library, both up for the whole row;
redis-benchmark SET and GET against each in turn; the server's CPU per request; and the
descriptors the library recorded in the server (its exit dump)."""
import json
import os
import socket
import subprocess
import time

from harness import median


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cpu(pid):
    """CPU seconds (user + system) a process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_redis(h, variant):
    port = free_port()
    d = h.outdir(f"redis-{variant}")
    cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
           "--appendonly", "no", "--dir", d, "--daemonize", "no", "--logfile", "",
           "--loglevel", "warning"]
    p = subprocess.Popen(cmd, env=h.env(variant, d), stdout=subprocess.DEVNULL,
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


def run(h):
    n = 20000 if h.quick else 50000
    servers = {}
    try:
        for v in ("bare", "shim"):
            servers[v] = start_redis(h, v)

        def one(v):
            port = servers[v][1]
            c0 = proc_cpu(servers[v][0].pid)
            out, _ = h.run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(port),
                            "-t", "set,get", "-n", str(n), "-c", "50", "--csv"],
                           h.env("bare"), timeout=600)
            rps = {}
            for line in out.splitlines():
                f = [x.strip('"') for x in line.split(",")]
                if len(f) > 1 and f[0] in ("SET", "GET"):
                    rps[f[0]] = float(f[1])
            rps["cpu_us"] = (proc_cpu(servers[v][0].pid) - c0) * 1e6 / (2 * n)
            return rps

        res = h.alternate(["bare", "shim"], one, h.rounds * 2)
        # Connections the shim saw: the server's records at the end show it tracked them.
        for t in ("SET", "GET"):
            b = median([r[t] for r in res["bare"]])
            s = median([r[t] for r in res["shim"]])
            q = h.paired([r[t] for r in res["shim"]], [r[t] for r in res["bare"]])
            h.add("3", f"redis-server {t}, 50 clients, requests/s", b, s, None, q,
                  ">= 0.97x", q >= 0.97)
        b = median([r["cpu_us"] for r in res["bare"]])
        s = median([r["cpu_us"] for r in res["shim"]])
        q = h.paired([r["cpu_us"] for r in res["shim"]], [r["cpu_us"] for r in res["bare"]])
        h.add("3", "  server CPU us per request (SET+GET)", b, s, None, q)
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
    d = servers["shim"][2]
    dumps = [f for f in os.listdir(d) if f.endswith(".json") or ".json." in f]
    acquired = 0
    for f in dumps:
        try:
            with open(os.path.join(d, f)) as fh:
                acquired += json.load(fh)["stats"]["acquired"]
        except (OSError, ValueError, KeyError):
            pass
    h.add("3", "  descriptors the shim recorded in the server (exit dump stats)",
          shim=float(acquired))
