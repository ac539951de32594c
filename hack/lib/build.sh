# shellcheck shell=bash
# Builds the test ground's binaries from the Go module proxy into $GROUND_BIN.
# Sourced by hack/cluster.sh; needs versions.sh. Nothing here lands in the work tree.

# Writes a wrapper module in $1 that requires $2@$3 and replaces every module
# that $2's go.mod points at a local directory with the published version $4.
ground_wrapper_module() {
  local dir="$1" module="$2" version="$3" staging_version="$4" gomod
  rm -rf "$dir" && mkdir -p "$dir"
  gomod=$(cd "$dir" && go mod download -json "$module@$version" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  [ -f "$gomod" ] || { echo "cannot download go.mod of $module@$version" >&2; return 1; }
  (
    cd "$dir" || exit 1
    go mod init ground-wrapper >/dev/null 2>&1
    go mod edit -require "$module@$version"
    # Lines like `k8s.io/api => ./staging/src/k8s.io/api` or `go.etcd.io/etcd/api/v3 => ../api`.
    grep -E '^\s*[^ ]+ => \.\.?/' "$gomod" | sed 's/^replace //' | awk '{print $1}' | sort -u |
      while read -r local_module; do
        go mod edit -replace "$local_module=$local_module@$staging_version"
      done
  )
}

ground_build_kubernetes() {
  local dir="$GROUND_CACHE/src/kubernetes-$KUBE_VERSION" minor
  minor=$(echo "$KUBE_VERSION" | cut -d. -f2)
  ground_wrapper_module "$dir" k8s.io/kubernetes "$KUBE_VERSION" "v0.${KUBE_VERSION#v1.}" || return 1
  (
    cd "$dir" || exit 1
    # kubectl is for people (the demo, poking around); the tests never need it.
    local pkgs="k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl"
    # Versioned go get: a bare one would move k8s.io/kubernetes to its newest release.
    # shellcheck disable=SC2046,SC2086
    go get $(printf '%s@'"$KUBE_VERSION"' ' $pkgs) && CGO_ENABLED=0 go build -trimpath -o "$GROUND_BIN/" \
      -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION \
        -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor \
        -X k8s.io/component-base/version.gitTreeState=clean" $pkgs
  )
}

ground_build_etcd() {
  local dir="$GROUND_CACHE/src/etcd-$ETCD_VERSION"
  ground_wrapper_module "$dir" go.etcd.io/etcd/server/v3 "$ETCD_VERSION" "$ETCD_VERSION" || return 1
  (
    cd "$dir" || exit 1
    go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$GROUND_BIN/etcd" go.etcd.io/etcd/server/v3
  )
}

ground_build_kwok() {
  CGO_ENABLED=0 GOBIN="$GROUND_BIN" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
}

ground_build_helm() {
  CGO_ENABLED=0 GOBIN="$GROUND_BIN" go install -trimpath -ldflags "-s -w" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  mv "$GROUND_BIN/helm" "$GROUND_BIN/helm-$HELM_VERSION"
}

# Builds whatever is missing; with a full cache it does nothing.
ground_build() {
  mkdir -p "$GROUND_BIN"
  local name
  for name in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    [ -x "$GROUND_BIN/$name" ] || { echo "building kubernetes $KUBE_VERSION (cold cache: several minutes)" >&2; ground_build_kubernetes || return 1; break; }
  done
  [ -x "$GROUND_BIN/etcd" ] || { echo "building etcd $ETCD_VERSION" >&2; ground_build_etcd || return 1; }
  [ -x "$GROUND_BIN/kwok" ] || { echo "building kwok $KWOK_VERSION" >&2; ground_build_kwok || return 1; }
  [ -x "$GROUND_BIN/helm-$HELM_VERSION" ] || { echo "building helm $HELM_VERSION" >&2; ground_build_helm || return 1; }
}
