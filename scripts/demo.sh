#!/usr/bin/env bash
# The main job on the local emulator: start it (installing it if needed), bring a
# reference stack up through its pipeline script (default scripts/microservices.sh:
# net-up | ecr-up | secrets-up | cluster-up | alb-up | svc-up | scale-up), print a
# summary, run it again to show nothing changes, tear it down, check that nothing
# is left, and stop the emulator.
#
#   scripts/demo.sh [STACK]     ENV=dev by default
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export PATH=${BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/fargate-pipes/target}/debug}:$PATH
export FP_EMULATOR_PORT=${FP_EMULATOR_PORT:-4598}
stack=${1:-microservices}
export ENV=${ENV:-dev}
# Not out/<stack>-<env>.json: that is `make <stack>`'s document, perhaps of a
# stack on real AWS, and the demo must not overwrite it.
export OUT=$root/out/demo-$stack-$ENV.json
# The emulator only: the stack's own region, not another one from the environment.
unset REGION

started=0
if ! "$root/scripts/local-aws" status 2>/dev/null; then started=1; fi
eval "$("$root/scripts/local-aws" start)"
cleanup() { if [[ $started == 1 ]]; then "$root/scripts/local-aws" stop; fi; }
trap cleanup EXIT

echo "== up: scripts/$stack.sh (ENV=$ENV)" >&2
time "$root/scripts/$stack.sh"
doc=$OUT
region=$(jq -r .region "$doc")

echo "== summary (jq over $doc)" >&2
jq '{
  stack, env, region,
  vpc: .network.vpc_id,
  nat_gateways: (.network.nat_gateway_ids | length),
  alb_dns_name: .alb.dns_name,
  routes: ((.alb.rules // {}) | map_values(.priority)),
  repositories: ((.ecr.repositories // {}) | map_values(.url)),
  secrets: ((.secrets // {}) | map_values(.arn)),
  cluster: .cluster.name,
  capacity: .cluster.default_strategy,
  services: ((.services // {}) | map_values({task_definition: .task_definition_arn, image})),
  scaling: ((.scaling // {}) | map_values({min, max, policies: (.policies | keys)}))
}' "$doc"

echo "== re-run: nothing changes" >&2
cp "$doc" "$doc.before"
"$root/scripts/$stack.sh"
if cmp -s "$doc.before" "$doc"; then
  echo "identical document" >&2
else
  echo "the re-run changed the document:" >&2
  diff <(jq -S . "$doc.before") <(jq -S . "$doc") >&2 || true
  exit 1
fi
rm "$doc.before"

echo "== teardown --dry-run | count" >&2
teardown --dry-run < "$doc" | jq -r '.plan | group_by(.kind) | map("\(length) \(.[0].kind)") | .[]' >&2

echo "== teardown" >&2
time (teardown --force-delete-secrets < "$doc" > /dev/null)
rm "$doc"
left=$(teardown -n --stack "$stack" --env "$ENV" --region "$region" --dry-run | jq '.plan | length')
echo "== left behind: $left" >&2
[[ $left == 0 ]]
