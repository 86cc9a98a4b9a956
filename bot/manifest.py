"""The GitHub App manifest (``app.yml``) and what ``pve app manifest`` prints from it.

GitHub's manifest flow: POST the manifest JSON to ``https://github.com/settings/apps/new`` (or
``/organizations/<org>/settings/apps/new``); GitHub creates the app and redirects to
``redirect_url?code=...``; ``POST /app-manifests/{code}/conversions`` then returns the app id,
private key and webhook secret.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from pve.errors import BadInput

# The repository's app.yml; a built wheel carries it inside the package (pyproject force-include).
_HERE = Path(__file__).resolve().parent
APP_YML = _HERE / "app.yml" if (_HERE / "app.yml").is_file() else _HERE.parent / "app.yml"
REQUIRED_PERMISSIONS = {"checks": "write", "contents": "write", "pull_requests": "write", "issues": "write",
                        "actions": "read", "metadata": "read"}
WEBHOOK_PATH = "/webhooks/github"
CALLBACK_PATH = "/app/setup/callback"


def load(path: Path = APP_YML) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise BadInput(f"cannot read the app manifest {path}: {exc}") from None
    if not isinstance(data, dict) or not data.get("name"):
        raise BadInput(f"{path} is not an app manifest (no name)")
    perms = data.get("default_permissions") or {}
    wrong = {k: v for k, v in REQUIRED_PERMISSIONS.items() if perms.get(k) != v}
    if wrong:
        raise BadInput(f"{path}: default_permissions must include {wrong}")
    return data


def for_host(base_url: str, *, name: str | None = None, public: bool | None = None,
             path: Path = APP_YML) -> dict[str, Any]:
    """The manifest with this deployment's webhook and redirect URLs."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise BadInput(f"--url must be the public base URL of `pve serve`, e.g. https://pve.example.com (got {base_url!r})")
    base = base_url.rstrip("/")
    manifest = load(path)
    manifest["hook_attributes"] = {**(manifest.get("hook_attributes") or {}), "url": base + WEBHOOK_PATH, "active": True}
    manifest["redirect_url"] = base + CALLBACK_PATH
    if name:
        manifest["name"] = name
    if public is not None:
        manifest["public"] = public
    return manifest
