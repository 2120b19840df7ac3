"""A descriptor opened in a function, closed, then closed again: the misuse event names its
own Python line and the acquisition's, each with its C frames."""
import os
import sys


def acquire(path):
    return os.open(path, os.O_RDONLY)  # LEAK


fd = acquire(sys.argv[1])
os.close(fd)
try:
    os.close(fd)  # MISUSE
except OSError:
    pass
