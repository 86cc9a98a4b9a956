#!/usr/bin/env bash
# What the GitHub Action needs on GitHub's Ubuntu runners (as the runner user, with sudo):
# bubblewrap, unprivileged user namespaces (Ubuntu 24.04's AppArmor restricts them; bwrap never
# runs as root, SANDBOX.md), uv, and PVE from the action's own checkout and its lock (no dev tools).
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
if ! command -v bwrap >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null
fi
if [ -e /proc/sys/kernel/apparmor_restrict_unprivileged_userns ]; then
  $SUDO sysctl -q -w kernel.apparmor_restrict_unprivileged_userns=0
fi
if ! command -v uv >/dev/null 2>&1; then
  python3 -m pip install -q --disable-pip-version-check --user --break-system-packages "uv>=0.8,<1" 2>/dev/null \
    || python3 -m pip install -q --disable-pip-version-check --user "uv>=0.8,<1"
  export PATH="$(python3 -c 'import site; print(site.getuserbase())')/bin:$PATH"
fi
# The interpreter the runner image provides (/usr/bin/python3: world-readable, as the sandbox needs).
UV_PYTHON_DOWNLOADS=never uv sync --frozen --no-dev --compile-bytecode --python /usr/bin/python3 -q
echo "PVE $(.venv/bin/pve --version) ready"
