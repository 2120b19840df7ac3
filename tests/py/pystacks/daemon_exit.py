"""Daemon threads acquiring and releasing descriptors while the interpreter finalizes: their
thread states are freed under them (tests/test_python_stacks.py)."""
import os
import sys
import threading
import time


def churn():
    while True:
        r, w = os.pipe()
        os.close(r)
        os.close(w)
        with open(sys.argv[0]) as f:
            f.read(1)


for _ in range(3):
    threading.Thread(target=churn, daemon=True).start()
time.sleep(0.05)
