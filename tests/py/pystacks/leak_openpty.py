import os

master, slave = os.openpty()  # LEAK
os.close(slave)
