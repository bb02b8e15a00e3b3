#!/usr/bin/env bash
# Builds a tiny CLI around sigs.k8s.io/cli-utils/pkg/kstatus (the library Flux uses to decide whether
# an object is Current, InProgress or Failed) from the Go module proxy, caches it, prints its path.
# Why: the e2e tier checks that our status is read the way Flux reads it, with Flux's own code.
set -euo pipefail
KSTATUS_VERSION="${KSTATUS_VERSION:-v0.37.2}"
BUILD_REV=2  # bump when main.go changes
CACHE="${STACKERY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/stackery-operator}"
OUT="$CACHE/kstatus/$KSTATUS_VERSION-r$BUILD_REV"
if [ -x "$OUT/kstatus" ]; then echo "$OUT/kstatus"; exit 0; fi
command -v go >/dev/null 2>&1 || { echo "[build-kstatus] need Go 1.24+" >&2; exit 1; }
echo "[build-kstatus] building kstatus CLI (cli-utils $KSTATUS_VERSION)" >&2
WORK="$(mktemp -d)"; trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
cat > main.go <<'GO'
// kstatus: reads one Kubernetes object as JSON on stdin, prints kstatus' verdict and message.
package main

import (
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

func main() {
	raw, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(raw); err != nil { // keeps integers as int64, as the apiserver client does
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	res, err := status.Compute(obj)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("%s\n%s\n", res.Status, res.Message)
}
GO
cat > go.mod <<MOD
module stackery.local/kstatus
go 1.24
require sigs.k8s.io/cli-utils $KSTATUS_VERSION
MOD
export GOFLAGS=-mod=mod CGO_ENABLED=0
go mod tidy >&2
mkdir -p "$OUT"
go build -trimpath -ldflags "-s -w" -o "$OUT/kstatus" .
echo "$OUT/kstatus"
