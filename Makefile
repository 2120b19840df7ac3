# fdleak: top-level build. `make` builds the shim and the command; `make test`, `make demo`,
# `make bench` install what is missing first (scripts/deps.sh, Debian packages).
#
#   make SANITIZER=address|undefined|address,undefined   sanitizer build in build-san/
#   make CC=clang                                          any C11 compiler
#   make DEBUG=1                                           internal assertions (FDL_ASSERT), build-debug/

CC        ?= gcc
PREFIX    ?= /usr/local
SANITIZER ?=
DEBUG     ?=
ifneq ($(DEBUG),)
BUILD     ?= build-debug
DBGFLAGS   = -DFDL_DEBUG
endif
ifeq ($(SANITIZER),)
BUILD     ?= build
SANFLAGS   =
else
BUILD     ?= build-san
SANFLAGS   = -fsanitize=$(SANITIZER) -fno-omit-frame-pointer
endif

PKG_CONFIG ?= pkg-config
WARN    = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CSTD    = -std=gnu11 -D_GNU_SOURCE
OPT     = -O2 -g
CFLAGS_BASE = $(CSTD) $(OPT) $(WARN) $(SANFLAGS) $(DBGFLAGS) $(EXTRA_CFLAGS)
# Header dependencies are tracked per object (-MMD); the .d files are read at the end.
DEPFLAGS    = -MMD -MP
# The contract between library and command (common/contract.h), compiled into both.
COMMON_SRC  = $(wildcard common/*.c)

.PHONY: all deps demo test test-unit test-e2e test-sanitize bench install uninstall \
        format format-check lint clean
all:

include shim/shim.mk
include tools/tools.mk
include tests/tests.mk
-include bench/bench.mk
-include tests/fuzz/fuzz.mk

deps:
	@scripts/deps.sh

# The C sources clang-format keeps in shape (.clang-format): all of them, fixtures and
# benchmarks included.
FORMAT_SRC = $(wildcard include/*.h common/*.[ch] shim/*.[ch] tools/*.[ch] tools/*.cc tests/unit/*.c \
               tests/cases/*.[ch] tests/cases/*.cc tests/cases/lib/*.c tests/tool/*.c \
               tests/tool/*.cc bench/*.c bench/probes/*.c)

format:
	clang-format -i $(FORMAT_SRC)

# What `format` would change, as errors (CI): nothing is rewritten.
format-check:
	clang-format --dry-run --Werror $(FORMAT_SRC)

# tests/cases is left out: its fixtures do on purpose what cppcheck flags (the same call twice,
# buffers that only the kernel fills).
lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --suppress=missingIncludeSystem --inline-suppr -D_GNU_SOURCE -D'ElfW(t)=Elf64_##t' -I shim -I common \
	  common shim tools bench tests/unit tests/tool
	shellcheck scripts/*.sh .ci/run

clean:
	rm -rf build build-san build-debug build-clang

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
