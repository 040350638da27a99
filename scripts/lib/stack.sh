# Sourced by the stack scripts (scripts/<stack>.sh): the settings every stack
# pipeline shares, so each script shows only its pipeline.
#
#   ENV     environment to bring up (default dev)
#   REGION  a region other than the spec's (passed to net-up; later tools read
#           it from the document)
#   OUT     where the document goes (default out/<stack>-<env>.json)
#   BIN     directory of the tools (default: the cargo debug build)
#
# Sets: $spec (the stack spec), $tmp (write the pipeline's output there),
# region (flags for net-up), `up`, which brings the stack up into $tmp, and
# `save`, which moves $tmp to $OUT only when the whole pipeline succeeded, so a
# failed run never replaces a good document.
set -euo pipefail

stack=$1
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export PATH=${BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/fargate-pipes/target}/debug}:$PATH
ENV=${ENV:-dev}
spec=$root/stacks/$stack.json
OUT=${OUT:-$root/out/$stack-$ENV.json}
region=()
if [[ -n ${REGION:-} ]]; then region=(--region "$REGION"); fi

mkdir -p "$(dirname "$OUT")"
tmp=$(mktemp "$OUT.XXXXXX")
parts=$(mktemp -d)
trap 'rm -rf "$tmp" "$parts"' EXIT

# up [FLAG...]: every layer, into $tmp; FLAGs (--tag K=V) go to the first tools.
#
# What overlaps, and why it is safe (docs/architecture.md, "Overlap"):
# 1. The layers that need only the spec run at once, each on its own copy of
#    the document: net-up --no-wait (it makes the NAT gateways but does not wait
#    the minutes AWS takes to make them); ecr-up; secrets-up then cluster-up
#    (which needs the secrets). Each tool writes only its own sections, so a
#    deep merge of the copies (jq's `*`) is what the linear pipeline makes.
# 2. net-up again, which waits for the NAT gateways and routes the private
#    subnets through them, beside alb-up | svc-up | scale-up: the load balancer,
#    roles, log groups, task definitions and Cloud Map namespace are made during
#    the NAT wait, and svc-up starts no task until the routes out exist.
# Each layer takes its own lock, so two runs of one stack never run one layer
# at once. When a branch fails, the others finish their layer (a re-run
# resumes), and up exits with the first failure's code.
up() {
  local first=(--env "$ENV" "${region[@]}" "$@")
  net-up --no-wait "${first[@]}" < "$spec" > "$parts/net.json" & pids+=($!)
  ecr-up "${first[@]}" < "$spec" > "$parts/ecr.json" & pids+=($!)
  { secrets-up "${first[@]}" < "$spec" | cluster-up > "$parts/cluster.json"; } & pids+=($!)
  wait_all
  merge "$parts"/{net,ecr,cluster}.json > "$parts/base.json"
  net-up < "$parts/base.json" > "$parts/routed.json" & pids+=($!)
  { alb-up < "$parts/base.json" | svc-up | scale-up > "$parts/rest.json"; } & pids+=($!)
  wait_all
  merge "$parts"/{rest,routed}.json > "$tmp"
}

# wait_all: waits for the jobs in pids; exits with the first failure's code.
pids=()
wait_all() {
  local code=0 pid rc
  for pid in "${pids[@]}"; do
    wait "$pid" && continue
    rc=$?
    [[ $code -ne 0 ]] || code=$rc
  done
  pids=()
  [[ $code -eq 0 ]] || exit "$code"
}

# merge FILE...: the documents deep-merged, later files winning.
merge() { jq -s 'reduce .[] as $part ({}; . * $part)' "$@"; }

save() {
  mv "$tmp" "$OUT"
  echo "$stack/$ENV is up: $OUT" >&2
}
