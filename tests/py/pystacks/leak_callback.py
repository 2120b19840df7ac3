"""Leaks from Python called back by C (map, sorted's key, a __del__-free class's __init__
through type.__call__): on 3.12+ each C call into Python adds an entry frame owned by the C
stack, which the walk steps over to reach the script's outer lines."""
import os


def opener(_):
    return os.pipe()  # LEAK


class Holder:
    def __init__(self):
        self.fd = os.dup(1)  # LEAK


def main():
    a = list(map(opener, [0]))
    b = sorted([1], key=lambda x: os.pipe() and x)  # LEAK
    return a, b, Holder()


kept = main()
