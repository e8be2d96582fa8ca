#!/usr/bin/env bash
# Builds the binaries our integration tests run (kube-apiserver, kubectl, etcd, helm) from the Go
# module proxy, once, into a cache outside the repository keyed by version. Prints the bin dir.
#
# Why wrappers: k8s.io/kubernetes and etcd's server module carry `replace` directives, which only
# act in a main module, so `go install pkg@version` refuses them. A throwaway main module that
# repeats the replaces (pointing the staging modules at their published v0.X.Y versions) builds.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.8}"
HELM_VERSION="${HELM_VERSION:-v3.21.4}"
CACHE_ROOT="${TLM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tlm-operator}"
BIN_DIR="$CACHE_ROOT/control-plane/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-helm-$HELM_VERSION/bin"
export GOFLAGS="${GOFLAGS:--mod=mod}"
export CGO_ENABLED=0
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"

log() { echo "install-control-plane: $*" >&2; }

# The test harness asks where the binaries belong without building them.
if [ "${1:-}" = "--print-bin-dir" ]; then
  echo "$BIN_DIR"
  exit 0
fi

# cert-manager's CRDs for the external-issuer tests: fetched once, instant when cached.
"$(dirname "${BASH_SOURCE[0]}")/install-cert-manager-crds.sh" >/dev/null

have_all() {
  for b in kube-apiserver kubectl etcd helm; do [ -x "$BIN_DIR/$b" ] || return 1; done
}

# The versions built, on stderr. `--report` prints them for binaries already built (a test runs
# this path, so a script that fails after a successful build shows up in CI).
report() {
  "$BIN_DIR/kube-apiserver" --version >&2
  # No `| head` here: under pipefail, etcd would die of SIGPIPE and fail the script.
  local etcd_version
  etcd_version=$("$BIN_DIR/etcd" --version)
  echo "${etcd_version%%$'\n'*}" >&2
  "$BIN_DIR/helm" version --short >&2
}

if have_all; then
  if [ "${1:-}" = "--report" ]; then report; fi
  echo "$BIN_DIR"
  exit 0
fi

command -v go >/dev/null || { log "Go is required (https://go.dev/dl) to build the control plane"; exit 1; }
mkdir -p "$BIN_DIR"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

build_kubernetes() {
  local staging_minor="v0.${K8S_VERSION#v1.}"
  local dir="$work/k8s"
  mkdir -p "$dir"
  log "reading the staging module list of k8s.io/kubernetes@$K8S_VERSION"
  local gomod
  gomod=$(cd "$dir" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  [ -f "$gomod" ] || { log "could not download k8s.io/kubernetes@$K8S_VERSION's go.mod"; exit 1; }
  local go_line
  go_line=$(grep -m1 '^go ' "$gomod")
  {
    echo "module tlm-operator.local/k8s-build"
    echo
    echo "$go_line"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    grep -oE '^\s*k8s\.io/[a-z0-9-]+ => \./staging/src/k8s\.io/[a-z0-9-]+' "$gomod" \
      | awk -v v="$staging_minor" '{print "replace " $1 " => " $1 " " v}'
  } >"$dir/go.mod"
  log "$(grep -c '^replace' "$dir/go.mod") staging modules pinned at $staging_minor"
  cat >"$dir/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
  (cd "$dir" && go mod tidy >/dev/null 2>&1 || true)
  log "building kube-apiserver and kubectl $K8S_VERSION (minutes on a cold cache)"
  (cd "$dir" && go build -trimpath -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION" \
      -o "$BIN_DIR/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver)
  (cd "$dir" && go build -trimpath -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION" \
      -o "$BIN_DIR/kubectl" k8s.io/kubernetes/cmd/kubectl)
}

build_etcd() {
  local dir="$work/etcd"
  mkdir -p "$dir"
  cat >"$dir/go.mod" <<MOD
module tlm-operator.local/etcd-build

go 1.24

require (
	go.etcd.io/etcd/server/v3 $ETCD_VERSION
	go.etcd.io/etcd/api/v3 $ETCD_VERSION
	go.etcd.io/etcd/client/pkg/v3 $ETCD_VERSION
	go.etcd.io/etcd/client/v3 $ETCD_VERSION
	go.etcd.io/etcd/pkg/v3 $ETCD_VERSION
)
MOD
  cat >"$dir/main.go" <<'GO'
// A main module around etcd's server package: etcd's own main module has replace directives,
// so `go install` cannot build it from the proxy.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  log "building etcd $ETCD_VERSION"
  (cd "$dir" && go mod tidy >/dev/null && go build -trimpath -ldflags "-s -w" -o "$BIN_DIR/etcd" .)
}

build_helm() {
  log "building helm $HELM_VERSION"
  GOBIN="$BIN_DIR" go install -trimpath -ldflags "-s -w" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
}

[ -x "$BIN_DIR/etcd" ] || build_etcd
[ -x "$BIN_DIR/kube-apiserver" ] && [ -x "$BIN_DIR/kubectl" ] || build_kubernetes
[ -x "$BIN_DIR/helm" ] || build_helm
have_all || { log "some binaries are still missing in $BIN_DIR"; exit 1; }
report
log "done"
echo "$BIN_DIR"
