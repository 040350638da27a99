# fargate-pipes: build, test, and bring reference stacks up and down.
#
#   make demo        the main job: a platform up and down on the local emulator
#   make test        every test (installs the emulator into .venv first)
#   make lint        rustfmt and clippy, as CI wants them
#
# Targets that talk to AWS use whatever AWS configuration the environment gives:
# real AWS, or the emulator through AWS_ENDPOINT_URL (eval "$$(scripts/local-aws start)").

export CARGO_TARGET_DIR ?= $(HOME)/.cache/fargate-pipes/target
BIN := $(CARGO_TARGET_DIR)/debug
export PATH := $(BIN):$(PATH)
ENV ?= dev

.PHONY: build test lint emulator demo bench

build:
	cargo build --workspace

emulator:
	scripts/local-aws install

test: emulator
	cargo test --workspace

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

demo: build
	scripts/demo.sh

# Speed, measured: figures from the release build against the emulator.
bench: emulator
	cargo build --workspace --release
	PROFILE=release scripts/bench.sh
