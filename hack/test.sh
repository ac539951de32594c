#!/usr/bin/env bash
# The project's test command (README and CI run exactly this): unit, integration and
# end-to-end tests in Rust, and the emulator's conformance test with the official Python SDK.
# Brings the local cluster up when it is not already, and takes it down again afterwards.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# shellcheck source=lib/versions.sh
source hack/lib/versions.sh
venv=$(hack/venv.sh)
cargo build --workspace --all-targets
hack/cluster.sh build

if ! hack/cluster.sh status >/dev/null 2>&1; then
  hack/cluster.sh up
  trap 'hack/cluster.sh down' EXIT
fi
eval "$(hack/cluster.sh env)"
# Built with the ground (hack/cluster.sh up): the chart's tests (tests/helm.rs) run it.
export HELM="$GROUND_BIN/helm-$HELM_VERSION"
# Read from the module cache, never committed.
module_dir() { go mod download -json "$1" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p'; }
KRUISE_MODULE_DIR=$(module_dir "github.com/openkruise/kruise@$KRUISE_VERSION")
export KRUISE_MODULE_DIR
KRUISE_GAME_MODULE_DIR=$(module_dir "github.com/openkruise/kruise-game@$KRUISE_GAME_VERSION")
export KRUISE_GAME_MODULE_DIR
# OpenKruise Game's side of tests/e2e_okg.rs, from its Go module (never vendored): okg-harness,
# which imports it, and kruise-game-manager itself (a `tool` of that module, same version).
grep -q "github.com/openkruise/kruise-game $KRUISE_GAME_VERSION" tests/okg/harness/go.mod ||
  { echo "tests/okg/harness/go.mod does not require kruise-game $KRUISE_GAME_VERSION" >&2; exit 1; }
(cd tests/okg/harness &&
  go build -buildvcs=false -o "$root/target/okg-harness" . &&
  go build -buildvcs=false -o "$root/target/kruise-game-manager" github.com/openkruise/kruise-game)
export OKG_HARNESS="$root/target/okg-harness"
export KRUISE_GAME_MANAGER="$root/target/kruise-game-manager"
# End-to-end tests read the emulator through the official SDK too (tests/sdk/).
export SDK_PYTHON="$venv/bin/python"

cargo test --workspace --no-fail-fast
# The CLB end-to-end suite again against the cloud's own timings (CLB tasks of 1-3 s, batch
# locks up to 10 s: examples/emulator-realistic.toml), where orderings the fast demo cloud
# never produces happen.
DAC_E2E_PROFILE=realistic cargo test -p dedicated-address-controller --test e2e_clb
EMULATOR_BIN="$root/target/debug/tencentcloud-emulator" \
  "$venv/bin/python" -W error -m pytest -q emulator/conformance
