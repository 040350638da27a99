#!/usr/bin/env bash
# The main job on the local emulator: start it, bring a network up, show the
# document, tear it down, check nothing is left, stop the emulator.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export PATH=${CARGO_TARGET_DIR:-$HOME/.cache/fargate-pipes/target}/debug:$PATH
export FP_EMULATOR_PORT=${FP_EMULATOR_PORT:-4598}

started=0
if ! "$root/scripts/local-aws" status 2>/dev/null; then started=1; fi
eval "$("$root/scripts/local-aws" start)"
cleanup() { if [[ $started == 1 ]]; then "$root/scripts/local-aws" stop; fi; }
trap cleanup EXIT

stack=demo env=dev
echo "== net-up --stack $stack --env $env --azs 3 --nat per-az" >&2
net-up -n -v --stack $stack --env $env --azs 3 --nat per-az > /tmp/fp-demo.json
echo "== the document (jq .network)" >&2
jq '.network | {vpc_id, azs, public_subnet_ids, private_subnet_ids, nat_gateway_ids, nat_public_ips}' /tmp/fp-demo.json
echo "== teardown --dry-run" >&2
teardown --dry-run < /tmp/fp-demo.json | jq -r '.plan[] | "\(.kind)\t\(.name)\t\(.id)"'
echo "== teardown" >&2
teardown -v < /tmp/fp-demo.json > /dev/null
left=$(teardown -n --stack $stack --env $env --dry-run | jq '.plan | length')
echo "== left behind: $left" >&2
[[ $left == 0 ]]
