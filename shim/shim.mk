# libfdleak.so: the LD_PRELOAD interposer. libunwind is located with pkg-config at build time
# and dlopen()ed by soname at run time, RTLD_LOCAL, so its exported _Unwind_* and backtrace
# never take over the host's C++ exception handling (see shim/capture.c).
SHIM_SRC  = $(wildcard shim/*.c)
SHIM_ASM  = $(wildcard shim/*.S)
SHIM_OBJ  = $(patsubst shim/%.c,$(BUILD)/shim/%.o,$(SHIM_SRC)) \
            $(patsubst shim/%.S,$(BUILD)/shim/%.o,$(SHIM_ASM)) \
            $(patsubst common/%.c,$(BUILD)/shim/common/%.o,$(COMMON_SRC))
UNWIND_CFLAGS := $(shell $(PKG_CONFIG) --cflags libunwind 2>/dev/null)
UNWIND_LIBDIR := $(shell $(PKG_CONFIG) --variable=libdir libunwind 2>/dev/null)
UNWIND_SONAME := $(shell objdump -p $(UNWIND_LIBDIR)/libunwind.so 2>/dev/null | awk '/SONAME/{print $$2}')
SHIM_CFLAGS = $(CFLAGS_BASE) -I common -fPIC -fvisibility=hidden -ftls-model=initial-exec \
              -fno-strict-aliasing $(UNWIND_CFLAGS) \
              -DFDL_UNWIND_SONAME='"$(or $(UNWIND_SONAME),libunwind.so.8)"'

all: $(BUILD)/libfdleak.so

# A sanitizer build does not interpose dlsym/dlvsym: the sanitizer runtime resolves its own
# interceptors with dlsym before its shadow memory exists, and would call into our instrumented
# code then. Its export list is exports.map less those two lines.
ifeq ($(SANITIZER),)
SHIM_EXPORTS = shim/exports.map
else
SHIM_EXPORTS = $(BUILD)/shim/exports.map
$(SHIM_EXPORTS): shim/exports.map | $(BUILD)/shim
	grep -v -E '^[[:space:]]*dl(v)?sym;' $< > $@
endif

$(BUILD)/libfdleak.so: $(SHIM_OBJ) $(SHIM_EXPORTS)
	$(CC) -shared $(SANFLAGS) -Wl,--version-script=$(SHIM_EXPORTS) -Wl,-z,now -Wl,-z,relro \
	  -o $@ $(SHIM_OBJ) -ldl -lpthread

$(BUILD)/shim/%.o: shim/%.c | $(BUILD)/shim
	@if [ -z "$(UNWIND_LIBDIR)" ]; then echo "libunwind not found by pkg-config: run 'make deps'" >&2; exit 1; fi
	$(CC) $(SHIM_CFLAGS) $(DEPFLAGS) -c -o $@ $<

# The contract (common/) is compiled into the library with the library's flags: hidden.
$(BUILD)/shim/common/%.o: common/%.c | $(BUILD)/shim/common
	$(CC) $(SHIM_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(BUILD)/shim/%.o: shim/%.S | $(BUILD)/shim
	$(CC) $(SANFLAGS) -fPIC -c -o $@ $<

$(BUILD)/shim $(BUILD)/shim/common:
	mkdir -p $@
