#!/usr/bin/env bash
# Benchmarks: figures, not pass/fail. Brings the local cluster up when it is not already (and
# down again afterwards).
#
#   hack/bench.sh          for each built-in provider, the time from `kubectl apply` to the last
#                          of 20 Pods x 2 ports bound, and the cloud write calls it took
#   hack/bench.sh --fleet  one service over 100 CLBs, 300 Pods x 16 ports, 1 s cloud tasks, the
#                          release build: time to bind, cloud writes against the minimum, API
#                          server requests per Pod port, kube-apiserver CPU, RSS, a quiet minute,
#                          scaling to 0 (sizes: FLEET_PODS, FLEET_CLBS, FLEET_TASK_MS,
#                          FLEET_QUIET_SECS)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! hack/cluster.sh status >/dev/null 2>&1; then
  hack/cluster.sh up
  trap 'hack/cluster.sh down' EXIT
fi
eval "$(hack/cluster.sh env)"
if [ "${1:-}" = "--fleet" ]; then
  # The controller logs at info, as deployed (debug lines for 4,800 ports cost CPU of their own).
  DAC_TEST_CONTROLLER_LOG=${DAC_TEST_CONTROLLER_LOG:-info} cargo test --release --quiet -p dedicated-address-controller --test bench_fleet -- --ignored --nocapture 2>&1 |
    grep -E '^(fleet|last Pod|cloud write|controller|kube-apiserver|quiet|scale)|panicked|FAILED'
  exit 0
fi
cargo test --quiet -p dedicated-address-controller --test bench_bind -- --ignored --nocapture 2>&1 |
  grep -E 'Pods x 2 ports|panicked|FAILED'
