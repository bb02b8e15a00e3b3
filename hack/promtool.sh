#!/usr/bin/env bash
# Runs promtool (from Debian's prometheus package, installed on first use) with the given arguments.
# Why: alert rules are unit-tested with `promtool test rules` against series named exactly as exported.
set -euo pipefail
if ! command -v promtool >/dev/null 2>&1; then
  echo "[promtool] installing Debian's prometheus package (ships promtool)" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  # the package starts a prometheus service where systemd runs; we only want the tool
  $SUDO systemctl stop prometheus >/dev/null 2>&1 || true
fi
exec promtool "$@"
