#!/usr/bin/env bash
# payment-migration (seed 002): one payment-processor service (2 vCPU / 4 GB,
# 3-10 tasks on CPU 70% and memory 80%, alarms) deployed blue/green through
# CodeDeploy, in us-east-2 over 2 AZs with one NAT gateway and ECR/S3 endpoints,
# KMS-encrypted logs, ECS Exec, a secret without a value, the seed's tags.
#
#   ENV=dev scripts/payment-migration.sh  -> out/payment-migration-dev.json
. "$(dirname "$0")/lib/stack.sh" payment-migration

# The compliance tags sit in the spec; the seed's `environment` tag varies with
# the env, so it is given here (the first tools add it to the document's tags,
# and every later tool tags with it).
up --tag environment="$ENV"
save
