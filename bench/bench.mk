# `make bench`: side-by-side benchmarks of the shim against bare runs and valgrind
# (bench/run.py prints the table and rewrites bench/RESULTS.md; bench/README.md explains the
# rows). `make bench QUICK=1` is a short run (~1 minute) with fewer rounds and iterations; its
# numbers are noisier and it does not rewrite RESULTS.md unless BENCH_ARGS=--write is given.
# BENCH_ARGS passes more options to bench/run.py (e.g. BENCH_ARGS='--rows 1,2 --rounds 5').
BENCH_BIN   = $(BUILD)/bench
# proto_capture is a design probe for row 1's note (capture costs), linked with libunwind.
BENCH_PROGS = $(BENCH_BIN)/fdloop $(BENCH_BIN)/fdmass $(BENCH_BIN)/spawnloop \
              $(BENCH_BIN)/proto_capture $(BENCH_BIN)/stackuse $(BENCH_BIN)/rwloop
QUICK      ?=
BENCH_ARGS ?=

# Packages first (valgrind, redis, libunwind-dev...), then the build in a second make, so that
# the pkg-config lookups of shim.mk and tools.mk see newly installed packages (as `make demo`).
bench:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory all bench-progs
	/usr/bin/python3 bench/run.py --build $(BUILD) $(if $(QUICK),--quick) $(BENCH_ARGS)

bench-progs: $(BENCH_PROGS)

$(BENCH_BIN)/proto_capture: bench/proto_capture.c | $(BENCH_BIN)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror $(shell $(PKG_CONFIG) --cflags libunwind) \
	  -o $@ $< $(shell $(PKG_CONFIG) --libs libunwind)

$(BENCH_BIN)/%: bench/%.c | $(BENCH_BIN)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -o $@ $< -lpthread

$(BENCH_BIN):
	mkdir -p $@

.PHONY: bench bench-progs
