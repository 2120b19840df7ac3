#!/usr/bin/python3
"""Memory probe of `make bench`: peak RSS of `fdleak report` over N dumps of one program.

Symbolization used to keep one libdwfl context (with libc's debug info, when libc6-dbg is
installed) per dump: 100 dumps took 1.6 GB. tools/symbolize.c now shares opened modules across
dumps; the target is 1,000 dumps of one program under 500 MB. The dumps are written by a
leaking fixture (tests/cases/simple.c, whose leak is an open() in libc) run under the library
a few times (each run has its own ASLR load addresses), then copied with distinct pids up to N.
Peak RSS and wall time come from /usr/bin/time -v.

    /usr/bin/python3 bench/report_memory.py --build build [--dumps 1000] [--fdleak PATH]...
"""
import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET_MB = 500


def make_dumps(build, d, n, distinct):
    env = dict(os.environ, LD_PRELOAD=os.path.join(build, "libfdleak.so"),
               FDLEAK_OUTPUT=os.path.join(d, "run.%p.%n.json"))
    for _ in range(distinct):
        subprocess.run([os.path.join(build, "tests", "simple"), "leak"], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    runs = sorted(glob.glob(os.path.join(d, "run.*.json")))
    if not runs:
        sys.exit("report_memory.py: the fixture wrote no dump")
    texts = [json.load(open(p)) for p in runs]
    for p in runs:
        os.unlink(p)
    for i in range(n):
        dump = texts[i % len(texts)]
        dump["pid"] = 100000 + i
        with open(os.path.join(d, "fdleak.%d.1.json" % (100000 + i)), "w") as f:
            json.dump(dump, f)
            f.write("\n")


def measure(fdleak, d):
    files = sorted(glob.glob(os.path.join(d, "fdleak.*.json")))
    r = subprocess.run(["/usr/bin/time", "-v", fdleak, "report"] + files,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=1800)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr)
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", r.stderr)
    if r.returncode != 0 or not rss or not wall:
        sys.exit("report_memory.py: %s failed (%d):\n%s" % (fdleak, r.returncode, r.stderr[-2000:]))
    h, m, s = wall.groups()
    return int(rss.group(1)) / 1024, (int(h or 0) * 60 + int(m)) * 60 + float(s)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--dumps", type=int, default=1000)
    ap.add_argument("--distinct", type=int, default=10, help="runs of the fixture")
    ap.add_argument("--quick", action="store_true", help="200 dumps")
    ap.add_argument("--fdleak", action="append", help="command(s) to measure (default: BUILD's)")
    a = ap.parse_args()
    build = os.path.abspath(os.path.join(ROOT, a.build))
    n = 200 if a.quick else a.dumps
    d = tempfile.mkdtemp(prefix="fdleak-bench-mem-")
    try:
        make_dumps(build, d, n, a.distinct)
        met = True
        for fdleak in a.fdleak or [os.path.join(build, "fdleak")]:
            mb, secs = measure(fdleak, d)
            limit = TARGET_MB  # for 1,000 dumps; fewer must fit too
            met = met and mb < limit
            print("memory: fdleak report of %d dumps of one program: peak RSS %.0f MB "
                  "(target < %.0f MB: %s), %.1f s  [%s]"
                  % (n, mb, limit, "met" if mb < limit else "NOT met", secs, fdleak))
        return 0 if met else 1
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
