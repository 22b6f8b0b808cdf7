# The two commands in README.md are the whole set-up: `make demo` and `make test`.
SWIFT ?= swift
BIN_RELEASE := .build/release/restore-console

.PHONY: bootstrap build release test demo bench clean

bootstrap:
	@scripts/bootstrap

build: bootstrap
	$(SWIFT) build

release: bootstrap
	$(SWIFT) build -c release --product restore-console

# Builds everything, then runs every test suite (Swift Testing) against real RocksDB files and tools.
# Suites run one after another: each starts clusters, servers and processes of its own, and on two
# cores running them side by side only starves their clocks.
test: bootstrap
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --no-parallel

demo: release
	$(BIN_RELEASE) demo

# Benchmarks against baselines measured in the same run (Docs/BENCHMARKS.md).
bench: bootstrap
	$(SWIFT) build -c release --product restore-bench
	.build/release/restore-bench

clean:
	rm -rf .build
