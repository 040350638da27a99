#!/usr/bin/env bash
# ohi (seed 004): eleven services sized per env (prod, staging, dev: the seed's
# table in `sizes`), four behind the ALB, internal ones on {env}.ohi.local,
# background jobs without a load balancer, Spot in dev, scaling per env; in
# eu-west-1 unless REGION says otherwise.
#
#   ENV=prod scripts/ohi.sh               -> out/ohi-prod.json
. "$(dirname "$0")/lib/stack.sh" ohi

# Logs are kept 30 days in prod and 7 elsewhere. The spec has no per-env
# retention, so jq sets every service's before the pipeline starts.
days=7
if [[ $ENV == prod ]]; then days=30; fi

jq --argjson days "$days" '.spec.services[].log_retention_days = $days' "$spec" \
  | net-up --env "$ENV" "${region[@]}" \
  | ecr-up | secrets-up | cluster-up | alb-up | svc-up | scale-up > "$tmp"
save
