#!/usr/bin/env bash
# Benchmark: the tools against the local emulator at an AWS-like latency, every
# figure side by side in one run (make bench: the release build).
#
#   scripts/bench.sh                    the debug build
#   PROFILE=release scripts/bench.sh    target/release (make bench builds it)
#   LATENCY_MS=50 MAX_IN_FLIGHT=16 SERVICES=50 scripts/bench.sh
#   UNSCALED=1 scripts/bench.sh         also AWS's waits unscaled (NAT 90 s): 4 more minutes
#
# The emulator runs behind the fault proxy (tests/faults.py), which adds
# LATENCY_MS to every call, answers "Rate exceeded" past MAX_IN_FLIGHT calls at
# once to one AWS service, and counts per run: calls, mutating calls, strictly
# sequential calls (started while no other call was in flight: the part of the
# wall time concurrency could not hide), and the peak of calls in flight overall
# and per AWS service. Measured: the microservices stack through the README's
# linear pipeline and through `make microservices`, its no-op re-run and
# teardown; a plain sequential boto3 script of the same stack (the peer,
# scripts/bench/peer.py); a generated SERVICES-service stack up, re-run and
# down. Quote figures with the machine and date this prints.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
profile=${PROFILE:-debug}
bin=${CARGO_TARGET_DIR:-$HOME/.cache/fargate-pipes/target}/$profile
export PATH=$bin:$PATH
latency=${LATENCY_MS:-50}
scale=${TIME_SCALE:-0.0333}
limit=${MAX_IN_FLIGHT:-16}
many=${SERVICES:-50}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$root/scripts/local-aws" install >&2
coproc EMULATOR {
  exec "$root/.venv/bin/python" "$root/scripts/emulator.py" --port 0 --exit-with-parent --faults 2>"$work/emulator.log"
}
read -r -t 60 line <&"${EMULATOR[0]}" || true
[[ $line == "ready "* ]] || { echo "bench: the emulator did not start: $(tail -3 "$work/emulator.log")" >&2; exit 1; }
export AWS_ENDPOINT_URL=${line#ready } AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1
unset AWS_PROFILE
export FP_LOCK_WAIT=0

# plan [TIMING]: a new plan (and fresh counters); TIMING is the timing model's
# setting, e.g. {"scale": 0.0333}: NAT gateways, ALBs and namespaces take
# AWS's time (90 s, 150 s, 45 s) times that before they are ready.
plan() {
  curl -sf -X POST "$AWS_ENDPOINT_URL/_faults/plan" \
    -d "{\"latency_ms\": $latency, \"max_in_flight\": $limit, \"timing\": ${1:-null}}" >/dev/null
}
state() { curl -sf "$AWS_ENDPOINT_URL/_faults/state"; }

# measure LABEL CMD...: one row. A failed run measures nothing: the benchmark stops.
# With LONGEST (seconds: the longest single wait on the run's critical path),
# the row also gives wall time / LONGEST.
measure() {
  local label=$1 s e; shift
  plan "${TIMING:-}"
  s=$(date +%s%N)
  "$@" >/dev/null 2>"$work/last.log" || { echo "bench: $label failed:" >&2; tail -5 "$work/last.log" >&2; exit 1; }
  e=$(date +%s%N)
  state | jq -r --arg run "$label" --arg wall "$(((e - s) / 1000000))" --arg longest "${LONGEST:-}" '
    (.peak_in_flight_by_service | to_entries | max_by(.value) // {key: "-", value: 0}) as $p
    | ($wall | tonumber / 1000) as $w
    | [$run, ($w | tostring | .[0:6]) + " s", .calls,
       .mutations, .sequential, .peak_in_flight, "\($p.value) (\($p.key))", (.injected.over_limit // 0),
       (if $longest == "" then "-" else ($w / ($longest | tonumber) * 100 | round / 100 | tostring) + "x" end)]
    | @tsv'
}

stack=$root/stacks/microservices.json
pipeline() { net-up --env "$1" < "$2" | ecr-up | secrets-up | cluster-up | alb-up | svc-up | scale-up > "$work/$1.json"; }
rerun() { net-up < "$work/$1.json" | ecr-up | secrets-up | cluster-up | alb-up | svc-up | scale-up > /dev/null; }
down() { teardown --force-delete-secrets < "$work/$1.json"; }
script_up() { ENV=$1 BIN=$bin OUT=$work/$1.json "$root/scripts/${2:-microservices}.sh"; }
peer() { "$root/.venv/bin/python" "$root/scripts/bench/peer.py" "$stack" "peer$$"; }

# A stack of N copies of the api service: its own path, target group, role,
# security group, log group, ECR repository and scaling each.
jq --argjson n "$many" '
  .stack = "bench" | .spec.services.api as $api
  | .spec.services = ([range(1; $n + 1) | "s\(.)" as $s
      | {key: $s, value: ($api | .route.paths = ["/\($s)/*"])}] | from_entries)' "$stack" > "$work/many.json"

cores=$(nproc)
cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
echo "fargate-pipes benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $cores cores ($cpu), load $(cut -d' ' -f1 /proc/loadavg), $profile build, commit $(git -C "$root" rev-parse --short HEAD)"
echo "injected latency: $latency ms per call; more than $limit calls in flight to one AWS service answered \"Rate exceeded\""
echo
{
  printf 'run\twall\tcalls\tmutating\tsequential\tpeak in flight\tpeak per service\tover limit\tvs longest wait\n'
  measure "microservices: up, linear pipeline" pipeline bench1 "$stack"
  measure "microservices: no-op re-run" rerun bench1
  measure "microservices: teardown" down bench1
  measure "microservices: up, make microservices" script_up bench2
  measure "microservices: teardown (make's document)" down bench2
  measure "microservices: up, sequential boto3 peer" peer
  measure "$many services: up, linear pipeline" pipeline bench3 "$work/many.json"
  measure "$many services: no-op re-run" rerun bench3
  measure "$many services: teardown" down bench3
  nat=$(awk -v s="$scale" 'BEGIN {printf "%.1f", 90 * s}')
  TIMING="{\"scale\": $scale}" LONGEST=$nat measure "microservices: make, AWS waits x$scale (NAT $nat s)" script_up bench4
  TIMING="{\"scale\": $scale}" LONGEST=$nat measure "trading: make, AWS waits x$scale (NAT $nat s)" script_up bench5 trading
  if [[ -n ${UNSCALED:-} ]]; then
    TIMING='{"scale": 1}' LONGEST=90 measure "microservices: make, AWS waits unscaled (NAT 90 s)" script_up bench6
    TIMING='{"scale": 1}' LONGEST=90 measure "trading: make, AWS waits unscaled (NAT 90 s)" script_up bench7 trading
  fi
} | column -t -s $'\t'
echo
echo "sequential: calls started while no other call was in flight. AWS waits: NAT 90 s, ALB 150 s and"
echo "Cloud Map namespace 45 s, scaled; the NAT wait is the longest on both stacks' critical path."
