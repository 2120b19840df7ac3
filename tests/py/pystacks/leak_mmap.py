"""mmap duplicates the file's descriptor; the file is closed, the mapping is kept."""
import mmap
import sys

with open(sys.argv[1], "r+b") as f:
    kept = mmap.mmap(f.fileno(), 0)  # LEAK
