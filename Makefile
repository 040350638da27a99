# fargate-pipes: build, test, and bring reference stacks up and down.
#
#   make demo        the main job: a platform up and down on the local emulator
#   make test        every test (installs the emulator into .venv first)
#   make lint        rustfmt and clippy, as CI wants them
#   make install     release tools, man pages and completions under PREFIX (/usr/local)
#
# The reference stacks (stacks/NAME.json, scripts/NAME.sh; docs/stacks.md):
#
#   make NAME ENV=dev         bring it up; its document goes to out/NAME-dev.json
#   make NAME-down ENV=dev    tear it down: from that document, or by tag without one
#
#   make NAME-down ENV=prod CONFIRM=NAME/prod   a protected env (prod by default)
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

TOOL_NAMES := net-up ecr-up secrets-up cluster-up alb-up svc-up scale-up teardown
PREFIX ?= /usr/local
RELEASE := $(CARGO_TARGET_DIR)/release

.PHONY: build test lint emulator demo bench install uninstall $(STACKS) $(STACKS:=-down)

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

# The tools, and what `<tool> --generate` makes of their clap definitions: man
# pages and bash, zsh and fish completions.
install:
	cargo build --workspace --release
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
	  $(DESTDIR)$(PREFIX)/share/zsh/site-functions \
	  $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	@set -e; for t in $(TOOL_NAMES); do \
	  install -m 755 $(RELEASE)/$$t $(DESTDIR)$(PREFIX)/bin/$$t; \
	  $(RELEASE)/$$t --generate man > $(DESTDIR)$(PREFIX)/share/man/man1/$$t.1; \
	  $(RELEASE)/$$t --generate bash > $(DESTDIR)$(PREFIX)/share/bash-completion/completions/$$t; \
	  $(RELEASE)/$$t --generate zsh > $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_$$t; \
	  $(RELEASE)/$$t --generate fish > $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/$$t.fish; \
	done; echo "installed $(TOOL_NAMES) under $(DESTDIR)$(PREFIX)" >&2

uninstall:
	@for t in $(TOOL_NAMES); do \
	  rm -f $(DESTDIR)$(PREFIX)/bin/$$t $(DESTDIR)$(PREFIX)/share/man/man1/$$t.1 \
	    $(DESTDIR)$(PREFIX)/share/bash-completion/completions/$$t \
	    $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_$$t \
	    $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/$$t.fish; \
	done

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
	  teardown $(if $(CONFIRM),--confirm $(CONFIRM)) < "$$doc" > /dev/null; rm "$$doc"; \
	else \
	  region='$(REGION)'; region=$${region:-$$(jq -r '.region // empty' stacks/$*.json)}; \
	  teardown -n --stack $* --env '$(ENV)' $(if $(CONFIRM),--confirm $(CONFIRM)) $${region:+--region "$$region"} > /dev/null; \
	fi; \
	echo "$*/$(ENV) is down" >&2
