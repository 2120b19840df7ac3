# `make bench`: side-by-side benchmarks of the shim against bare runs and valgrind
# (bench/run.py prints the table and rewrites bench/RESULTS.md; bench/README.md explains the
# rows). `make bench QUICK=1` is a short run with fewer rounds and iterations; its numbers are
# noisier and it does not rewrite RESULTS.md unless BENCH_ARGS=--write is given.
# BENCH_ARGS passes more options to bench/run.py (e.g. BENCH_ARGS='--rows 1,2 --rounds 5').
# `make bench-probes`: the design probes of bench/probes/ (not the library), apart from the
# benchmarks so that `make bench` measures only what ships.
BENCH_BIN    = $(BUILD)/bench
BENCH_PROGS  = $(BENCH_BIN)/fdloop $(BENCH_BIN)/fdmass $(BENCH_BIN)/spawnloop \
               $(BENCH_BIN)/stackuse $(BENCH_BIN)/rwloop
# proto_capture: a capture with libunwind against a verified reuse of the previous one.
PROBE_PROGS  = $(BENCH_BIN)/probes/proto_capture
QUICK       ?=
BENCH_ARGS  ?=
BENCH_RUN    = /usr/bin/python3 bench/run.py --build $(BUILD) $(if $(QUICK),--quick)

# Packages first (valgrind, redis, libunwind-dev...), then the build in a second make, so that
# the pkg-config lookups of shim.mk and tools.mk see newly installed packages (as `make demo`).
bench:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory all bench-progs
	$(BENCH_RUN) $(BENCH_ARGS)

bench-probes:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory all bench-progs probe-progs
	$(BENCH_RUN) --rows probe $(BENCH_ARGS)
	@$(MAKE) --no-print-directory $(BUILD)/tests/simple && /usr/bin/python3 bench/report_memory.py --build $(BUILD) $(if $(QUICK),--quick)
	/usr/bin/python3 bench/snapshot_cost.py --build $(BUILD) $(if $(QUICK),--quick)

bench-progs: $(BENCH_PROGS)
probe-progs: $(PROBE_PROGS)

$(BENCH_BIN)/probes/proto_capture: bench/probes/proto_capture.c | $(BENCH_BIN)/probes
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror $(shell $(PKG_CONFIG) --cflags libunwind) \
	  -o $@ $< $(shell $(PKG_CONFIG) --libs libunwind)

$(BENCH_BIN)/%: bench/%.c | $(BENCH_BIN)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -o $@ $< -lpthread

$(BENCH_BIN) $(BENCH_BIN)/probes:
	mkdir -p $@

.PHONY: bench bench-probes bench-progs probe-progs
