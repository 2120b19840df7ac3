#!/usr/bin/python3
"""Seeds for the dump reader's fuzzing corpus: real dumps written by libfdleak.so for fixtures
(tests/cases) and a Python script, plus hand-made corner cases (the shapes tests/
test_dump_reader.py checks one by one). Each seed is named by the SHA-1 of its bytes, as
libFuzzer names corpus files. Dumps over 64 KiB are left out (the fuzzer's -max_len).

    tests/fuzz/seeds.py --build build tests/fuzz/corpus
"""
import argparse
import glob
import hashlib
import json
import os
import shutil
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAX_LEN = 65536

# fixture, arguments (DIR is a directory holding readable files f and g)
RUNS = [
    ("simple", ["leak"]), ("simple", ["closestd"]), ("dups", ["DIR"]), ("sockets", ["DIR"]),
    ("special", ["DIR"]), ("stdio_family", ["DIR"]), ("open_family", ["DIR"]),
    ("paths", ["DIR/f", "DIR/g"]), ("callers", []), ("fdnumbers", []), ("emfile", ["die"]),
    ("threshold", []), ("fatal", ["SEGV"]), ("forkcase", []), ("unknown", ["DIR/f"]),
]


def corner_cases():
    base = {
        "format": "fdleak-dump", "version": 1, "pid": 7, "ppid": 1, "exe": "/x", "cmdline": [],
        "seq": 1, "trigger": "exit",
        "modules": [{"path": "/x", "base": "0x1000", "start": "0x1000", "end": "0x9000",
                     "build_id": "abcd"}, {"path": "[vdso]", "base": "0x0", "start": "0xa000",
                                           "end": "0xb000", "build_id": ""}],
        "stacks": [{"id": 1, "ips": ["0x1234", "0xa001", "0x0"]}, {"id": 2, "ips": []}],
        "pystacks": [{"id": 1, "frames": [{"file": "a.py", "function": "f", "line": 3}]}],
        "fds": [{"fd": 0, "origin": "inherited"}, {"fd": 3, "origin": "tracked", "call": "open",
                                                   "kind": "file", "stack": 1, "pystack": 1},
                {"fd": 2147483647, "origin": "unknown", "stack": 99}],
        "stats": {"acquired": 3},
    }
    text = json.dumps(base) + "\n"
    big = "1" + "0" * 30
    yield text
    yield text.replace('"pid": 7', '"pid": 7, "pid": 8', 1)
    yield text.replace('"fd": 3', '"fd": -3', 1)
    yield text.replace('"fd": 3', '"fd": 1099511627783', 1)
    yield text.replace('"fd": 3', '"fd": 18446744073709551615', 1)
    yield text.replace('"pid": 7', '"future": -%s, "pid": 7' % big, 1)
    yield text.replace('"pid": 7', '"future": [%s, %s.5, "\\u0000"], "pid": 7' % (big, big), 1)
    yield text.replace('"0x1234"', '"0xzz"', 1)
    yield text.replace('"id": 2', '"id": 1', 1)
    yield text.replace('"fds": [', '"fds": [{"fd": 3}, ', 1)
    yield text.replace('"stats": {', '"stats": [', 1)
    yield text.replace('"version": 1', '"version": 2', 1)
    yield text[:len(text) // 2]
    yield '{"format": "fdleak-dump", "version": 1, "pid": 1, "modules": [], "stacks": [], ' \
          '"fds": []}\n'


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("corpus")
    a = ap.parse_args()
    build = os.path.join(ROOT, a.build)
    os.makedirs(a.corpus, exist_ok=True)
    seeds = list(corner_cases())
    work = tempfile.mkdtemp(prefix="fdleak-seeds-")
    try:
        for f in ("f", "g"):
            open(os.path.join(work, f), "w").write("x\n")
        env = dict(os.environ, LD_PRELOAD=os.path.join(build, "libfdleak.so"),
                   FDLEAK_OUTPUT=os.path.join(work, "out", "d.%p.%n.json"))
        os.makedirs(os.path.join(work, "out"))
        runs = [([os.path.join(build, "tests", n)] + [x.replace("DIR", work) for x in args])
                for n, args in RUNS]
        runs.append(["/usr/bin/python3", os.path.join(ROOT, "tests", "py", "leak_file_socket.py")])
        for argv in runs:
            if os.path.exists(argv[0]):
                subprocess.run(argv, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60,
                               cwd=work)
        for p in sorted(glob.glob(os.path.join(work, "out", "*.json"))):
            seeds.append(open(p, encoding="latin-1").read())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    n = 0
    for s in seeds:
        data = s.encode("latin-1", "replace")
        if len(data) > MAX_LEN:
            continue
        name = hashlib.sha1(data).hexdigest()
        with open(os.path.join(a.corpus, name), "wb") as f:
            f.write(data)
        n += 1
    print("seeds.py: %d seeds in %s" % (n, a.corpus))


if __name__ == "__main__":
    main()
