#!/usr/bin/env bash
# Builds the helm CLI from the Go module proxy into the cache and prints its path.
# Why: chart tests render the chart with a real helm (lint + template) and no other download host exists.
set -euo pipefail
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
CACHE="${STACKERY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/stackery-operator}"
OUT="$CACHE/helm/$HELM_VERSION"
if [ -x "$OUT/helm" ]; then echo "$OUT/helm"; exit 0; fi
if command -v helm >/dev/null 2>&1 && [ -z "${HELM_FORCE_BUILD:-}" ]; then command -v helm; exit 0; fi
command -v go >/dev/null 2>&1 || { echo "[build-helm] need Go 1.24+ or helm on PATH" >&2; exit 1; }
echo "[build-helm] building helm $HELM_VERSION (a minute or two)" >&2
mkdir -p "$OUT"
CGO_ENABLED=0 GOBIN="$OUT" go install -trimpath -ldflags "-s -w" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
echo "$OUT/helm"
