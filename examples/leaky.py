#!/usr/bin/python3
"""A short script that forgets to close a file (in a loop), a socket and a pipe, for `make demo`.

Run it under fdleak:  build/fdleak run -- /usr/bin/python3 examples/leaky.py
"""
import atexit
import os
import shutil
import socket
import tempfile

kept = []  # references stay alive until the interpreter exits: nothing is closed


def write_reports(directory, count):
    for i in range(count):
        f = open(os.path.join(directory, "report-%d.txt" % i), "w")
        f.write("report %d\n" % i)
        f.flush()
        kept.append(f)  # bug: never closed


def open_channel():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.create_connection(server.getsockname())
    conn, _ = server.accept()
    conn.close()
    server.close()
    kept.append(client)  # bug: the client socket is never closed


def start_worker():
    r, w = os.pipe()  # bug: neither end is closed
    kept.append((r, w))


def main():
    directory = tempfile.mkdtemp(prefix="leaky-")
    atexit.register(shutil.rmtree, directory, True)  # removes the names; the fds stay open
    write_reports(directory, 3)
    open_channel()
    start_worker()
    print("leaky.py: wrote 3 reports in", directory)


if __name__ == "__main__":
    main()
