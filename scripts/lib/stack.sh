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
# region (flags for net-up), and `save`, which moves $tmp to $OUT only when the
# whole pipeline succeeded, so a failed run never replaces a good document.
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
trap 'rm -f "$tmp"' EXIT

save() {
  mv "$tmp" "$OUT"
  echo "$stack/$ENV is up: $OUT" >&2
}
