"""Leaks a file descriptor (os.open) and a socket (detached) that nothing will close, then
exits normally. Usage: leak_file_socket.py PATH"""
import os
import socket
import sys


def open_leak(path):
    return os.open(path, os.O_RDONLY)


def open_twice(path):
    first = os.open(path, os.O_RDONLY)  # line-a
    second = os.open(path, os.O_RDONLY)  # line-b
    return first, second


def sock_leak():
    return socket.socket(socket.AF_INET, socket.SOCK_STREAM).detach()


def main():
    fd = open_leak(sys.argv[1])
    sfd = sock_leak()
    with open(sys.argv[1]) as fh:  # opened and closed: not a leak
        fh.read()
    for _ in range(3):  # the same two lines again: cached line numbers must stay right
        a, b = open_twice(sys.argv[1])
        print("leak twice", a, "line-a")
        print("leak twice", b, "line-b")
    print("pid", os.getpid())
    print("leak file", fd)
    print("leak socket", sfd)
    sys.stdout.flush()


main()
