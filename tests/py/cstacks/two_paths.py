"""One Python line making the same call (open64) through two native paths, os.open and libc's
open64 through ctypes: each acquisition keeps its own C stack (tests/test_python_stacks.py)."""
import ctypes
import os
import sys

libc = ctypes.CDLL(None)  # the global scope: our open64 (also where dlsym is not interposed)
name = sys.argv[1]
calls = [lambda: os.open(name, os.O_RDONLY), lambda: libc.open64(name.encode(), os.O_RDONLY)]  # LEAK
kept = []
for i in range(4):
    kept.append(calls[i % 2]())
