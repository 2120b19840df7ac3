"""libc's open called through ctypes (a dlsym on a library handle): the Python line, and
libffi's frames below it."""
import ctypes
import sys

libc = ctypes.CDLL("libc.so.6", use_errno=True)
fd = libc.open(sys.argv[1].encode(), 0)  # LEAK
assert fd >= 0, ctypes.get_errno()
