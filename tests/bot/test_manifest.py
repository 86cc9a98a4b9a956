"""app.yml and `pve app manifest`: the JSON GitHub's manifest flow expects."""

from __future__ import annotations

import json

import pytest

from bot import manifest
from pve.cli import main
from pve.errors import BadInput


def test_app_yml_has_the_permissions_and_events_pve_needs():
    data = manifest.load()
    assert data["default_permissions"] == manifest.REQUIRED_PERMISSIONS
    assert set(data["default_events"]) == {"issue_comment", "workflow_run", "check_run"}
    assert {"name", "url", "description", "public", "hook_attributes"} <= set(data)


def test_manifest_command_fills_in_this_hosts_urls(capsys):
    assert main(["app", "manifest", "--url", "https://pve.example.com/", "--name", "PVE (staging)", "--public"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["hook_attributes"] == {"url": "https://pve.example.com/webhooks/github", "active": True}
    assert out["redirect_url"] == "https://pve.example.com/app/setup/callback"
    assert out["name"] == "PVE (staging)" and out["public"] is True


def test_bad_url_and_broken_manifest_are_clear(tmp_path, capsys):
    assert main(["app", "manifest", "--url", "pve.example.com"]) == 2
    assert "--url must be the public base URL" in capsys.readouterr().err
    broken = tmp_path / "app.yml"
    broken.write_text("name: x\ndefault_permissions:\n  issues: read\n")
    with pytest.raises(BadInput, match="default_permissions must include"):
        manifest.load(broken)
