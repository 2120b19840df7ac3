"""Row 1b of `make bench`: a mixed Python workload, as users run it. Each iteration does some
ordinary computation (a JSON round trip of a small record, a SHA-256 of 4 KiB) and some
descriptor traffic: opens, reads and closes a small file, creates and closes a TCP socket,
and every 8th iteration a loopback socketpair and a temporary file write.

    python3 mixed.py ITERATIONS WORKDIR

Prints `iterations=N secs=S` (S = the loop alone; the caller times the whole process)."""
import hashlib
import json
import os
import socket
import sys
import time


def main():
    n = int(sys.argv[1])
    work = sys.argv[2]
    data_path = os.path.join(work, "mixed-data.json")
    record = {"id": 0, "name": "widget", "tags": ["a", "b", "c"], "price": 12.5,
              "stock": {"warehouse": 17, "shop": 3}, "active": True}
    with open(data_path, "w") as f:
        json.dump(record, f)
    blob = bytes(range(256)) * 16
    digest = hashlib.sha256()
    t0 = time.monotonic()
    total = 0
    for i in range(n):
        record["id"] = i
        text = json.dumps(record, sort_keys=True)
        total += len(json.loads(text)["tags"])
        digest.update(blob)
        digest.update(text.encode())
        with open(data_path) as f:
            total += len(f.read())
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.close()
        if i % 8 == 0:
            a, b = socket.socketpair()
            a.sendall(b"ping")
            total += len(b.recv(16))
            a.close()
            b.close()
            tmp = os.path.join(work, "mixed-tmp.txt")
            with open(tmp, "w") as f:
                f.write(text)
            os.unlink(tmp)
    secs = time.monotonic() - t0
    print(f"iterations={n} secs={secs:.6f} total={total} digest={digest.hexdigest()[:12]}")


if __name__ == "__main__":
    main()
