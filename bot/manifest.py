"""The GitHub App manifest (``app.yml``) and what ``pve app manifest`` prints from it.

GitHub's manifest flow: POST the manifest JSON to ``https://github.com/settings/apps/new`` (or
``/organizations/<org>/settings/apps/new``); GitHub creates the app and redirects to
``redirect_url?code=...``; ``POST /app-manifests/{code}/conversions`` then returns the app id,
private key and webhook secret.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

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
             path: Path = APP_YML, proof_key: str | None = None) -> dict[str, Any]:
    """The manifest with this deployment's webhook and redirect URLs, and (``proof_key``) the
    fingerprint of the key its proofs are signed with, where its public half is published."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise BadInput(f"--url must be the public base URL of `pve serve`, e.g. https://pve.example.com (got {base_url!r})")
    base = base_url.rstrip("/")
    manifest = load(path)
    manifest["hook_attributes"] = {**(manifest.get("hook_attributes") or {}), "url": base + WEBHOOK_PATH, "active": True}
    manifest["redirect_url"] = base + CALLBACK_PATH
    if proof_key:
        manifest["description"] = (f"{manifest.get('description', '').rstrip()} Proofs are signed with key "
                                   f"{proof_key}, published at {base}/.well-known/pve-proof-key.")
    if name:
        manifest["name"] = name
    if public is not None:
        manifest["public"] = public
    return manifest


def github_web_url(api_url: str) -> str:
    """github.com for api.github.com; a GitHub Enterprise host serves its API under /api/v3."""
    parts = urlsplit(api_url)
    if parts.netloc == "api.github.com":
        return "https://github.com"
    return f"{parts.scheme}://{parts.netloc}"


def new_app_url(api_url: str, org: str | None, state: str) -> str:
    base = github_web_url(api_url)
    where = f"/organizations/{quote(org)}/settings/apps/new" if org else "/settings/apps/new"
    return f"{base}{where}?state={quote(state)}"


def save_credentials(app: dict[str, Any], config_file: Path, home: Path) -> Path:
    """Write the app's key (``github-app.pem``) and settings into the config file, both 0600;
    other keys in the file are kept. Returns the key's path."""
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = home / "github-app.pem"
    _write_private(key, app["pem"])
    existing: dict[str, Any] = {}
    if config_file.is_file():
        existing = tomllib.loads(config_file.read_text(encoding="utf-8"))
    existing.update(PVE_GITHUB_APP_ID=str(app["id"]), PVE_GITHUB_PRIVATE_KEY=str(key),
                    PVE_GITHUB_WEBHOOK_SECRET=app["webhook_secret"])
    # The conversion also returns the app's OAuth client: "Sign in with GitHub" on the web view.
    if app.get("client_id") and app.get("client_secret"):
        existing.update(PVE_GITHUB_CLIENT_ID=str(app["client_id"]), PVE_GITHUB_CLIENT_SECRET=str(app["client_secret"]))
    lines = [f"{k} = {json.dumps(str(v))}" for k, v in existing.items()]  # flat string keys (pve.config)
    config_file.parent.mkdir(parents=True, exist_ok=True)
    _write_private(config_file, "\n".join(lines) + "\n")
    return key


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
