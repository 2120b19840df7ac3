leaked = open(__file__)  # line 1: the script's very first statement leaks a file
"""Leaks a file from its first line, before any import: its Python stack must still be
recorded, under -X dev and PYTHONMALLOC=debug too (tests/test_host_signals.py)."""


def main():
    print("leak file", leaked.fileno())


main()
