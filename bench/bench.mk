# `make bench`: side-by-side benchmarks of the shim against bare runs and valgrind
# (bench/run.py prints the table and rewrites bench/RESULTS.md). `make bench QUICK=1` is a
# short run (~3 minutes) with fewer rounds and iterations; its numbers are noisier and it
# does not rewrite RESULTS.md unless BENCH_ARGS=--write is given.
# BENCH_ARGS passes more options to bench/run.py (e.g. BENCH_ARGS='--rows 1,2').
BENCH_BIN   = $(BUILD)/bench
BENCH_PROGS = $(BENCH_BIN)/fdloop $(BENCH_BIN)/fdmass $(BENCH_BIN)/spawnloop
QUICK      ?=
BENCH_ARGS ?=

bench: all
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory bench-progs
	/usr/bin/python3 bench/run.py --build $(BUILD) $(if $(QUICK),--quick) $(BENCH_ARGS)

bench-progs: $(BENCH_PROGS)

$(BENCH_BIN)/%: bench/%.c | $(BENCH_BIN)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -o $@ $< -lpthread

$(BENCH_BIN):
	mkdir -p $@

.PHONY: bench bench-progs
