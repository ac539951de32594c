#!/usr/bin/env bash
# Prints, for each built-in provider, how long the controller takes to bind 20 Pods x 2 ports
# from `kubectl apply` to the last address, and how many cloud write calls it made.
# Brings the local cluster up when it is not already (and down again afterwards).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! hack/cluster.sh status >/dev/null 2>&1; then
  hack/cluster.sh up
  trap 'hack/cluster.sh down' EXIT
fi
eval "$(hack/cluster.sh env)"
cargo test --quiet -p dedicated-address-controller --test bench_bind -- --ignored --nocapture 2>&1 |
  grep -E 'Pods x 2 ports|panicked|FAILED'
