#!/usr/bin/env bash
# The project's test command (README and CI run exactly this): unit, integration and
# end-to-end tests in Rust, and the emulator's conformance test with the official Python SDK.
# Brings the local cluster up when it is not already, and takes it down again afterwards.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

venv=$(hack/venv.sh)
cargo build --workspace --all-targets

if ! hack/cluster.sh status >/dev/null 2>&1; then
  hack/cluster.sh up
  trap 'hack/cluster.sh down' EXIT
fi
eval "$(hack/cluster.sh env)"

cargo test --workspace --no-fail-fast
EMULATOR_BIN="$root/target/debug/tencentcloud-emulator" \
  "$venv/bin/python" -W error -m pytest -q emulator/conformance
