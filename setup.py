"""`pip install --no-build-isolation .` from the repository root (pyproject.toml has the
metadata): builds libfdleak.so and the fdleak command with `make` and puts them, with the
default suppressions, in the package as fdleak/_native/ (fdleak.find_library looks there
first). FDLEAK_NO_BUILD=1 skips the build; MAKE names the make program. setuptools' own
build files go under build/python/, apart from make's."""
import os
import shutil
import subprocess
import sys

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

ROOT = os.path.dirname(os.path.abspath(__file__))
NATIVE = ("libfdleak.so", "fdleak", "default.supp")


def _fail(why):
    sys.stderr.write("fdleak: cannot build libfdleak.so for the Python package: %s; install "
                     "the build dependencies (scripts/deps.sh build) or set FDLEAK_NO_BUILD=1 "
                     "to install the module alone (it then needs `make install` or "
                     "FDLEAK_LIB)\n" % why)
    sys.stderr.flush()
    raise SystemExit(1)


class BuildWithLibrary(build_py):
    """build_py, then `make` (the plain build in build/) and a copy of what it built."""

    def run(self):
        build_py.run(self)
        dest = os.path.join(self.build_lib, "fdleak", "_native")
        shutil.rmtree(dest, ignore_errors=True)  # never what an earlier build left there
        if os.environ.get("FDLEAK_NO_BUILD"):
            return
        make = os.environ.get("MAKE") or "make"
        jobs = str(max(1, min(os.cpu_count() or 1, 8)))
        # the plain build whatever the caller's environment says (a sanitizer build needs its
        # runtime preloaded first)
        argv = [make, "-C", ROOT, "-j" + jobs, "BUILD=build", "SANITIZER=", "DEBUG=", "all"]
        try:
            r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=1800)
        except OSError as e:
            _fail("%s: %s" % (make, e.strerror))
        except subprocess.TimeoutExpired:
            _fail("%s did not finish in 30 minutes" % make)
        if r.returncode != 0:
            out = r.stdout.decode("utf-8", "replace").strip().splitlines()
            sys.stderr.write("\n".join(out[-20:]) + "\n")
            _fail("`%s` failed (status %d)%s" % (" ".join(argv), r.returncode,
                                                  ": " + out[-1] if out else ""))
        os.makedirs(dest)
        for name in NATIVE:
            src = os.path.join(ROOT, "build", name)
            if not os.path.isfile(src):
                _fail("make did not build %s" % src)
            shutil.copy2(src, os.path.join(dest, name))


class NativeDistribution(Distribution):
    """A wheel with a native library in it: tagged for this platform, not 'any'."""

    def has_ext_modules(self):
        return not os.environ.get("FDLEAK_NO_BUILD")


_BUILD_BASE = os.path.join(ROOT, "build", "python")
os.makedirs(_BUILD_BASE, exist_ok=True)
setup(distclass=NativeDistribution, cmdclass={"build_py": BuildWithLibrary},
      options={"build": {"build_base": _BUILD_BASE},
               "egg_info": {"egg_base": _BUILD_BASE}})
