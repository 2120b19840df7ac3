"""Control: every call of the leak corpus, each result released; nothing may be reported."""
import mmap
import multiprocessing
import os
import select
import socket
import sqlite3
import subprocess
import sys

work = sys.argv[1]
r, w = os.pipe()
os.close(r)
os.close(w)
os.close(os.dup(1))
if hasattr(os, "eventfd"):  # 3.10+
    os.close(os.eventfd(0))
m, s = os.openpty()
os.close(m)
os.close(s)
select.epoll().close()
path = os.path.join(work, "data")
with open(path, "wb") as f:
    f.write(b"x" * 4096)
with open(path, "r+b") as f:
    mm = mmap.mmap(f.fileno(), 0)
    mm.close()
p = subprocess.Popen(["true"], stdout=subprocess.PIPE)
p.communicate()
a, b = multiprocessing.Pipe()
a.close()
b.close()
conn = sqlite3.connect(os.path.join(work, "db"))
conn.execute("create table if not exists t (x)")
conn.close()
for _ in range(2):
    x, y = socket.socketpair()
    x.close()
    y.close()
