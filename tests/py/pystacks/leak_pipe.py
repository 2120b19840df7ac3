"""os.pipe() leaked two calls down from the module: both ends carry this line."""
import os


def make():
    return os.pipe()  # LEAK


def main():
    keep = make()
    print("leak", *keep)
    return keep


kept = main()
