#!/usr/bin/env bash
# Install everything PVE needs on a Debian/Ubuntu machine, using the machine's own Python.
# Idempotent: safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

need_apt=()
command -v bwrap >/dev/null 2>&1 || need_apt+=(bubblewrap)
# The sandbox runs a world-readable interpreter (PVE's own may live in a private home folder).
[ -x /usr/bin/python3 ] || need_apt+=(python3)
# npm fetches the test fixtures (GitHub's real webhook payloads and REST description), pinned in package-lock.json.
command -v npm >/dev/null 2>&1 || need_apt+=(nodejs npm)
# Project environments build packages from source when a project needs it (a C extension):
# a compiler, the C library's headers and Python's.
command -v cc >/dev/null 2>&1 || need_apt+=(gcc)
[ -f /usr/include/stdio.h ] || need_apt+=(libc6-dev)
[ -n "$(ls /usr/include/python3*/Python.h 2>/dev/null)" ] || need_apt+=(python3-dev)
# The web view's browser tests drive Debian's Chromium with Playwright (Playwright's own browser
# download is not reachable from every machine, and is not needed).
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "==> installing Debian packages: ${need_apt[*]}"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

PY="${PYTHON:-python3}"
if ! command -v uv >/dev/null 2>&1; then
  echo "==> installing uv"
  # A Debian-managed Python refuses plain pip installs (PEP 668): fall back to the user site.
  "$PY" -m pip install -q --disable-pip-version-check "uv>=0.8,<1" 2>/dev/null \
    || "$PY" -m pip install -q --disable-pip-version-check --user --break-system-packages "uv>=0.8,<1"
  export PATH="$("$PY" -c 'import site; print(site.getuserbase())')/bin:$PATH"
fi
UV="$(command -v uv || echo "$("$PY" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/uv")"

echo "==> installing PVE and its locked dependencies (.venv)"
UV_PYTHON_DOWNLOADS=never "$UV" sync --frozen --compile-bytecode --python "$(command -v "$PY")" -q
# Byte-compile PVE's own (editable) sources too: start-up time is part of every verification, and
# some machines set PYTHONDONTWRITEBYTECODE, so nothing would ever be cached otherwise.
.venv/bin/python -m compileall -q -j 0 pve brain sandbox store bot statemachine webhooks web entrypoints >/dev/null
# aws-sam-cli builds the Lambda functions (infra/functions.py sam, tests/test_lambda_artifacts.py):
# pinned, a uv tool with an environment of its own (its dependencies never mix with PVE's), from PyPI.
SAM_CLI_VERSION=1.170.0
echo "==> installing aws-sam-cli $SAM_CLI_VERSION (uv tool: $("$UV" tool dir --bin)/sam)"
UV_PYTHON_DOWNLOADS=never "$UV" tool install -q "aws-sam-cli==$SAM_CLI_VERSION" --python "$(command -v "$PY")"
echo "==> installing npm packages (npm ci: the playground's editor monaco-editor; for the tests axe-core, @octokit/webhooks-examples, @octokit/openapi)"
npm ci --no-audit --no-fund --loglevel=error >/dev/null
echo "==> ready: $(.venv/bin/pve --version)"
