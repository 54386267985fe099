# scry: the two commands that set everything up on a fresh machine are
# `make demo` and `make test`. See README.md.

CARGO ?= cargo
SCRY := target/release/scry

.PHONY: all build demo test lint bench deps clean

all: build

deps:
	@scripts/deps.sh build

build: deps
	$(CARGO) build --release

demo: build
	@scripts/deps.sh demo
	@scripts/demo.sh

test:
	@scripts/deps.sh test
	@scripts/test.sh

lint: deps
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

bench:
	@scripts/deps.sh bench
	$(CARGO) build --release --workspace
	@scripts/bench.sh

clean:
	$(CARGO) clean
