# Fuzzing the dump reader (tests/fuzz/fuzz_dump.c) with libFuzzer, and replaying its corpus.
#
#   make fuzz              build with clang (-fsanitize=fuzzer,address,undefined) in build-fuzz/
#                          and fuzz for FUZZ_SECONDS (default 60), seeded with tests/fuzz/corpus;
#                          new inputs go to build-fuzz/corpus, crashes to build-fuzz/crash-*
#   make fuzz-merge        fold build-fuzz/corpus into tests/fuzz/corpus, minimized (-merge=1)
#   make fuzz-seeds        add dumps of the fixtures run under the library to tests/fuzz/corpus
#
# The test suite replays tests/fuzz/corpus through the same target built without libFuzzer
# ($(BUILD)/tests/fuzz/replay, built with the test binaries; test_dump_reader.py runs it).
FUZZ_BUILD    ?= build-fuzz
FUZZ_SECONDS  ?= 60
FUZZ_CC       ?= clang-14
FUZZ_CXX      ?= clang++-14
FUZZ_SAN       = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS    = $(CSTD) -O1 -g $(WARN) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -I tools -I common \
                 -DFDL_DEBUG
FUZZ_CXXFLAGS  = -std=c++17 -D_GNU_SOURCE -O1 -g -Wall -Wextra -Werror $(FUZZ_SAN) \
                 -fsanitize=fuzzer-no-link -I tools -I common \
                 $(shell $(PKG_CONFIG) --cflags simdjson 2>/dev/null)
# What fdt_dump_parse needs from the command, no more.
FUZZ_READER_C  = tools/dumpfile.c tools/safefile.c tools/util.c $(COMMON_SRC)
FUZZ_READER_CC = tools/json_read.cc
FUZZ_OBJ       = $(patsubst %.c,$(FUZZ_BUILD)/%.o,$(FUZZ_READER_C) tests/fuzz/fuzz_dump.c) \
                 $(patsubst %.cc,$(FUZZ_BUILD)/%.o,$(FUZZ_READER_CC))
FUZZ_ARGS     ?=

.PHONY: fuzz fuzz-build fuzz-merge fuzz-seeds

fuzz-build: $(FUZZ_BUILD)/fuzz_dump

$(FUZZ_BUILD)/fuzz_dump: $(FUZZ_OBJ)
	$(FUZZ_CXX) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(shell $(PKG_CONFIG) --libs simdjson)

$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(FUZZ_BUILD)/%.o: %.cc
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_CXXFLAGS) $(DEPFLAGS) -c -o $@ $<

# Packages first (clang, libFuzzer), then the build in a second make, as `make test` does.
fuzz:
	@scripts/deps.sh fuzz
	@$(MAKE) --no-print-directory fuzz-build
	@mkdir -p $(FUZZ_BUILD)/corpus
	cd $(FUZZ_BUILD) && ASAN_OPTIONS=detect_leaks=1 ./fuzz_dump -max_total_time=$(FUZZ_SECONDS) \
	  -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	  -dict=$(CURDIR)/tests/fuzz/dump.dict $(FUZZ_ARGS) \
	  corpus $(CURDIR)/tests/fuzz/corpus

fuzz-merge: fuzz-build
	@mkdir -p $(FUZZ_BUILD)/corpus $(FUZZ_BUILD)/merged
	rm -f $(FUZZ_BUILD)/merged/*
	$(FUZZ_BUILD)/fuzz_dump -merge=1 -max_len=65536 $(FUZZ_BUILD)/merged tests/fuzz/corpus \
	  $(FUZZ_BUILD)/corpus
	rm -f tests/fuzz/corpus/*
	cp $(FUZZ_BUILD)/merged/* tests/fuzz/corpus/
	@du -sh tests/fuzz/corpus; ls tests/fuzz/corpus | wc -l

fuzz-seeds: all test-fixtures
	$(PYTHON) tests/fuzz/seeds.py --build $(BUILD) tests/fuzz/corpus

# The corpus replayed by the test suite, with the build's own compilers and sanitizers.
REPLAY_OBJ = $(patsubst %.c,$(BUILD)/tests/fuzz/obj/%.o,tests/fuzz/replay.c tests/fuzz/fuzz_dump.c \
               $(FUZZ_READER_C)) $(BUILD)/tests/fuzz/obj/tools/json_read.o

$(BUILD)/tests/fuzz/replay: $(REPLAY_OBJ)
	$(CXX) $(SANFLAGS) -o $@ $^ $(shell $(PKG_CONFIG) --libs simdjson 2>/dev/null)

$(BUILD)/tests/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(DEPFLAGS) -I tools -I common -c -o $@ $<

$(BUILD)/tests/fuzz/obj/%.o: %.cc
	@mkdir -p $(dir $@)
	$(CXX) $(TOOL_CXXFLAGS) $(DEPFLAGS) -c -o $@ $<

test-unit-bins: $(BUILD)/tests/fuzz/replay

-include $(shell find $(FUZZ_BUILD) -name '*.d' 2>/dev/null)
