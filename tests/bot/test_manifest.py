"""app.yml and `pve app manifest`: the JSON GitHub's manifest flow expects."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient

from bot import manifest
from entrypoints.cli import main
from pve import config
from pve.errors import BadInput
from pve.settings import GitHubAppSettings
from webhooks.setup import create_setup_app


def test_app_yml_has_the_permissions_and_events_pve_needs():
    data = manifest.load()
    assert data["default_permissions"] == manifest.REQUIRED_PERMISSIONS
    # every event the routing table reads, and no other (``installation`` reaches every app unasked)
    from bot.triggers import ROUTES

    assert set(data["default_events"]) == {event for event, _ in ROUTES} - {"installation"}
    assert set(data["default_events"]) == {"issue_comment", "workflow_run", "check_run", "pull_request"}
    assert {"name", "url", "description", "public", "hook_attributes"} <= set(data)


def test_manifest_command_fills_in_this_hosts_urls(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("PVE_HOME", str(tmp_path))
    assert main(["app", "manifest", "--url", "https://pve.example.com/", "--name", "PVE (staging)", "--public"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["hook_attributes"] == {"url": "https://pve.example.com/webhooks/github", "active": True}
    assert out["redirect_url"] == "https://pve.example.com/app/setup/callback"
    assert out["name"] == "PVE (staging)" and out["public"] is True
    # the key its proofs are signed with, and where a reader finds it
    from statemachine.proof.signing import ProofSigner
    key = ProofSigner(tmp_path).fingerprint()
    assert out["description"].endswith(f"signed with key {key}, published at "
                                       "https://pve.example.com/.well-known/pve-proof-key.")


def test_bad_url_and_broken_manifest_are_clear(tmp_path, capsys):
    assert main(["app", "manifest", "--url", "pve.example.com"]) == 2
    assert "--url must be the public base URL" in capsys.readouterr().err
    broken = tmp_path / "app.yml"
    broken.write_text("name: x\ndefault_permissions:\n  issues: read\n")
    with pytest.raises(BadInput, match="default_permissions must include"):
        manifest.load(broken)


def test_setup_page_runs_the_manifest_flow_and_stores_working_credentials(tmp_path, github, app_key):
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text('PVE_SLOTS = "2"\n')
    github.manifest_codes.add("code-1")
    github.manifest_pem = app_key[0]
    created = []
    client = TestClient(create_setup_app("https://pve.example.com", github.url, home / "config.toml", home,
                                         org="octo-org", on_done=created.append))
    page = client.get("/").text
    action = re.search(r'action="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert action.startswith("http://127.0.0.1:") and "/organizations/octo-org/settings/apps/new?state=" in action
    state = action.split("state=")[1]
    manifest_json = re.search(r'name="manifest" value="([^"]+)"', page).group(1)
    assert "https://pve.example.com/webhooks/github" in manifest_json.replace("&quot;", '"')

    assert client.get("/app/setup/callback", params={"code": "code-1", "state": "forged"}).status_code == 400
    done = client.get("/app/setup/callback", params={"code": "code-1", "state": state})
    assert done.status_code == 200 and "pve-test" in done.text and created
    assert (home / "github-app.pem").stat().st_mode & 0o777 == 0o600
    assert (home / "config.toml").stat().st_mode & 0o777 == 0o600
    env = config.load({"PVE_HOME": str(home)})
    assert env["PVE_SLOTS"] == "2"  # the file's other keys are kept
    settings = GitHubAppSettings.from_config(env)
    assert settings.app_id == 4242 and settings.webhook_secret == b"s3cret-from-github"
    assert settings.private_key_pem == app_key[0]
    assert (env["PVE_GITHUB_CLIENT_ID"], env["PVE_GITHUB_CLIENT_SECRET"]) == ("Iv1.x", "cs")  # for "Sign in with GitHub"

    again = client.get("/app/setup/callback", params={"code": "code-1", "state": state})  # codes are single-use
    assert again.status_code == 502 and "expire" in again.text
