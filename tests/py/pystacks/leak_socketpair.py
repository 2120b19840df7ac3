"""Issue 8 item 2: an earlier socketpair, closed, must not lend its stack to the leak."""
import socket


def closed_pair():
    a, b = socket.socketpair()
    a.close()
    b.close()


closed_pair()
closed_pair()
kept = socket.socketpair()  # LEAK
