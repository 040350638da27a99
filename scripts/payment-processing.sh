#!/usr/bin/env bash
# payment-processing (seed 003): api-gateway, payment-processor and
# fraud-detector (1 vCPU / 2 GB, port 8080, 2-10 tasks on CPU and memory), found
# through Cloud Map as *.payment.local, in us-east-1 over 3 AZs with one NAT
# gateway, KMS-encrypted logs kept 30 days. The images are the seed's public
# placeholders; the ECR repositories are there for the real ones.
#
#   ENV=dev scripts/payment-processing.sh -> out/payment-processing-dev.json
. "$(dirname "$0")/lib/stack.sh" payment-processing

up
save
