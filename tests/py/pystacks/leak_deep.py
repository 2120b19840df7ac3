"""A leak 30 frames deep in a library: the script's line is kept and marked."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib",
                                "site-packages"))
import deephelper  # noqa: E402


def main():
    return deephelper.descend(30)  # LEAK


kept = main()
