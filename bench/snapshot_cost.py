#!/usr/bin/python3
"""What `fdleak snapshot` and `fdleak watch` cost (issue 10), beside `make bench`'s rows:

  - one snapshot of a process holding N descriptors (default 19,900: the hard RLIMIT_NOFILE of
    the project's VM is 20,000): wall time of `fdleak snapshot`, the target's own CPU for the
    dump (utime+stime from /proc/PID/stat, before and after), and the command's CPU;
  - `fdleak watch` over the same process: the command's CPU per snapshot, and as a share of
    one core at the default --interval=10.

The target is Python holding N os.open() descriptors under libfdleak.so (each with a Python
stack). Medians of --rounds runs. Standalone for now (bench/ is being reorganised into row
files); `make bench` runs it after bench/run.py.

    /usr/bin/python3 bench/snapshot_cost.py [--build build] [--fds 19900] [--rounds 7] [--quick]
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

HOLDER = r"""
import os, sys
fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(int(sys.argv[1]))]
print("ready", len(fds), flush=True)
sys.stdin.read()
"""


def cpu_of(pid):
    """utime + stime of pid in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        w = f.read().rsplit(")", 1)[1].split()
    return (int(w[11]) + int(w[12])) / os.sysconf("SC_CLK_TCK")


def timed(cmd, env):
    """(wall seconds, CPU seconds of the command, result) for one run of cmd."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    out, err = p.stdout.read(), p.stderr.read()
    p.stdout.close()
    p.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError("%s failed: %s" % (" ".join(cmd), err.decode(errors="replace")))
    return wall, ru.ru_utime + ru.ru_stime, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--fds", type=int, default=19900)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    if a.quick:
        a.rounds = 3
    tool = os.path.abspath(os.path.join(a.build, "fdleak"))
    lib = os.path.abspath(os.path.join(a.build, "libfdleak.so"))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    n = min(a.fds, hard - 100)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FDLEAK_")}
    env.pop("LD_PRELOAD", None)
    tenv = dict(env, LD_PRELOAD=lib, FDLEAK_EXIT="0")  # no 19,900-line report at the end
    os.makedirs("/tmp/fdleak-%d" % os.getuid(), mode=0o700, exist_ok=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(n)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        env=tenv, preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard)))
    try:
        line = holder.stdout.readline().decode()
        if not line.startswith("ready"):
            raise RuntimeError("holder did not start: %r" % line)
        pid = holder.pid
        walls, target, own = [], [], []
        for _ in range(a.rounds):
            before = cpu_of(pid)
            wall, cpu, _ = timed([tool, "snapshot", "-o", "/dev/null", str(pid)], env)
            walls.append(wall)
            own.append(cpu)
            target.append(cpu_of(pid) - before)
        count = 3 if a.quick else 5
        before = cpu_of(pid)
        wwall, wcpu, _ = timed([tool, "watch", "--interval=1", "--count=%d" % count,
                                "-o", "/dev/null", str(pid)], env)
        wtarget = cpu_of(pid) - before
    finally:
        holder.stdin.close()
        holder.wait(timeout=120)
    med = statistics.median
    print("snapshot cost, target holding %d descriptors (%d rounds, medians):" % (n, a.rounds))
    print("  fdleak snapshot: %.3f s wall, %.3f s CPU of the command" % (med(walls), med(own)))
    print("  the target's CPU for one dump: %.3f s" % med(target))
    print("  fdleak watch --interval=1 --count=%d: %.3f s CPU of the command in %.1f s "
          "(%.3f s per snapshot; %.2f%% of a core at --interval=10), target %.3f s per dump"
          % (count, wcpu, wwall, wcpu / count, 100 * wcpu / count / 10, wtarget / count))


if __name__ == "__main__":
    main()
