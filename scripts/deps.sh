#!/usr/bin/env bash
# Installs the Debian packages fdleak needs to build, test, lint, demo and bench, if any is
# missing. Several sets may be named at once.
# Usage: scripts/deps.sh [build|test|lint|bench|fuzz]...   (default: test)
#   lint: cppcheck, shellcheck, clang-format (`make lint`, `make format-check`) and clang
#         (the second compiler CI builds with)
set -euo pipefail
pkgs=(gcc g++ make pkg-config libunwind-dev libdw-dev libelf-dev libsimdjson-dev zlib1g-dev python3)
for want in "${@:-test}"; do
  case "$want" in
    build) ;;
    # strace: one test checks which descriptor the library writes its text report to
    # python3-pytest, python3-setuptools, python3-pip: the Python module and pytest plugin
    # (tests/test_python_api.py), installed offline with pip install --no-build-isolation;
    # python3-exceptiongroup, python3-tomli: what Debian's pytest needs on the CPython 3.8-3.10
    # that the tests run it under (pyenv's, where installed)
    test)  pkgs+=(bash procps strace python3-pytest python3-setuptools python3-pip
                 python3-exceptiongroup python3-tomli) ;;
    lint)  pkgs+=(cppcheck shellcheck clang-format clang) ;;
    bench) pkgs+=(bash procps valgrind redis-server redis-tools hyperfine) ;;
    # clang-14 with libFuzzer and the sanitizer runtimes (libclang-rt-14-dev) for `make fuzz`
    fuzz)  pkgs+=(clang-14 libclang-rt-14-dev) ;;
    *) echo "deps.sh: unknown set '$want' (build, test, lint, bench or fuzz)" >&2; exit 2 ;;
  esac
done
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps.sh: installing ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then sudo=(); else sudo=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
