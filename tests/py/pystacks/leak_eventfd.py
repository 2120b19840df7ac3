import os


def main():
    return os.eventfd(0)  # LEAK


kept = main()
