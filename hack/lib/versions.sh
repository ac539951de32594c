# Pinned versions of the test ground's components. Changing one changes the cache key.
KUBE_VERSION="${KUBE_VERSION:-v1.34.4}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
KWOK_VERSION="${KWOK_VERSION:-v0.7.0}"
GROUND_CACHE="${GROUND_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dedicated-address-controller/ground}"
GROUND_BIN="$GROUND_CACHE/bin/kube-$KUBE_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION"
