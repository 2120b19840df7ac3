"""libc's open called through ctypes: by default through a handle on libc.so.6 (a dlsym on
that handle), with `global` in argv through the global scope (CDLL(None)). The Python line,
and libffi's frames below it."""
import ctypes
import sys

libc = ctypes.CDLL(None if sys.argv[2:] == ["global"] else "libc.so.6", use_errno=True)
fd = libc.open(sys.argv[1].encode(), 0)  # LEAK
assert fd >= 0, ctypes.get_errno()
