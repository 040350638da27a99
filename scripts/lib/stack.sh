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
# Layers that need only the spec run at once, each on its own copy of the
# document: net-up; ecr-up; secrets-up then cluster-up (which needs the
# secrets). Each tool writes only its own sections, so a deep merge of the three
# copies (jq's `*`) is the document the linear pipeline would have made. The
# layers that need the network follow. Each layer takes its own lock, so two
# runs of one stack still never run one layer at once. When a branch fails, the
# others finish their layer (a re-run resumes), and up exits with its code.
up() {
  local first=(--env "$ENV" "${region[@]}" "$@") pids=() code=0 pid rc
  net-up "${first[@]}" < "$spec" > "$parts/net.json" & pids+=($!)
  ecr-up "${first[@]}" < "$spec" > "$parts/ecr.json" & pids+=($!)
  { secrets-up "${first[@]}" < "$spec" | cluster-up > "$parts/cluster.json"; } & pids+=($!)
  for pid in "${pids[@]}"; do
    wait "$pid" && continue
    rc=$?
    [[ $code -ne 0 ]] || code=$rc
  done
  [[ $code -eq 0 ]] || exit "$code"
  jq -s 'reduce .[] as $part ({}; . * $part)' "$parts"/{net,ecr,cluster}.json \
    | alb-up | svc-up | scale-up > "$tmp"
}

save() {
  mv "$tmp" "$OUT"
  echo "$stack/$ENV is up: $OUT" >&2
}
