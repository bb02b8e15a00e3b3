#!/usr/bin/env bash
# Builds kube-apiserver, kubectl and etcd from the Go module proxy into a per-version cache folder,
# laid out like setup-envtest's assets (one folder holding the three binaries), and prints that folder.
#
# Why: e2e tests, the demo and the benchmark need a real kube-apiserver + etcd, and this machine has no
# docker and no download host other than the package registries. If KUBEBUILDER_ASSETS names a folder
# with the three binaries, that is used instead and nothing is built.
#
# Env: KUBE_VERSION (default below), ETCD_VERSION, STACKERY_CACHE (default ~/.cache/stackery-operator).
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-v1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.8}"
CACHE="${STACKERY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/stackery-operator}"
OUT="$CACHE/kube-assets/${KUBE_VERSION}-etcd${ETCD_VERSION}"

log() { printf '[build-kube] %s\n' "$*" >&2; }

if [ -n "${KUBEBUILDER_ASSETS:-}" ]; then
  for b in kube-apiserver etcd kubectl; do
    if [ ! -x "$KUBEBUILDER_ASSETS/$b" ]; then
      log "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS has no executable '$b'"; exit 1
    fi
  done
  echo "$KUBEBUILDER_ASSETS"; exit 0
fi

if [ -x "$OUT/kube-apiserver" ] && [ -x "$OUT/etcd" ] && [ -x "$OUT/kubectl" ]; then
  echo "$OUT"; exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  log "Neither KUBEBUILDER_ASSETS nor Go is available."
  log "Install Go 1.26+ (it builds kube-apiserver/etcd/kubectl from the Go module proxy), or point"
  log "KUBEBUILDER_ASSETS at a folder with kube-apiserver, etcd and kubectl (e.g. from setup-envtest)."
  exit 1
fi

mkdir -p "$OUT"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
export GOFLAGS="-mod=mod"
export CGO_ENABLED=0

# --- kube-apiserver + kubectl --------------------------------------------------------------------
if [ ! -x "$OUT/kube-apiserver" ] || [ ! -x "$OUT/kubectl" ]; then
  log "fetching k8s.io/kubernetes@$KUBE_VERSION go.mod"
  mkdir -p "$WORK/kube" && cd "$WORK/kube"
  go mod init stackery.local/kubebuild >/dev/null 2>&1
  modfile="$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
  staging="v0${KUBE_VERSION#v1}"   # v1.36.3 -> v0.36.3: published tags of the staging modules
  gover="$(sed -n 's/^go \([0-9.]*\).*/\1/p' "$modfile" | head -1)"
  {
    echo "module stackery.local/kubebuild"
    echo "go $gover"
    echo "require k8s.io/kubernetes $KUBE_VERSION"
    echo "replace ("
    # Generated from the release's own replace block: ./staging/src/k8s.io/X -> k8s.io/X v0.Y.Z
    sed -n '/^replace (/,/^)/p' "$modfile" | grep '=> ./staging/' \
      | awk -v v="$staging" '{print "\t" $1 " => " $1 " " v}'
    echo ")"
  } > go.mod
  log "resolving modules (replace block: $(grep -c '=> k8s.io' go.mod) staging modules at $staging)"
  go mod download -x k8s.io/kubernetes >/dev/null 2>&1 || true
  log "building kube-apiserver and kubectl $KUBE_VERSION (several minutes on 2 cores)"
  go build -trimpath -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION" \
    -o "$OUT/" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl
  log "built $(ls "$OUT")"
fi

# --- etcd ----------------------------------------------------------------------------------------
if [ ! -x "$OUT/etcd" ]; then
  log "building etcd $ETCD_VERSION from go.etcd.io/etcd/server/v3"
  mkdir -p "$WORK/etcd" && cd "$WORK/etcd"
  cat > go.mod <<MOD
module stackery.local/etcdbuild
go 1.24
require go.etcd.io/etcd/server/v3 $ETCD_VERSION
MOD
  go build -trimpath -ldflags "-s -w" -o "$OUT/etcd" go.etcd.io/etcd/server/v3
fi

log "assets ready in $OUT"
echo "$OUT"
