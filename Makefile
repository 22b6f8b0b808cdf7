# The two commands in README.md are the whole set-up: `make demo` and `make test`.
SWIFT ?= swift
BIN_RELEASE := .build/release/restore-console

.PHONY: bootstrap build release test demo clean

bootstrap:
	@scripts/bootstrap

build: bootstrap
	$(SWIFT) build

release: bootstrap
	$(SWIFT) build -c release --product restore-console

# Builds everything, then runs every test suite (Swift Testing) against real RocksDB files and tools.
test: bootstrap
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

demo: release
	$(BIN_RELEASE) demo

clean:
	rm -rf .build
