"""Runs children through subprocess (vfork in _posixsubprocess), with and without pipes, then
leaks one descriptor. Usage: subproc.py PATH"""
import os
import subprocess
import sys


def main():
    subprocess.run(["/bin/true"], check=True, timeout=30)
    out = subprocess.check_output(["/bin/echo", "hi"], timeout=30)
    print("echo", out.decode().strip())
    p = subprocess.Popen(["/bin/cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    got, _ = p.communicate(b"x", timeout=30)
    assert got == b"x" and p.returncode == 0
    fd = os.open(sys.argv[1], os.O_RDONLY)
    print("pid", os.getpid())
    print("leak open", fd)
    sys.stdout.flush()


main()
