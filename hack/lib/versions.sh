# Pinned versions of the test ground's components. Changing one changes the cache key.
KUBE_VERSION="${KUBE_VERSION:-v1.34.4}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
KWOK_VERSION="${KWOK_VERSION:-v0.7.0}"
# Helm, for the chart's lint, template and server-side dry-run in the tests.
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
GROUND_CACHE="${GROUND_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dedicated-address-controller/ground}"
GROUND_BIN="$GROUND_CACHE/bin/kube-$KUBE_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION"
# Other projects' CRDs and code come from their Go modules, read from the module cache at test
# time (never committed): OpenKruise's Advanced StatefulSet, what OpenKruise Game runs on.
KRUISE_VERSION="${KRUISE_VERSION:-v1.8.0}"
# OpenKruise Game, whose TencentCloud-CLB network plugin the tests run (tests/okg/harness pins
# it in its go.mod; this names the module whose CRDs the tests install).
KRUISE_GAME_VERSION="${KRUISE_GAME_VERSION:-v1.0.0}"
