# The two commands in README.md are the whole set-up: `make demo` and `make test`.
SWIFT ?= swift
BIN_RELEASE := .build/release/restore-console

.PHONY: bootstrap build release test demo bench chaos crash fuzz fuzz-build clean

bootstrap:
	@scripts/bootstrap

build: bootstrap
	$(SWIFT) build

release: bootstrap
	$(SWIFT) build -c release --product restore-console

# Builds everything (a target that imports a module it does not declare is an error: the layers
# point down only), then runs every test suite (Swift Testing) against real RocksDB files and tools.
# Suites run one after another: each starts clusters, servers and processes of its own, and on two
# cores running them side by side only starves their clocks.
test: bootstrap
	$(SWIFT) build --build-tests --explicit-target-dependency-import-check error
	$(SWIFT) test --skip-build --no-parallel

demo: release
	$(BIN_RELEASE) demo

# Benchmarks against baselines measured in the same run (Docs/BENCHMARKS.md). BENCH=name runs one;
# BENCH_DIR chooses where the scratch files (up to about 20 GiB) go.
bench: bootstrap
	$(SWIFT) build -c release --product restore-console
	$(SWIFT) build -c release --product restore-bench
	.build/release/restore-bench $(BENCH)

# Reliability campaigns (Docs/RELIABILITY.md). `make chaos SEEDS=50` runs seeds 1...50 and
# `make chaos SEED=n` one seed; `make crash` kills restores at 23 points and resumes them;
# `make crash RANDOM=100` kills 100 restores at seeded random instants (SEED=s picks the first seed).
chaos: bootstrap
	$(SWIFT) build --product restore-console
	$(SWIFT) build --product restore-chaos
	.build/debug/restore-chaos chaos $(if $(SEED),--seed $(SEED),--seeds $(or $(SEEDS),50))

crash: bootstrap
	$(SWIFT) build --product restore-console
	$(SWIFT) build --product restore-chaos
	$(if $(RANDOM),.build/debug/restore-chaos random-kill --runs $(RANDOM) --seed $(or $(SEED),1),.build/debug/restore-chaos crash --points $(or $(POINTS),23)) --binary .build/debug/restore-console

# libFuzzer over every parser that takes outside input: RUNS executions per target (default one
# million), growing the committed corpus in Fuzz/corpus; crashes land in Fuzz/crashes. Then the
# wire: RUNS mutated requests to a `cluster serve` (scripts/wire-fuzz).
fuzz-build: bootstrap
	$(SWIFT) build -c release --product restore-fuzz --build-path .build-fuzz -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING -Xswiftc -use-ld=lld

fuzz: fuzz-build
	$(SWIFT) build --product restore-console
	scripts/fuzz $(or $(RUNS),1000000) $(TARGETS)
	$(if $(TARGETS),,scripts/wire-fuzz $(or $(RUNS),1000000))

clean:
	rm -rf .build .build-fuzz
