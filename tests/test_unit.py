"""Runs the C unit tests (tests/unit/*.c, linked with shim/fdtable.c and shim/intern.c;
test_config with shim/config.c and common/signame.c)."""
import subprocess

import lib


def _run_unit(name):
    proc = subprocess.run([lib.unit(name)], capture_output=True, text=True, timeout=120)
    lib.check(proc.returncode == 0, "%s exited %d" % (name, proc.returncode),
              *[l for l in (proc.stdout + proc.stderr).splitlines()
                if not l.startswith("ok ")][-40:])
    lib.check("unit: all passed" in proc.stdout, "%s did not finish" % name, proc.stdout[-2000:])


def test_unit_fdtable():
    _run_unit("test_fdtable")


def test_unit_intern():
    _run_unit("test_intern")


def test_unit_config():
    _run_unit("test_config")
