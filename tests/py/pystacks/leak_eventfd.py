import os
# requires 3.10


def main():
    return os.eventfd(0)  # LEAK


kept = main()
