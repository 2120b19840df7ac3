# Tests: fixtures (tests/cases/*.c, *.cc: one small program per entry point and per case, run
# under the library by the end-to-end tests), the command's fixtures (tests/tool/: built -O2 with
# a stripped library, run by tests/test_tool.py), unit tests (tests/unit/*.c linked with the fd
# table and the stack store directly, no preload; test_config also with the settings) and the
# runner tests/run.py.
#
#   make test            build everything, run all tests; ends with `N passed, N failed`
#   make test-unit       unit tests only
#   make test-sanitize   the same tests against an ASan+UBSan build of the shim (build-san/)
#   make test T=dup2     only tests whose module.function contains `dup2`

PYTHON      ?= /usr/bin/python3
CXX         ?= g++
# Fixtures are never built with sanitizers: the programs under test are ordinary binaries.
FIX_CFLAGS   = -g -O1 -Wall -Wextra -Werror -D_GNU_SOURCE -pthread
FIX_LIBS     = -lutil -lrt -ldl
FIX_C        = $(wildcard tests/cases/*.c)
FIX_CC       = $(wildcard tests/cases/*.cc)
FIX_BIN      = $(patsubst tests/cases/%.c,$(BUILD)/tests/%,$(FIX_C)) \
               $(patsubst tests/cases/%.cc,$(BUILD)/tests/%,$(FIX_CC))
FIX_LIBSO    = $(BUILD)/tests/libctoropen.so
# The command's fixtures: symbolization is what they test, so their flags are part of the test
# (-O2 makes a static clone and an inlined frame; the library is stripped after linking).
TOOLFIX_DIR  = $(BUILD)/tests/tool
TOOLFIX_BIN  = $(TOOLFIX_DIR)/leaks $(TOOLFIX_DIR)/leaks-selfdump $(TOOLFIX_DIR)/cxx
TOOLFIX_LIB  = $(TOOLFIX_DIR)/libfdlstripped.so
UNIT_SRC     = $(wildcard tests/unit/*.c)
UNIT_BIN     = $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRC))
UNIT_DEPS    = shim/fdtable.c shim/intern.c $(COMMON_SRC)

.PHONY: test-fixtures test-unit-bins

test-fixtures: $(FIX_BIN) $(FIX_LIBSO) $(TOOLFIX_BIN)
test-unit-bins: $(UNIT_BIN)

# Packages first, then the build in a second make: shim.mk and tools.mk ask pkg-config when
# the Makefile is read, before `deps` could install anything (a fresh machine).
test: deps
	@$(MAKE) --no-print-directory all test-fixtures test-unit-bins
	FDLEAK_BUILD=$(BUILD) $(PYTHON) tests/run.py $(T)

test-unit: test-unit-bins
	FDLEAK_BUILD=$(BUILD) $(PYTHON) tests/run.py test_unit.

test-sanitize:
	$(MAKE) SANITIZER=address,undefined test

$(BUILD)/tests/%: tests/cases/%.c tests/cases/fixture.h | $(BUILD)/tests
	$(CC) $(FIX_CFLAGS) $(FIX_EXTRA) -o $@ $< $(FIX_LDEXTRA) $(FIX_LIBS)

$(BUILD)/tests/%: tests/cases/%.cc | $(BUILD)/tests
	$(CXX) $(FIX_CFLAGS) $(FIX_EXTRA) -o $@ $< $(FIX_LDEXTRA) $(FIX_LIBS)

# names must reach dladdr for the text report
$(BUILD)/tests/textreport: FIX_EXTRA = -rdynamic
$(BUILD)/tests/rendercase: FIX_EXTRA = -rdynamic

# a library whose constructor opens files before the shim's constructor runs
$(BUILD)/tests/libctoropen.so: tests/cases/lib/ctoropen.c | $(BUILD)/tests
	$(CC) -g -O1 -Wall -Wextra -Werror -fPIC -shared -o $@ $<
$(BUILD)/tests/ctor_before_shim: $(BUILD)/tests/libctoropen.so
$(BUILD)/tests/ctor_before_shim: FIX_LDEXTRA = -L$(BUILD)/tests -lctoropen -Wl,-rpath,'$$ORIGIN'

# Stripped after linking: the leaks binaries still link against its dynamic symbols.
$(TOOLFIX_LIB): tests/tool/stripped.c | $(TOOLFIX_DIR)
	$(CC) -shared -fPIC -O2 -g -o $@ $<
	strip --strip-all $@

$(TOOLFIX_DIR)/leaks: tests/tool/leaks.c $(TOOLFIX_LIB) | $(TOOLFIX_DIR)
	$(CC) -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -o $@ $< -L$(TOOLFIX_DIR) -lfdlstripped \
	  -Wl,-rpath,'$$ORIGIN'

# The same program writing its own dump at exit: dumps for `fdleak report` without the library.
$(TOOLFIX_DIR)/leaks-selfdump: tests/tool/leaks.c $(TOOLFIX_LIB) | $(TOOLFIX_DIR)
	$(CC) -D_GNU_SOURCE -DSELF_DUMP -O2 -g -Wall -Wextra -Werror -o $@ $< -L$(TOOLFIX_DIR) \
	  -lfdlstripped -Wl,-rpath,'$$ORIGIN'

$(TOOLFIX_DIR)/cxx: tests/tool/cxx.cc | $(TOOLFIX_DIR)
	$(CXX) -O2 -g -Wall -Wextra -Werror -o $@ $<

$(BUILD)/tests/unit/%: tests/unit/%.c $(UNIT_DEPS) | $(BUILD)/tests/unit
	$(CC) $(CFLAGS_BASE) $(DEPFLAGS) -pthread -I shim -I common -o $@ $< $(UNIT_DEPS) $(UNIT_EXTRA)

# the settings, read from the environment, and the one message function they speak through
UNIT_CONFIG = shim/config.c shim/msg.c shim/out.c
$(BUILD)/tests/unit/test_config: $(UNIT_CONFIG)
$(BUILD)/tests/unit/test_config: UNIT_EXTRA = $(UNIT_CONFIG)

$(BUILD)/tests $(BUILD)/tests/unit $(TOOLFIX_DIR):
	mkdir -p $@

# the public C API's example: include/fdleak.h, weak references, nothing linked
$(BUILD)/tests/api_listener: include/fdleak.h
$(BUILD)/tests/api_listener: FIX_EXTRA = -I include
# the same, a non-PIE executable: its calling code compiled -fPIE, as include/fdleak.h says
test-fixtures: $(BUILD)/tests/api_listener_nopie
$(BUILD)/tests/api_listener_nopie: tests/cases/api_listener.c tests/cases/fixture.h \
                                   include/fdleak.h | $(BUILD)/tests
	$(CC) $(FIX_CFLAGS) -I include -fPIE -no-pie -o $@ $< $(FIX_LIBS)
