"""Shared by rows 5 and 6: running bench/fdmass.c, rendering its dumps with `fdleak report`,
finding how many descriptors this machine allows (and raising fs.nr_open for the run as root),
and making a dump of a size the machine does not allow from a real one."""
import os
import re
import resource
import subprocess
import time

from harness import median


def fdmass(h, variant, n, paths, dump, outdir, **extra):
    fdmass = os.path.join(h.bin, "fdmass")
    cmd = [fdmass, str(n), str(paths)] + (["dump"] if dump else [])
    e = h.env(variant, outdir, **extra)
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
    kv = h.kv(out)
    kv["exit_secs"] = (t_end - int(kv["exit_mono_ns"])) / 1e9
    kv["rss_delta_kb"] = int(kv["rss_after_kb"]) - int(kv["rss_before_kb"])
    return kv


def render(h, path, runs=3):
    ts = []
    for _ in range(runs):
        _, dt = h.run([h.fdleak, "report", path], h.env("bare"), timeout=600,
                      discard=True)
        ts.append(dt)
    return median(ts)


def dump_file(h, d, trigger):
    files = [f for f in os.listdir(d) if f".{trigger}." in f]
    if not files:
        raise RuntimeError(f"no {trigger} dump in {d}")
    path = os.path.join(d, sorted(files)[-1])
    with open(path, "rb") as f:
        f.seek(-2, os.SEEK_END)
        if f.read() != b"}\n":
            raise RuntimeError(f"{path} is incomplete")
    return path


def fd_capacity(h, want):
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


def raise_nr_open(h, need):
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


def synth_dump(h, src, n, dst):
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
