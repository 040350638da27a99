#!/usr/bin/env bash
# trading (seed 001): frontend (default route), api-gateway (/api/*) and an
# internal processing service found through Cloud Map, over 3 AZs with a NAT
# gateway per AZ, one on-demand task then Spot 4:1, a security group chain
# ALB -> frontend/api-gateway -> processing.
#
#   ENV=dev scripts/trading.sh            -> out/trading-dev.json
. "$(dirname "$0")/lib/stack.sh" trading

# The frontend calls the API through the load balancer and api-gateway calls
# processing by its Cloud Map name ({env}.{stack}.local): those addresses are
# known once alb-up has run, so jq writes them into the spec before svc-up.
net-up --env "$ENV" "${region[@]}" < "$spec" \
  | ecr-up | secrets-up | cluster-up | alb-up \
  | jq '.spec.services.frontend.environment.API_ENDPOINT = "http://\(.alb.dns_name)/api"
      | .spec.services["api-gateway"].environment.PROCESSING_SERVICE_URL
          = "http://processing.\(.env).\(.stack).local:9000"' \
  | svc-up | scale-up > "$tmp"
save
