#!/usr/bin/python3
"""`make bench`: fdleak's overhead measured side by side with bare runs and valgrind.

Every row runs its variants alternately in one invocation (bare, shim, valgrind, rotated each
round) and reports medians and ratios: absolute times on a shared 2-vCPU machine are noise,
the ratios are what carry over. Prints a table and (full runs) rewrites bench/RESULTS.md.

    /usr/bin/python3 bench/run.py --build build [--quick] [--rows 1,1b,2,3,4,5,6] [--write]

The row `probe` (bench/probes/, `make bench-probes`) is a design probe, not the library, and
is not among the default rows. This file only chooses the rows and runs them: bench/harness.py
runs and times programs, bench/rows/ holds one module per row, bench/results.py the table
and RESULTS.md.
"""
import argparse
import importlib
import os
import shutil
import signal
import sys
import time

from harness import Harness, log
from results import table, write_results

ALL_ROWS = ["1", "1b", "1v", "1s", "1r", "2", "3", "4", "5", "6"]
EXTRA_ROWS = ["probe"]


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--quick", action="store_true", help="fewer rounds and iterations")
    ap.add_argument("--rows", default=",".join(ALL_ROWS),
                    help="comma-separated rows to run (also: %s)" % ", ".join(EXTRA_ROWS))
    ap.add_argument("--rounds", type=int, default=0, help="alternating rounds per row")
    ap.add_argument("--write", action="store_true",
                    help="rewrite bench/RESULTS.md (default for a full run of all rows)")
    ap.add_argument("--no-write", action="store_true", help="never rewrite bench/RESULTS.md")
    args = ap.parse_args()
    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    for r in rows:
        if r not in ALL_ROWS + EXTRA_ROWS:
            ap.error(f"unknown row {r} (rows: {', '.join(ALL_ROWS + EXTRA_ROWS)})")
    h = Harness(args.build, args.quick, args.rounds)
    for f in (h.lib, h.fdleak, os.path.join(h.bin, "fdloop")):
        if not os.path.exists(f):
            sys.exit(f"bench: {f} is missing: run `make bench` (or make all bench-progs)")
    for tool in ("valgrind", "redis-server", "redis-benchmark"):
        if not shutil.which(tool):
            sys.exit(f"bench: {tool} is missing: run scripts/deps.sh bench")
    modules = {r: importlib.import_module("rows.row" + r if r in ALL_ROWS else "rows." + r)
               for r in rows}
    h.freeze()
    started = time.monotonic()
    log(f"rows {','.join(rows)}, {'quick' if args.quick else 'full'} mode, "
        f"{h.rounds} rounds, scratch {h.tmp}")
    old_term = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks
    try:
        for r in rows:
            modules[r].run(h)
    finally:
        signal.signal(signal.SIGTERM, old_term)
        h.cleanup()
    elapsed = time.monotonic() - started
    text = table(h)
    print()
    print(text)
    print()
    print(f"({'quick' if args.quick else 'full'} run, {elapsed / 60:.1f} min; ratio = shim/bare "
          f"unless the row says otherwise; rows 1-3: median over rounds of the ratio within a "
          f"round; bare/shim/valgrind columns: medians)")
    full = not args.quick and rows == ALL_ROWS
    if not args.no_write and (args.write or full):
        write_results(h, text, elapsed)


if __name__ == "__main__":
    main()
