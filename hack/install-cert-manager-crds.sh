#!/usr/bin/env bash
# Fetches cert-manager's CRDs for the external-issuer tests (tests/cert_manager_issuer.rs), once,
# into a cache outside the repository keyed by version. Prints the directory holding them.
#
# Where they come from: the cert-manager Go module from the Go module proxy (`go mod download`
# checks it against the checksum database). Its deploy/crds/ holds the CRDs as plain YAML
# (controller-gen output, no Helm templating); the script refuses a file with `{{` in it.
set -euo pipefail

CERT_MANAGER_VERSION="${CERT_MANAGER_VERSION:-v1.21.2}"
CACHE_ROOT="${TLM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tlm-operator}"
DIR="$CACHE_ROOT/cert-manager/$CERT_MANAGER_VERSION/crds"
FILES=(cert-manager.io_certificaterequests.yaml cert-manager.io_certificates.yaml)
export GOFLAGS="${GOFLAGS:--mod=mod}"
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"

log() { echo "install-cert-manager-crds: $*" >&2; }

if [ "${1:-}" = "--print-dir" ]; then
  echo "$DIR"
  exit 0
fi

have_all() {
  for f in "${FILES[@]}"; do [ -s "$DIR/$f" ] || return 1; done
}

if have_all; then
  echo "$DIR"
  exit 0
fi

command -v go >/dev/null || { log "Go is required (https://go.dev/dl) to fetch cert-manager's CRDs from the module proxy"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log "fetching github.com/cert-manager/cert-manager@$CERT_MANAGER_VERSION from the Go module proxy"
module_dir=$(cd "$work" && go mod download -json "github.com/cert-manager/cert-manager@$CERT_MANAGER_VERSION" \
  | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
[ -d "$module_dir/deploy/crds" ] || { log "no deploy/crds in cert-manager $CERT_MANAGER_VERSION"; exit 1; }
mkdir -p "$work/out"
for f in "${FILES[@]}"; do
  src="$module_dir/deploy/crds/$f"
  [ -f "$src" ] || { log "$f is missing from cert-manager $CERT_MANAGER_VERSION's deploy/crds"; exit 1; }
  if grep -q '{{' "$src"; then
    log "$f is Helm-templated in cert-manager $CERT_MANAGER_VERSION; pick a version with plain CRDs"
    exit 1
  fi
  grep -q '^kind: CustomResourceDefinition' "$src" || { log "$f is not a CRD"; exit 1; }
  cp "$src" "$work/out/$f"
done
mkdir -p "$DIR"
# The module cache is read-only: copies get normal permissions, and land all at once.
for f in "${FILES[@]}"; do
  install -m 0644 "$work/out/$f" "$DIR/$f"
done
log "cert-manager $CERT_MANAGER_VERSION CRDs in $DIR"
echo "$DIR"
