#!/usr/bin/env bash
# ohi (seed 004): eleven services sized per env (prod, staging, dev: the seed's
# table, in each service's `envs`), with the seed's DATABASE_HOST, REDIS_HOST
# and LOG_LEVEL and its log retention (30 days in prod, 7 elsewhere) per env,
# four behind the ALB, internal ones on {env}.ohi.local, background jobs
# without a load balancer, Spot in dev, scaling per env; in eu-west-1 unless
# REGION says otherwise.
#
#   ENV=prod scripts/ohi.sh               -> out/ohi-prod.json
. "$(dirname "$0")/lib/stack.sh" ohi

up
save
