"""A C function called from Python (ctypes, the program's global scope): Python stack too."""
import ctypes

libc = ctypes.CDLL(None, use_errno=True)
kept = libc.eventfd(0, 0)  # LEAK
