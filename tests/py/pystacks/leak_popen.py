"""The pipe's read end is never closed: acquired inside subprocess.py, its line here."""
import subprocess

p = subprocess.Popen(["true"], stdout=subprocess.PIPE)  # LEAK
p.wait()
