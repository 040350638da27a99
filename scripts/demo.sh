#!/usr/bin/env bash
# The main job on the local emulator: start it (installing it if needed), bring the
# microservices reference stack up through the pipeline, print a summary, tear it
# down, check that nothing is left, and stop the emulator.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export PATH=${CARGO_TARGET_DIR:-$HOME/.cache/fargate-pipes/target}/debug:$PATH
export FP_EMULATOR_PORT=${FP_EMULATOR_PORT:-4598}
stack_file=${1:-$root/stacks/microservices.json}
env=${ENV:-dev}

started=0
if ! "$root/scripts/local-aws" status 2>/dev/null; then started=1; fi
eval "$("$root/scripts/local-aws" start)"
cleanup() { if [[ $started == 1 ]]; then "$root/scripts/local-aws" stop; fi; }
trap cleanup EXIT

mkdir -p "$root/out"
doc=$root/out/demo-$env.json
echo "== up: net-up --env $env < $(basename "$stack_file") | ecr-up | secrets-up | cluster-up | alb-up" >&2
time (net-up --env "$env" -v < "$stack_file" | ecr-up -v | secrets-up -v | cluster-up -v | alb-up -v | svc-up -v > "$doc")

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
  services: ((.services // {}) | map_values({task_definition: .task_definition_arn, image})),
  capacity: .cluster.default_strategy
}' "$doc"

echo "== re-run: nothing changes" >&2
net-up < "$doc" | ecr-up | secrets-up | cluster-up | alb-up | svc-up | cmp -s - "$doc" && echo "identical document" >&2

echo "== teardown --dry-run | count" >&2
teardown --dry-run < "$doc" | jq -r '.plan | group_by(.kind) | map("\(length) \(.[0].kind)") | .[]' >&2

echo "== teardown" >&2
time (teardown --force-delete-secrets < "$doc" > /dev/null)
left=$(teardown -n --stack "$(jq -r .stack "$doc")" --env "$env" --dry-run | jq '.plan | length')
echo "== left behind: $left" >&2
[[ $left == 0 ]]
