#!/usr/bin/env bash
# microservices (seed 000): api, worker and scheduler (512 CPU / 1 GB, 2 tasks,
# 2-10 at 70% CPU) behind one ALB by path, in eu-central-1 over 2 AZs with a NAT
# gateway per AZ; ECR keeping 10 images, two secrets, logs kept 7 days.
#
#   ENV=dev scripts/microservices.sh      -> out/microservices-dev.json
. "$(dirname "$0")/lib/stack.sh" microservices

# Every layer: network, registries, secrets (never their values), cluster, load
# balancer, services, auto scaling (`up`, scripts/lib/stack.sh: the layers that
# need only the spec run at once). The README's linear pipeline does the same.
up
save
