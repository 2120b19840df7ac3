"""False positives and kinds in Python (issue 8). Usage: fp_cases.py MODE PATH
fork: opens PATH, os.fork()s; the child opens PATH and os._exit()s. Prints `parent pid P`,
  `both open A`, `child pid C`, `child open D`.
ctypes: opens PATH through ctypes.CDLL("libc.so.6").open (`leak ctypes N`).
kinds: tempfile.TemporaryFile (`tmpfile open N`), os.openpty (`pty openpty M S`), then
  os.set_inheritable(S, True); a pipe (`pipe pipe R W`) and os.dup(R) (`dup fcntl N`); then
  `fdflags FD 0|1` for each of those.
dup2: os.dup2()s a file onto fd 1 (`stdio fd 1`): nothing leaks."""
import ctypes
import fcntl
import os
import sys
import tempfile


def flags(*fds):
    for fd in fds:
        print("fdflags", fd, 1 if fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC else 0)


def main():
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "fork":
        a = os.open(path, os.O_RDONLY)
        print("parent pid", os.getpid())
        print("both open", a)
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            d = os.open(path, os.O_RDONLY)
            print("child pid", os.getpid())
            print("child open", d)
            sys.stdout.flush()
            os._exit(0)
        _, st = os.waitpid(pid, 0)
        assert os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0
    elif mode == "ctypes":
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        fd = libc.open(path.encode(), os.O_RDONLY)
        assert fd >= 0
        print("leak ctypes", fd)
    elif mode == "kinds":
        t = tempfile.TemporaryFile()
        print("tmpfile open", t.fileno())
        m, s = os.openpty()
        print("pty openpty", m, s)
        os.set_inheritable(s, True)
        r, w = os.pipe()
        print("pipe pipe", r, w)
        d = os.dup(r)
        print("dup fcntl", d)
        flags(m, s, r, w, d)
        sys.stdout.flush()
        os._exit(0)  # keep the TemporaryFile open for the exit dump
    elif mode == "dup2":
        print("stdio fd 1")
        sys.stdout.flush()
        fd = os.open(path, os.O_WRONLY)
        os.dup2(fd, 1)
        os.close(fd)


main()
