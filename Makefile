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
        format lint clean
all:

include shim/shim.mk
include tools/tools.mk
include tests/tests.mk
-include bench/bench.mk
-include tests/fuzz/fuzz.mk

deps:
	@scripts/deps.sh

format:
	clang-format -i common/*.c common/*.h shim/*.c shim/*.h tools/*.c tools/*.cc tools/*.h \
	  tests/unit/*.c tests/cases/*.c tests/cases/*.cc bench/*.c

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --suppress=missingIncludeSystem --inline-suppr -D_GNU_SOURCE -I shim -I common common shim tools
	shellcheck scripts/*.sh .ci/run

clean:
	rm -rf build build-san build-debug

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
