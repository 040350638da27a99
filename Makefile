# fargate-pipes: build, test, and bring reference stacks up and down.
#
#   make demo        the main job: a platform up and down on the local emulator
#   make test        every test (installs the emulator into .venv first)
#   make lint        rustfmt and clippy, as CI wants them
#
# The reference stacks (stacks/NAME.json, scripts/NAME.sh; docs/stacks.md):
#
#   make NAME ENV=dev         bring it up; its document goes to out/NAME-dev.json
#   make NAME-down ENV=dev    tear it down: from that document, or by tag without one
#
#   NAME is microservices, trading, payment-migration, payment-processing or ohi;
#   REGION=... moves a stack out of its spec's region; OUT_DIR=DIR keeps the
#   documents somewhere else than out/; BIN=DIR uses tools built elsewhere (and
#   skips the build).
#
# Targets that talk to AWS use whatever AWS configuration the environment gives:
# real AWS, or the emulator through AWS_ENDPOINT_URL (eval "$$(scripts/local-aws start)").
# Only `make demo` starts the emulator itself.

export CARGO_TARGET_DIR ?= $(HOME)/.cache/fargate-pipes/target
BIN := $(CARGO_TARGET_DIR)/debug
export PATH := $(BIN):$(PATH)
ENV ?= dev
REGION ?=
OUT_DIR ?= out

STACKS := microservices trading payment-migration payment-processing ohi
# The stack targets build the tools first, unless BIN names tools built elsewhere.
TOOLS := $(if $(filter command line,$(origin BIN)),,build)

.PHONY: build test lint emulator demo bench $(STACKS) $(STACKS:=-down)

build:
	cargo build --workspace

emulator:
	scripts/local-aws install

# One emulator for the whole run (tests/with-emulator), not one per test binary.
test: emulator
	tests/with-emulator cargo test --workspace

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

demo: build
	scripts/demo.sh

# Speed, measured: figures from the release build against the emulator.
bench: emulator
	cargo build --workspace --release
	PROFILE=release scripts/bench.sh

$(STACKS): $(TOOLS)
	ENV='$(ENV)' REGION='$(REGION)' OUT='$(OUT_DIR)/$@-$(ENV).json' BIN='$(BIN)' scripts/$@.sh

# With the document, teardown removes what it lists (and sweeps by tag); the
# document goes once the stack is gone. Without one (never written, or lost),
# teardown finds everything by tag, in the stack's region: REGION, else the
# spec's, else the AWS configuration's.
$(STACKS:=-down): %-down: $(TOOLS)
	@set -e; doc='$(OUT_DIR)/$*-$(ENV).json'; \
	if [ -s "$$doc" ]; then \
	  teardown < "$$doc" > /dev/null; rm "$$doc"; \
	else \
	  region='$(REGION)'; region=$${region:-$$(jq -r '.region // empty' stacks/$*.json)}; \
	  teardown -n --stack $* --env '$(ENV)' $${region:+--region "$$region"} > /dev/null; \
	fi; \
	echo "$*/$(ENV) is down" >&2
