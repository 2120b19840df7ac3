"""os.pipe() leaked: the Python line, and os.pipe's C function (os_pipe_impl) below it."""
import os


def make():
    return os.pipe()  # LEAK


kept = make()
