# build/fdleak: the command (tools/*.c, and tools/*.cc in C++17 for the JSON reader, which
# uses simdjson), linked with elfutils (libdw) and simdjson by the C++ driver, plus the bundled
# examples, `make demo`, `make install` and `make uninstall`.
TOOL_SRC    = $(wildcard tools/*.c)
TOOL_CXXSRC = $(wildcard tools/*.cc)
TOOL_OBJ    = $(patsubst tools/%.c,$(BUILD)/tools/%.o,$(TOOL_SRC)) \
              $(patsubst tools/%.cc,$(BUILD)/tools/%.o,$(TOOL_CXXSRC)) \
              $(patsubst common/%.c,$(BUILD)/tools/common/%.o,$(COMMON_SRC))
CXX        ?= g++
# Recursively expanded: pkg-config runs only when the command is built, after `make deps`.
TOOL_CFLAGS   = $(CFLAGS_BASE) -I common $(shell $(PKG_CONFIG) --cflags libdw 2>/dev/null)
TOOL_CXXFLAGS = -std=c++17 -D_GNU_SOURCE -I common $(OPT) -Wall -Wextra -Werror $(SANFLAGS) \
                $(EXTRA_CXXFLAGS) $(shell $(PKG_CONFIG) --cflags simdjson 2>/dev/null)
TOOL_LIBS     = $(shell $(PKG_CONFIG) --libs libdw simdjson zlib 2>/dev/null) -lm
DESTDIR ?=

all: $(BUILD)/fdleak

$(BUILD)/fdleak: $(TOOL_OBJ)
	$(CXX) $(SANFLAGS) -o $@ $(TOOL_OBJ) $(TOOL_LIBS)

$(BUILD)/tools/%.o: tools/%.c | $(BUILD)/tools
	@if ! $(PKG_CONFIG) --exists libdw; then \
	  echo "libdw not found by pkg-config: run 'make deps'" >&2; exit 1; fi
	$(CC) $(TOOL_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(BUILD)/tools/%.o: tools/%.cc | $(BUILD)/tools
	@if ! $(PKG_CONFIG) --exists simdjson; then \
	  echo "simdjson not found by pkg-config: run 'make deps'" >&2; exit 1; fi
	$(CXX) $(TOOL_CXXFLAGS) $(DEPFLAGS) -c -o $@ $<

$(BUILD)/tools/common/%.o: common/%.c | $(BUILD)/tools/common
	$(CC) $(TOOL_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(BUILD)/tools $(BUILD)/tools/common $(BUILD)/examples:
	mkdir -p $@

# Examples: a server-like C program (-O0 so every line maps plainly) and a Python script.
EXAMPLES = $(BUILD)/examples/leaky_server

examples: $(EXAMPLES)

$(BUILD)/examples/%: examples/%.c | $(BUILD)/examples
	$(CC) -std=gnu11 -g -O0 -Wall -Wextra -o $@ $<

# `make demo` on a fresh machine: install what is missing, then build in a second make so the
# pkg-config lookups of shim.mk and tools.mk see the newly installed packages.
demo: deps
	@$(MAKE) --no-print-directory all examples
	@echo
	@echo '=== fdleak run -- $(BUILD)/examples/leaky_server'
	$(BUILD)/fdleak run -- $(BUILD)/examples/leaky_server
	@echo
	@echo '=== fdleak run -- /usr/bin/python3 examples/leaky.py'
	$(BUILD)/fdleak run -- /usr/bin/python3 examples/leaky.py

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/fdleak \
	  $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/fdleak \
	  $(DESTDIR)$(PREFIX)/include
	install -m 0755 $(BUILD)/fdleak $(DESTDIR)$(PREFIX)/bin/fdleak
	install -m 0755 $(BUILD)/libfdleak.so $(DESTDIR)$(PREFIX)/lib/fdleak/libfdleak.so
	install -m 0644 docs/fdleak.1 $(DESTDIR)$(PREFIX)/share/man/man1/fdleak.1
	install -m 0644 share/fdleak/default.supp $(DESTDIR)$(PREFIX)/share/fdleak/default.supp
	install -m 0644 include/fdleak.h $(DESTDIR)$(PREFIX)/include/fdleak.h

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/fdleak $(DESTDIR)$(PREFIX)/lib/fdleak/libfdleak.so \
	  $(DESTDIR)$(PREFIX)/share/man/man1/fdleak.1 $(DESTDIR)$(PREFIX)/share/fdleak/default.supp \
	  $(DESTDIR)$(PREFIX)/include/fdleak.h
	-rmdir $(DESTDIR)$(PREFIX)/lib/fdleak $(DESTDIR)$(PREFIX)/share/fdleak 2>/dev/null

.PHONY: examples

# The default suppression file, next to the command in the build (where it looks first) and in
# share/fdleak/ when installed.
all: $(BUILD)/default.supp

$(BUILD)/default.supp: share/fdleak/default.supp | $(BUILD)/tools
	cp $< $@
