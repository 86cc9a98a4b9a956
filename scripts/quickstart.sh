#!/usr/bin/env bash
# Quickstart: install, then verify a fix for the bundled example (a failing CI log).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
echo
exec .venv/bin/pve verify examples/stats --error-log examples/stats/ci.log --out pve-out "$@"
