#!/usr/bin/env bash
# trading (seed 001): frontend (default route), api-gateway (/api/*) and an
# internal processing service found through Cloud Map, over 3 AZs with a NAT
# gateway per AZ, one on-demand task then Spot 4:1, a security group chain
# ALB -> frontend/api-gateway -> processing. The frontend's API_ENDPOINT
# (`${alb.url}/api`) and api-gateway's PROCESSING_SERVICE_URL
# (`${service.processing.url}`) are references svc-up resolves.
#
#   ENV=dev scripts/trading.sh            -> out/trading-dev.json
. "$(dirname "$0")/lib/stack.sh" trading

up
save
