#!/usr/bin/env bash
# Benchmarks: figures, not pass/fail. Brings the local cluster up when it is not already (and
# down again afterwards).
#
#   hack/bench.sh          for each built-in provider, the time from `kubectl apply` to the last
#                          of 20 Pods x 2 ports bound, and the cloud write calls it took
#   hack/bench.sh --fleet [clb|natgw|eip ...]
#                          300 Pods x 16 ports for one service (clb: over 100 CLBs; natgw: over
#                          3 gateways; eip: from a warm pool), 1 s cloud tasks, the release build:
#                          time to bind, cloud writes against the minimum, API server requests
#                          per Pod port, the machine's CPU and who used it, RSS, a quiet minute,
#                          scaling to 0
#                          (sizes: FLEET_PODS, FLEET_CLBS, FLEET_TASK_MS, FLEET_QUIET_SECS;
#                          FLEET_BYSTANDERS more Pods the service does not select)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! hack/cluster.sh status >/dev/null 2>&1; then
  hack/cluster.sh up
  trap 'hack/cluster.sh down' EXIT
fi
eval "$(hack/cluster.sh env)"
if [ "${1:-}" = "--fleet" ]; then
  shift
  # The providers to run (default all three), one after another.
  FLEET_PROVIDERS="${*:-clb natgw eip}"
  export FLEET_PROVIDERS
  # The controller logs at info, as deployed (debug lines for 4,800 ports cost CPU of their own).
  DAC_TEST_CONTROLLER_LOG=${DAC_TEST_CONTROLLER_LOG:-info} cargo test --release --quiet -p dedicated-address-controller --test bench_fleet -- --ignored --nocapture 2>&1 |
    grep -E '^(fleet|error)|panicked|FAILED'
  exit 0
fi
cargo test --quiet -p dedicated-address-controller --test bench_bind -- --ignored --nocapture 2>&1 |
  grep -E 'Pods x 2 ports|^error|panicked|FAILED'
