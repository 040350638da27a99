#!/usr/bin/env bash
# Benchmark: wall-clock figures for the tools against the local emulator.
#
#   scripts/bench.sh            uses the debug build
#   PROFILE=release scripts/bench.sh   uses target/release (make bench builds it)
#
# Prints, per measurement, the median of ROUNDS runs in milliseconds: a tool's own
# start-up (--help, and a run that fails validation before any call), a whole-stack
# bring-up, the no-op re-run (the converge check cost), and teardown.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
profile=${PROFILE:-debug}
export PATH=${CARGO_TARGET_DIR:-$HOME/.cache/fargate-pipes/target}/$profile:$PATH
export FP_EMULATOR_PORT=${FP_EMULATOR_PORT:-4597}
rounds=${ROUNDS:-5}
stack_file=$root/stacks/microservices.json

started=0
if ! "$root/scripts/local-aws" status 2>/dev/null; then started=1; fi
eval "$("$root/scripts/local-aws" start)"
cleanup() { if [[ $started == 1 ]]; then "$root/scripts/local-aws" stop; fi; }
trap cleanup EXIT

# A failed run would measure nothing: stop the benchmark instead.
ms() {
  local s e; s=$(date +%s%N)
  "$@" >/dev/null 2>&1 || { echo "bench: '$*' failed" >&2; return 1; }
  e=$(date +%s%N); echo $(((e - s) / 1000000))
}
# For the runs that must be refused (validation before any AWS call).
refused() { if "$@"; then return 1; fi; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
report() { printf '%-44s %6s ms  (median of %s)\n' "$1" "$2" "$rounds"; }

pipeline() { net-up --env "bench$1" < "$stack_file" | ecr-up | secrets-up | cluster-up | alb-up | svc-up | scale-up > "/tmp/fp-bench-$1.json"; }
rerun() { net-up < "/tmp/fp-bench-$1.json" | ecr-up | secrets-up | cluster-up | alb-up | svc-up | scale-up > /dev/null; }
down() { teardown --force-delete-secrets < "/tmp/fp-bench-$1.json" > /dev/null; }

echo "fargate-pipes benchmark ($profile build, emulator at $AWS_ENDPOINT_URL)"
report "start-up: net-up --help" "$(for _ in $(seq "$rounds"); do ms net-up --help; done | median)"
report "start-up: invalid CIDR rejected (no AWS call)" "$(for _ in $(seq "$rounds"); do ms refused net-up -n --stack b --env dev --cidr 1.2.3.4/99; done | median)"
up=() again=() gone=()
for i in $(seq "$rounds"); do
  up+=("$(ms pipeline "$i")")
  again+=("$(ms rerun "$i")")
  gone+=("$(ms down "$i")")
done
report "up: all seven tools (microservices stack)" "$(printf '%s\n' "${up[@]}" | median)"
report "re-run (nothing to change)" "$(printf '%s\n' "${again[@]}" | median)"
report "teardown" "$(printf '%s\n' "${gone[@]}" | median)"
