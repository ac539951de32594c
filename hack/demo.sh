#!/usr/bin/env bash
# The demo: a local Kubernetes control plane, the Tencent Cloud emulator, the controller (with
# its own ServiceAccount's RBAC) and seed 000's example: a StatefulSet of game servers whose every
# TCP/UDP port gets its own CLB listener. Prints the addresses, then stops what it started.
#
#   hack/demo.sh           run, print, clean up
#   hack/demo.sh --keep    leave everything running (stop with: hack/demo.sh --stop)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
# shellcheck source=lib/versions.sh
source hack/lib/versions.sh
# Outside .ground: hack/cluster.sh owns that directory and refuses to start over a stranger's.
STATE="$ROOT/.demo"
KUBECTL="$GROUND_BIN/kubectl"

# Deleting the example while the controller still runs releases its listeners, so the next run
# starts from a clean cloud.
remove_example() {
  "$KUBECTL" delete --ignore-not-found --timeout 60s -f examples/clb/dedicatedclbservice.yaml >/dev/null 2>&1 || true
  "$KUBECTL" -n demo delete --ignore-not-found --wait=false statefulset gameserver >/dev/null 2>&1 || true
}

stop_demo() {
  for name in controller emulator; do
    if [ -f "$STATE/$name.pid" ]; then
      kill "$(cat "$STATE/$name.pid")" 2>/dev/null || true
      rm -f "$STATE/$name.pid"
    fi
  done
}

if [ "${1:-}" = "--stop" ]; then
  remove_example
  stop_demo
  [ -f "$STATE/started-ground" ] && hack/cluster.sh down
  exit 0
fi
keep=false
[ "${1:-}" = "--keep" ] && keep=true

# Both binaries, by name: `--bin` alone would build only the first package's.
cargo build --quiet -p dedicated-address-controller --bin dedicated-address-controller \
  -p tencentcloud-emulator --bin tencentcloud-emulator
for binary in dedicated-address-controller tencentcloud-emulator; do
  [ -x "target/debug/$binary" ] || { echo "the build left no target/debug/$binary" >&2; exit 1; }
done
mkdir -p "$STATE"
started_ground=false
if ! hack/cluster.sh status >/dev/null 2>&1; then
  hack/cluster.sh up
  started_ground=true
fi
eval "$(hack/cluster.sh env)"
if ! $keep; then
  # shellcheck disable=SC2064
  trap "remove_example; stop_demo; $started_ground && hack/cluster.sh down" EXIT
elif $started_ground; then
  touch "$STATE/started-ground"
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Fails fast, naming the cause, when a process the demo started has died.
check_alive() {
  local name="$1"
  if ! kill -0 "$(cat "$STATE/$name.pid")" 2>/dev/null; then
    echo "the $name exited; last lines of $STATE/$name.log:" >&2
    tail -30 "$STATE/$name.log" >&2
    exit 1
  fi
}

# Waits until `curl` gets an answer from $2, failing fast if process $1 dies first.
wait_serving() {
  local name="$1" url="$2" i
  for i in $(seq 100); do
    curl -s -o /dev/null "$url" && return 0
    check_alive "$name"
    sleep 0.1
  done
  echo "the $name does not answer at $url; last lines of $STATE/$name.log:" >&2
  tail -30 "$STATE/$name.log" >&2
  exit 1
}

echo "== cloud emulator"
emulator_port=$(free_port)
target/debug/tencentcloud-emulator --listen "127.0.0.1:$emulator_port" --config examples/emulator.toml \
  --state-file "$STATE/emulator-state.json" >"$STATE/emulator.log" 2>&1 &
echo $! >"$STATE/emulator.pid"
wait_serving emulator "http://127.0.0.1:$emulator_port/_emulator/state"

echo "== CRDs, RBAC and the controller"
"$KUBECTL" apply --server-side -f deploy/crds/crds.yaml -f deploy/namespace.yaml -f deploy/rbac.yaml >/dev/null
"$KUBECTL" wait --for condition=Established --timeout 60s crd --all >/dev/null
token=$("$KUBECTL" -n dedicated-address-system create token dedicated-address-controller --duration 2h)
server=$("$KUBECTL" config view --minify -o jsonpath='{.clusters[0].cluster.server}')
ca=$("$KUBECTL" config view --minify --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
cat >"$STATE/controller.kubeconfig" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters: [{name: demo, cluster: {server: "$server", certificate-authority-data: "$ca"}}]
users: [{name: controller, user: {token: "$token"}}]
contexts: [{name: demo, context: {cluster: demo, user: controller}}]
current-context: demo
KUBECONFIG
cat >"$STATE/config.yaml" <<CONFIG
cluster: {id: demo, region: ap-guangzhou, vpcCidrs: [10.0.0.0/8]}
cloud: {endpoint: "http://127.0.0.1:$emulator_port", credentials: {source: env}}
providers:
  clb: {enabled: true, batchWindowMs: 100}
CONFIG
metrics_port=$(free_port)
KUBECONFIG="$STATE/controller.kubeconfig" TENCENTCLOUD_SECRET_ID=AKIDEMULATOR TENCENTCLOUD_SECRET_KEY=emulator-secret-key \
  target/debug/dedicated-address-controller --config "$STATE/config.yaml" --listen "127.0.0.1:$metrics_port" \
  >"$STATE/controller.log" 2>&1 &
echo $! >"$STATE/controller.pid"
wait_serving controller "http://127.0.0.1:$metrics_port/healthz"

echo "== seed 000's example: 3 game servers x (TCP 9000, UDP 8000)"
# A namespace left terminating by an earlier run must be gone before it can be made again.
"$KUBECTL" wait --for=delete namespace/demo --timeout=120s >/dev/null 2>&1 || true
"$KUBECTL" apply -f examples/clb/gameserver.yaml -f examples/clb/dedicatedclbservice.yaml >/dev/null
started=$(date +%s%N)
jsonpath='{.status.conditions[?(@.type=="Ready")].status} {.status.boundPorts}/{.status.totalPorts}'
while :; do
  # jsonpath prints no trailing newline, so `read` reports end of input: not an error here.
  read -r ready progress < <("$KUBECTL" -n demo get dedicatedclbservice gameserver -o jsonpath="$jsonpath" 2>/dev/null) || true
  # 3 Pods x 2 ports; Ready alone is also true for a service whose Pods do not exist yet.
  [ "$ready" = "True" ] && [ "$progress" = "6/6" ] && break
  elapsed=$(( ($(date +%s%N) - started) / 1000000000 ))
  check_alive controller
  check_alive emulator
  if [ "$elapsed" -gt 120 ]; then
    echo "not bound after 120 s; controller log:" >&2
    tail -30 "$STATE/controller.log" >&2
    exit 1
  fi
  echo "  waiting for every Pod port to be bound: ${progress:-none yet} (${elapsed}s)"
  sleep 1
done
echo "all bound $(( ($(date +%s%N) - started) / 1000000 )) ms after kubectl apply"
echo
"$KUBECTL" -n demo get dedicatedclbservices,dedicatedclblisteners
echo
echo "== the addresses, as the Pods see them (annotations)"
"$KUBECTL" -n demo get pods -o custom-columns='POD:.metadata.name,IP:.status.podIP,TCP-9000:.metadata.annotations.networking\.cloud\.tencent\.com/external-address-9000,UDP-8000:.metadata.annotations.networking\.cloud\.tencent\.com/external-address-8080'
echo
echo "== metrics: http://127.0.0.1:$metrics_port/metrics"
metrics=$(curl -s "http://127.0.0.1:$metrics_port/metrics")
echo "$metrics" | grep -E '^dedicated_address_(bound_addresses|reconciles_total)' || true
writes=$(echo "$metrics" | grep '^dedicated_address_cloud_calls_total' \
  | grep -E 'action="(Create|Delete|Modify|Register|Deregister|Batch|Allocate|Associate|Disassociate|Release)' \
  | awk '{ sum += $NF } END { print sum + 0 }')
echo "cloud write calls (retries included): $writes"
if $keep; then
  echo "still running; stop with: hack/demo.sh --stop"
fi
