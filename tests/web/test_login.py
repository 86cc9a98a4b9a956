"""Sign in with GitHub against the local GitHub (its OAuth token exchange and ``GET /user``):
the state check, the signed cookie's flags, a safe ``next``, sign-out behind a CSRF token, and
the page that says how to enable it."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from web import auth

SECRET = b"webhook-secret-for-tests"


def client(github, public="https://pve.example.com") -> TestClient:
    env = {"PVE_GITHUB_CLIENT_ID": github.oauth_client[0], "PVE_GITHUB_CLIENT_SECRET": github.oauth_client[1],
           "PVE_PUBLIC_URL": public, "PVE_GITHUB_WEB_URL": github.url}
    web = FastAPI()
    web.include_router(auth.router(auth.OAuthApp.from_config(env, github.url), auth.Signer(SECRET, "cookies")))
    return TestClient(web, base_url=public)


def start(c: TestClient, next_path: str) -> str:
    r = c.get("/login", params={"next": next_path}, follow_redirects=False)
    assert r.status_code == 302
    target = urlsplit(r.headers["location"])
    query = parse_qs(target.query)
    assert target.path == "/login/oauth/authorize" and query["redirect_uri"] == ["https://pve.example.com/login/callback"]
    assert "HttpOnly" in r.headers["set-cookie"] and "SameSite=lax" in r.headers["set-cookie"]
    return query["state"][0]


def test_sign_in_and_out(github):
    c = client(github)
    state = start(c, "/s/" + "ab" * 16)
    r = c.get("/login/callback", params={"code": github.authorize("octocat"), "state": state}, follow_redirects=False)
    assert r.status_code == 302 and r.headers["location"] == "/s/" + "ab" * 16
    cookie = next(v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith("pve_user="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" in cookie and "Max-Age=28800" in cookie
    signed_in = c.get("/login")
    assert "signed in as <strong>octocat</strong>" in signed_in.text
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', signed_in.text).group(1)
    assert c.post("/logout", content=b"csrf=" + b"0" * 64, follow_redirects=False).status_code == 403
    out = c.post("/logout", content=f"csrf={csrf}".encode(), follow_redirects=False,
                 headers={"content-type": "application/x-www-form-urlencoded"})
    assert out.status_code == 303 and 'pve_user=""' in out.headers["set-cookie"]


def test_the_cookie_hides_the_token_and_sign_out_ends_it(github):
    """The attack: read the GitHub token out of a copied cookie, and use it (or the cookie)
    after its owner signed out."""
    import base64

    c = client(github)
    state = start(c, "/")
    r = c.get("/login/callback", params={"code": github.authorize("octocat"), "state": state}, follow_redirects=False)
    value = c.cookies["pve_user"]
    token = next(t for t, login in github.user_tokens.items() if login == "octocat")
    raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    assert token.encode() not in raw and b"octocat" not in raw and token not in value  # sealed, not only signed
    assert r.status_code == 302
    api = httpx.get(f"{github.url}/user", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 200  # the token works while signed in

    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', c.get("/login").text).group(1)
    out = c.post("/logout", content=f"csrf={csrf}".encode(), follow_redirects=False,
                 headers={"content-type": "application/x-www-form-urlencoded"})
    assert out.status_code == 303 and github.revoked == [token]
    assert httpx.get(f"{github.url}/user", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert not github.violations  # the revocation was a valid call of GitHub's REST API


def test_a_callback_that_did_not_start_here_is_refused(github):
    c = client(github)
    start(c, "/")
    r = c.get("/login/callback", params={"code": github.authorize("mallory"), "state": "forged"})
    assert r.status_code == 400 and "has expired" in r.text
    other = client(github)  # no state cookie at all
    assert other.get("/login/callback", params={"code": "x", "state": "y"}).status_code == 400


def test_a_used_code_and_an_open_redirect_are_refused(github):
    c = client(github)
    state = start(c, "https://evil.example/")
    code = github.authorize("octocat")
    r = c.get("/login/callback", params={"code": code, "state": state}, follow_redirects=False)
    assert r.headers["location"] == "/"  # never off this site
    fresh = client(github)
    state = start(fresh, "//evil.example/x")
    again = fresh.get("/login/callback", params={"code": code, "state": state})  # the code was used above
    assert again.status_code == 400 and "refused the sign-in code" in again.text


@pytest.mark.parametrize("token", ["", "garbage", "e30.bad", "x" * 400])
def test_a_tampered_cookie_is_nobody(github, token):
    c = client(github)
    c.cookies.set(auth.USER_COOKIE, token)
    assert c.get("/login", follow_redirects=False).status_code == 302  # not signed in: off to GitHub


def test_without_oauth_settings_the_page_says_how_to_enable_it():
    web = FastAPI()
    web.include_router(auth.router(None, auth.Signer(SECRET, "cookies")))
    r = TestClient(web).get("/login")
    assert r.status_code == 503 and "PVE_GITHUB_CLIENT_ID" in r.text and "PVE_GITHUB_CLIENT_SECRET" in r.text


def test_the_signer_refuses_expired_and_foreign_tokens():
    signer = auth.Signer(SECRET, "cookies")
    assert signer.loads(signer.dumps({"a": 1}, 60))["a"] == 1
    assert signer.loads(signer.dumps({"a": 1}, -1)) is None
    assert auth.Signer(b"other", "cookies").loads(signer.dumps({"a": 1}, 60)) is None
    assert auth.Signer(SECRET, "other purpose").loads(signer.dumps({"a": 1}, 60)) is None
