"""`pve serve`'s GitHub App settings: a missing or invalid one stops start-up with one clear line."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from pve.errors import BadInput
from pve.settings import GitHubAppSettings


def _pem(key) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


RSA_PEM = _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))


def _env(**over):
    return {"PVE_GITHUB_APP_ID": "12345", "PVE_GITHUB_PRIVATE_KEY": RSA_PEM, "PVE_GITHUB_WEBHOOK_SECRET": "s3cret", **over}


def test_valid_settings_from_text_or_path(tmp_path):
    s = GitHubAppSettings.from_env(_env())
    assert (s.app_id, s.webhook_secret, s.api_url) == (12345, b"s3cret", "https://api.github.com")
    key = tmp_path / "app.pem"
    key.write_text(RSA_PEM)
    s = GitHubAppSettings.from_env(_env(PVE_GITHUB_PRIVATE_KEY=str(key), PVE_GITHUB_API_URL="http://127.0.0.1:9999/api/v3/"))
    assert s.private_key_pem == RSA_PEM and s.api_url == "http://127.0.0.1:9999/api/v3"
    assert "s3cret" not in repr(s) and "PRIVATE KEY" not in repr(s)


@pytest.mark.parametrize("over, words", [
    ({"PVE_GITHUB_APP_ID": ""}, "PVE_GITHUB_APP_ID is not set"),
    ({"PVE_GITHUB_WEBHOOK_SECRET": ""}, "PVE_GITHUB_WEBHOOK_SECRET is not set"),
    ({"PVE_GITHUB_APP_ID": "my-app"}, "numeric id"),
    ({"PVE_GITHUB_PRIVATE_KEY": "/nonexistent/app.pem"}, "cannot read /nonexistent/app.pem"),
    ({"PVE_GITHUB_PRIVATE_KEY": "-----BEGIN RSA PRIVATE KEY-----\nnope\n-----END RSA PRIVATE KEY-----\n"}, "not a PEM private key"),
    ({"PVE_GITHUB_PRIVATE_KEY": _pem(ec.generate_private_key(ec.SECP256R1()))}, "must be an RSA key"),
    ({"PVE_GITHUB_API_URL": "api.github.com"}, "http(s) URL"),
])
def test_bad_settings_are_one_clear_line(over, words):
    with pytest.raises(BadInput, match=words.replace("(", r"\(").replace(")", r"\)")) as err:
        GitHubAppSettings.from_env(_env(**over))
    assert "\n" not in str(err.value)
