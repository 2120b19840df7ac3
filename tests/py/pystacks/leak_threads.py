"""Leaks from threads, a generator and a coroutine (tests/test_python_stacks.py)."""
import os, threading, asyncio

def worker(out):
    out.append(os.pipe())  # LEAK

def gen():
    yield open(__file__)  # LEAK

async def coro():
    await asyncio.sleep(0)
    return os.pipe()  # LEAK

out = []
ts = [threading.Thread(target=worker, args=(out,)) for _ in range(4)]
for t in ts: t.start()
for t in ts: t.join()
g = next(gen())
e = asyncio.run(coro())
