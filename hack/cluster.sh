#!/usr/bin/env bash
# The test ground: a real Kubernetes control plane on loopback (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler) plus kwok, which plays the kubelets of a few
# fake nodes so that Pods get scheduled, become Running and get Pod IPs.
#
#   hack/cluster.sh build   build what the cache lacks (also helm, for the chart's tests)
#   hack/cluster.sh up      build (if the cache is cold), start, wait until Ready
#   hack/cluster.sh down    stop exactly what `up` started, remove the runtime state
#   hack/cluster.sh env     print `export KUBECONFIG=...`
#   hack/cluster.sh status  print each component's state; non-zero if one is not healthy
#
# Runtime state (certs, pid files, logs, kubeconfig, etcd data) lives in $ROOT/.ground.
# Ports: a free block of 5 loopback ports is picked at random; GROUND_PORT_BASE fixes it.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib/versions.sh
source "$ROOT/hack/lib/versions.sh"
# shellcheck source=lib/build.sh
source "$ROOT/hack/lib/build.sh"

STATE="$ROOT/.ground"
PKI="$STATE/pki"
KUBECONFIG_FILE="$STATE/kubeconfig"
# Start order; `down` stops them in reverse.
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)
# Pod IPs must be VPC IPs of the cloud emulator (10.0.0.0/8); services must not overlap them.
POD_CIDR=10.244.0.0/16
SERVICE_CIDR=172.30.0.0/16
KUBERNETES_SERVICE_IP=172.30.0.1
NODE_COUNT=3
UP_TIMEOUT=${GROUND_UP_TIMEOUT:-120}

log() { echo "ground: $*" >&2; }
die() { log "$*"; exit 1; }

# ---- processes -------------------------------------------------------------------------

pid_of() { cat "$STATE/$1.pid" 2>/dev/null || true; }

# True if the pid file names a live process that still runs our binary (guards against
# a recycled pid: we never signal a process we did not start).
alive() {
  local pid argv0
  pid=$(pid_of "$1")
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  argv0=$(tr '\0' '\n' <"/proc/$pid/cmdline" | head -n 1)
  [ "$argv0" = "$GROUND_BIN/$1" ]
}

log_tail() {
  echo "---- last lines of $STATE/$1.log ----" >&2
  tail -n "${2:-25}" "$STATE/$1.log" >&2 2>/dev/null || echo "(no log)" >&2
  echo "----" >&2
}

# Starts $GROUND_BIN/$1 with the remaining args in its own session (so the caller's
# Ctrl-C or process-group kill does not take the ground down), logging to .ground/$1.log.
# The child writes its own pid before exec, so the pid file is right even if setsid forks.
start() {
  local name="$1"; shift
  rm -f "$STATE/$name.pid"
  # shellcheck disable=SC2016 # $$ and $@ belong to the inner shell
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$STATE/$name.pid" "$GROUND_BIN/$name" "$@" \
    </dev/null >"$STATE/$name.log" 2>&1 &
  local i
  for i in $(seq 50); do [ -s "$STATE/$name.pid" ] && return 0; sleep 0.1; done
  die "$name did not start (no pid file)"
}

STARTED=()
# Fails naming the component and showing its log if one that `up` started has died.
check_started_alive() {
  local name
  for name in "${STARTED[@]}"; do
    alive "$name" || { log "$name exited while starting"; log_tail "$name"; die "$name failed; inspect $STATE, then run hack/cluster.sh down"; }
  done
}

# wait_until DESCRIPTION COMMAND...: polls COMMAND until it succeeds, failing fast if a
# started component dies and failing with DESCRIPTION when the overall deadline passes.
wait_until() {
  local what="$1"; shift
  until "$@" >/dev/null 2>&1; do
    check_started_alive
    [ "$SECONDS" -lt "$DEADLINE" ] || die "timed out after ${UP_TIMEOUT}s waiting for $what"
    sleep 0.25
  done
}

stop() {
  local name="$1" pid i
  alive "$name" || return 0
  pid=$(pid_of "$name")
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 100); do alive "$name" || return 0; sleep 0.1; done
  log "$name (pid $pid) ignored SIGTERM for 10s; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for i in $(seq 50); do alive "$name" || return 0; sleep 0.1; done
  die "$name (pid $pid) is still running after SIGKILL"
}

# ---- ports and API access --------------------------------------------------------------

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Writes .ground/ground.env: a block of 5 consecutive free ports, and the binaries' dir
# (so `down` recognizes its processes even if the versions in the environment change).
# Ports below 32768, so the kernel's ephemeral ports (outgoing connections) cannot take one
# between this check and the bind.
write_state_env() {
  local base p ok
  for _ in $(seq 50); do
    base=${GROUND_PORT_BASE:-$((20000 + RANDOM % 2000 * 5))}
    ok=1
    for p in $(seq "$base" $((base + 4))); do port_free "$p" || { ok=0; break; }; done
    [ "$ok" = 1 ] && break
    [ -z "${GROUND_PORT_BASE:-}" ] || die "GROUND_PORT_BASE=$GROUND_PORT_BASE: port $p is in use"
  done
  [ "$ok" = 1 ] || die "found no free block of loopback ports"
  cat >"$STATE/ground.env" <<EOF
GROUND_BIN=$GROUND_BIN
ETCD_PORT=$base
ETCD_PEER_PORT=$((base + 1))
APISERVER_PORT=$((base + 2))
CONTROLLER_MANAGER_PORT=$((base + 3))
SCHEDULER_PORT=$((base + 4))
EOF
}

# shellcheck disable=SC1091 # written at run time by write_state_env
load_state_env() { [ -f "$STATE/ground.env" ] && source "$STATE/ground.env"; }

# GET/POST against the API server as the admin. A non-curl user agent keeps the JSON
# compact (the API server pretty-prints for curl), which the greps below rely on.
api() {
  curl -sS --fail --max-time 5 -A ground --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
    "https://127.0.0.1:$APISERVER_PORT$1" "${@:2}"
}

healthz() { curl -sSk --fail --max-time 2 "https://127.0.0.1:$1/healthz"; }
etcd_healthy() { curl -sS --fail --max-time 2 "http://127.0.0.1:$ETCD_PORT/health" | grep -q '"health":"true"'; }
apiserver_ready() { [ "$(api /readyz)" = ok ]; }

ready_nodes() { api /api/v1/nodes | grep -o '"type":"Ready","status":"True"' | wc -l; }
nodes_ready() { [ "$(ready_nodes)" -ge "$NODE_COUNT" ]; }
# kwok renews a Lease per node; without them the node-lifecycle controller would mark the
# nodes NotReady (and the Pods on them not Ready) after its 50s grace period.
node_leases_exist() {
  [ "$(api /apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases | grep -o '"holderIdentity"' | wc -l)" -ge "$NODE_COUNT" ]
}
# The service-account controller (controller-manager) creates it in every namespace.
default_sa_exists() { api /api/v1/namespaces/default/serviceaccounts/default >/dev/null; }

# ---- certificates and kubeconfigs ------------------------------------------------------

# Makes a self-signed P-256 CA pki/$1.{key,crt} with common name $2.
ca_cert() {
  openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -config "$PKI/req.cnf" \
    -subj "/CN=$2" -days 365 -keyout "$PKI/$1.key" -out "$PKI/$1.crt" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null
}

# Signs a P-256 leaf certificate pki/$1.{key,crt} for subject $2 with extensions $3,
# by CA $4 (default: ca).
leaf_cert() {
  local name="$1" subject="$2" ext="$3" ca="${4:-ca}"
  openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -config "$PKI/req.cnf" \
    -subj "$subject" -keyout "$PKI/$name.key" -out "$PKI/$name.csr" 2>/dev/null
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/$ca.crt" -CAkey "$PKI/$ca.key" -days 365 \
    -set_serial "0x$(openssl rand -hex 16)" -extfile <(printf '%b' "$ext") -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr"
}

gen_pki() {
  mkdir -p "$PKI" && chmod 700 "$PKI"
  # A minimal request config, so the machine's openssl.cnf cannot add surprises.
  printf '[req]\ndistinguished_name=dn\n[dn]\n' >"$PKI/req.cnf"
  ca_cert ca ground-ca
  # The front-proxy CA lets the controller-manager and scheduler find a request-header CA
  # (delegated authentication), as in kubeadm clusters; without it they log errors.
  ca_cert front-proxy-ca ground-front-proxy-ca
  local client='basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n'
  leaf_cert front-proxy-client "/CN=front-proxy-client" "$client" front-proxy-ca
  leaf_cert apiserver "/CN=kube-apiserver" "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost,IP:$KUBERNETES_SERVICE_IP,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\n"
  leaf_cert admin "/O=system:masters/CN=ground-admin" "$client"
  # The control plane's own identities, bound by the API server's bootstrap RBAC policy.
  leaf_cert controller-manager "/CN=system:kube-controller-manager" "$client"
  leaf_cert scheduler "/CN=system:kube-scheduler" "$client"
  # Signs ServiceAccount tokens (API server) and verifies them.
  openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
  openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
}

b64() { base64 <"$1" | tr -d '\n'; }

# write_kubeconfig FILE CERT-NAME: certs embedded, so the file stands alone.
write_kubeconfig() {
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: ground
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $(b64 "$PKI/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $(b64 "$PKI/$2.crt")
    client-key-data: $(b64 "$PKI/$2.key")
contexts:
- name: ground
  context:
    cluster: ground
    user: $2
current-context: ground
EOF
  chmod 600 "$1"
}

# ---- nodes -----------------------------------------------------------------------------

# The kwok stages ship in the kwok module; read them from the module cache, never copy them.
kwok_stage_args() {
  local dir
  dir=$(go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  [ -d "$dir/kustomize/stage" ] || die "kwok $KWOK_VERSION stages not found (go mod download sigs.k8s.io/kwok@$KWOK_VERSION)"
  local f
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
    pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    [ -f "$dir/kustomize/stage/$f" ] || die "missing kwok stage $dir/kustomize/stage/$f"
    printf -- '--config=%s\n' "$dir/kustomize/stage/$f"
  done
}

# Fake nodes kwok manages (annotation). Each has a podCIDR inside POD_CIDR, from which kwok
# hands out Pod IPs; its host part starts at .1 because kwok allocates from the given address.
# InternalIPs are VPC-like data only: nothing ever connects to them.
register_nodes() {
  local i
  for i in $(seq 0 $((NODE_COUNT - 1))); do
    api /api/v1/nodes -X POST -H 'Content-Type: application/json' -o /dev/null -d @- <<EOF
{"apiVersion":"v1","kind":"Node",
 "metadata":{"name":"kwok-node-$i",
   "annotations":{"kwok.x-k8s.io/node":"fake","node.alpha.kubernetes.io/ttl":"0"},
   "labels":{"type":"kwok","kubernetes.io/hostname":"kwok-node-$i","kubernetes.io/os":"linux","kubernetes.io/arch":"amd64"}},
 "spec":{"podCIDR":"10.244.$((i + 1)).1/24","podCIDRs":["10.244.$((i + 1)).1/24"]},
 "status":{"addresses":[{"type":"InternalIP","address":"10.240.0.$((i + 1))"},{"type":"Hostname","address":"kwok-node-$i"}]}}
EOF
  done
}

# ---- commands --------------------------------------------------------------------------

# Prints one line per component; returns non-zero if any is not running.
report() {
  local name ok=0
  load_state_env || true
  for name in "${COMPONENTS[@]}"; do
    if alive "$name"; then
      printf '%-24s running (pid %s)\n' "$name" "$(pid_of "$name")"
    elif [ -f "$STATE/$name.pid" ]; then
      printf '%-24s NOT RUNNING (was pid %s)\n' "$name" "$(pid_of "$name")"
      log_tail "$name" 10
      ok=1
    else
      printf '%-24s not started\n' "$name"
      ok=1
    fi
  done
  if alive kube-apiserver; then
    if apiserver_ready; then
      printf '%-24s ok (https://127.0.0.1:%s)\n' "readyz" "$APISERVER_PORT"
      printf '%-24s %s of %s Ready\n' "nodes" "$(ready_nodes)" "$NODE_COUNT"
      nodes_ready || ok=1
    else
      printf '%-24s NOT READY\n' "readyz"; ok=1
    fi
  fi
  return "$ok"
}

cmd_up() {
  if [ -d "$STATE" ]; then
    # Already up: a no-op if healthy, a loud failure if something died.
    if report >/dev/null 2>&1; then log "already up"; cmd_env; return 0; fi
    report || true
    die "the ground in $STATE is not healthy (see above); run hack/cluster.sh down, then up"
  fi
  ground_build
  SECONDS=0
  DEADLINE=$UP_TIMEOUT
  mkdir -p "$STATE"
  write_state_env && load_state_env
  gen_pki
  write_kubeconfig "$KUBECONFIG_FILE" admin
  write_kubeconfig "$STATE/controller-manager.kubeconfig" controller-manager
  write_kubeconfig "$STATE/scheduler.kubeconfig" scheduler
  local stages
  stages=$(kwok_stage_args)

  # fsync off: the data is thrown away with `down`, and it is much faster.
  start etcd --name=ground --data-dir="$STATE/etcd" --unsafe-no-fsync --log-level=warn \
    --listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster="ground=http://127.0.0.1:$ETCD_PEER_PORT"
  STARTED+=(etcd)
  wait_until "etcd /health" etcd_healthy

  # Like controller-runtime's envtest: RBAC on, generated certs, service-account keys.
  # No endpoint reconciler: Endpoints may not hold the loopback advertise address, and no
  # Pod here can reach the API server through the `kubernetes` Service anyway.
  start kube-apiserver --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$APISERVER_PORT" \
    --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
    --client-ca-file="$PKI/ca.crt" --authorization-mode=Node,RBAC \
    --service-cluster-ip-range="$SERVICE_CIDR" --allow-privileged=true \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
    --requestheader-client-ca-file="$PKI/front-proxy-ca.crt" --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra- \
    --proxy-client-cert-file="$PKI/front-proxy-client.crt" --proxy-client-key-file="$PKI/front-proxy-client.key" \
    --profiling=false --endpoint-reconciler-type=none
  STARTED+=(kube-apiserver)
  wait_until "kube-apiserver /readyz" apiserver_ready
  register_nodes

  # Controllers run under their own ServiceAccounts (as in a real cluster); the garbage
  # collector and the token controllers are among the default controllers.
  start kube-controller-manager --kubeconfig="$STATE/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$STATE/controller-manager.kubeconfig" \
    --authorization-kubeconfig="$STATE/controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$CONTROLLER_MANAGER_PORT" --leader-elect=false \
    --use-service-account-credentials=true --controllers='*' \
    --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
    --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
    --cluster-cidr="$POD_CIDR" --service-cluster-ip-range="$SERVICE_CIDR" --profiling=false
  STARTED+=(kube-controller-manager)
  start kube-scheduler --kubeconfig="$STATE/scheduler.kubeconfig" \
    --authentication-kubeconfig="$STATE/scheduler.kubeconfig" \
    --authorization-kubeconfig="$STATE/scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$SCHEDULER_PORT" --leader-elect=false --profiling=false
  STARTED+=(kube-scheduler)
  # The lease flag must be explicit: without a KwokConfiguration file kwok's default is off.
  # shellcheck disable=SC2086 # one --config per stage file
  start kwok --kubeconfig="$KUBECONFIG_FILE" --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --node-lease-duration-seconds=40 --cidr="10.244.0.1/24" $stages
  STARTED+=(kwok)

  wait_until "$NODE_COUNT nodes Ready" nodes_ready
  wait_until "$NODE_COUNT node Leases (kwok's heartbeats)" node_leases_exist
  wait_until "kube-controller-manager /healthz" healthz "$CONTROLLER_MANAGER_PORT"
  wait_until "kube-scheduler /healthz" healthz "$SCHEDULER_PORT"
  wait_until "the default ServiceAccount (controller-manager at work)" default_sa_exists
  log "up in ${SECONDS}s (kube-apiserver https://127.0.0.1:$APISERVER_PORT, $NODE_COUNT kwok nodes Ready)"
  cmd_env
}

cmd_down() {
  [ -d "$STATE" ] || { log "not up"; return 0; }
  load_state_env || true
  local i
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do stop "${COMPONENTS[i]}"; done
  rm -rf "$STATE"
  log "down"
}

cmd_env() {
  [ -f "$KUBECONFIG_FILE" ] || log "warning: the ground is not up (hack/cluster.sh up)"
  echo "export KUBECONFIG=$KUBECONFIG_FILE"
}

cmd_status() {
  [ -d "$STATE" ] || { echo "down"; return 1; }
  report
}

case "${1:-}" in
  build) ground_build ;;
  up) cmd_up ;;
  down) cmd_down ;;
  env) cmd_env ;;
  status) cmd_status ;;
  *) echo "usage: $0 build|up|down|env|status" >&2; exit 2 ;;
esac
