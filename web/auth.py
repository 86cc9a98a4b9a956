"""Sign in with GitHub (OAuth, with the GitHub App's client id and secret).

``/login`` sends the browser to GitHub's authorize page with a one-time ``state`` kept in a
signed cookie; ``/login/callback`` checks it, exchanges the code for the user's token, asks
GitHub who it is, and keeps ``{login, token}`` in a signed, ``HttpOnly``, ``SameSite=Lax`` cookie
(8 hours; the token is the user's own, used to ask GitHub what they may read). ``/logout`` is a
POST with a CSRF token derived from that cookie. Without ``PVE_GITHUB_CLIENT_ID`` and
``PVE_GITHUB_CLIENT_SECRET`` the pages say how to enable it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from pve.untrusted import TooLarge, read_capped
from web.shell import error_page, page

STATE_COOKIE, USER_COOKIE = "pve_login_state", "pve_user"
STATE_MAX_AGE, USER_MAX_AGE = 600, 8 * 3600
FORM_COOKIE, FORM_MAX_AGE = "pve_form", 24 * 3600


log = logging.getLogger("pve.web")


class Signer:
    """Sealed, expiring JSON (the cookies' contents): AES-256-GCM, so a cookie is both
    authenticated and unreadable. The user cookie carries a GitHub token, which a signed but
    plain cookie gave to anything that saw the cookie (a proxy log, a shared machine)."""

    def __init__(self, secret: bytes, purpose: str) -> None:
        self.key = hmac.new(secret, f"pve-web:{purpose}".encode(), hashlib.sha256).digest()
        self._aead = AESGCM(self.key)

    def dumps(self, data: dict[str, Any], max_age: int) -> str:
        nonce = secrets.token_bytes(12)
        sealed = self._aead.encrypt(nonce, json.dumps({**data, "exp": int(time.time()) + max_age}).encode(), None)
        return base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")

    def loads(self, token: str | None) -> dict[str, Any] | None:
        if not token or len(token) > 8192:
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            data = json.loads(self._aead.decrypt(raw[:12], raw[12:], None))
        except (ValueError, InvalidTag):
            return None
        if not isinstance(data, dict) or int(data.get("exp", 0)) < time.time():
            return None
        return data


@dataclass(frozen=True)
class OAuthApp:
    client_id: str
    client_secret: str
    web_url: str  # https://github.com, or a GitHub Enterprise host
    api_url: str
    public_url: str  # where PVE is reached: the callback's base

    @classmethod
    def from_config(cls, env: Mapping[str, str], api_url: str) -> OAuthApp | None:
        client_id, secret = env.get("PVE_GITHUB_CLIENT_ID"), env.get("PVE_GITHUB_CLIENT_SECRET")
        public = (env.get("PVE_PUBLIC_URL") or "").rstrip("/")
        if not client_id or not secret or not public:
            return None
        web = env.get("PVE_GITHUB_WEB_URL") or ("https://github.com" if api_url == "https://api.github.com"
                                                else api_url.removesuffix("/api/v3"))
        return cls(client_id, secret, web.rstrip("/"), api_url.rstrip("/"), public)


@dataclass(frozen=True)
class User:
    login: str
    token: str


def current_user(request: Request, signer: Signer) -> User | None:
    data = signer.loads(request.cookies.get(USER_COOKIE))
    if data is None or not isinstance(data.get("login"), str) or not isinstance(data.get("token"), str):
        return None
    return User(data["login"], data["token"])


def csrf_token(request: Request, signer: Signer) -> str:
    """Tied to the signed-in cookie: a form from another site cannot know it."""
    return hmac.new(signer.key, (request.cookies.get(USER_COOKIE) or "").encode(), hashlib.sha256).hexdigest()


def form_token(request: Request, signer: Signer) -> tuple[str, str | None]:
    """A form's CSRF token for anyone, signed in or not (double submit): tied to a random cookie
    of this site that another site can neither read nor send (``SameSite=Strict``). Returns the
    token and, when the browser has no such cookie yet, the cookie's value to set."""
    have = request.cookies.get(FORM_COOKIE)
    fresh = None if have and len(have) >= 32 else secrets.token_urlsafe(24)
    value = fresh or have or ""
    return hmac.new(signer.key, f"form:{value}".encode(), hashlib.sha256).hexdigest(), fresh


def valid_form_token(request: Request, signer: Signer, token: str) -> bool:
    have = request.cookies.get(FORM_COOKIE)
    if not have or not token:
        return False
    return hmac.compare_digest(token, hmac.new(signer.key, f"form:{have}".encode(), hashlib.sha256).hexdigest())


def _safe_next(target: str | None) -> str:
    """Only a path of this site: never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def router(app: OAuthApp | None, signer: Signer) -> APIRouter:
    r = APIRouter()
    secure = bool(app and app.public_url.startswith("https://"))

    def cookie(response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="lax", secure=secure, path="/")

    @r.get("/login")
    def login(request: Request) -> Response:
        user = current_user(request, signer)
        if user is not None:
            return page("Signed in", f"<h1>Signed in</h1><p>You are signed in as <strong>{html.escape(user.login)}"
                                     "</strong>.</p><form method=\"post\" action=\"/logout\"><input type=\"hidden\" "
                                     f"name=\"csrf\" value=\"{csrf_token(request, signer)}\"><button type=\"submit\">"
                                     "Sign out</button></form>")
        if app is None:
            return error_page(503, "Sign-in is not enabled",
                              "This PVE has no GitHub OAuth settings. Set <code>PVE_GITHUB_CLIENT_ID</code> and "
                              "<code>PVE_GITHUB_CLIENT_SECRET</code> (the GitHub App's client id and secret: "
                              "<code>pve app setup</code> stores them) and <code>PVE_PUBLIC_URL</code>. Public "
                              "repositories' sessions need no sign-in.")
        state = secrets.token_urlsafe(24)
        query = urlencode({"client_id": app.client_id, "redirect_uri": f"{app.public_url}/login/callback",
                           "state": state, "allow_signup": "false"})
        response = RedirectResponse(f"{app.web_url}/login/oauth/authorize?{query}", status_code=302)
        cookie(response, STATE_COOKIE, signer.dumps({"state": state, "next": _safe_next(request.query_params.get("next"))},
                                                    STATE_MAX_AGE), STATE_MAX_AGE)
        return response

    @r.get("/login/callback")
    async def callback(request: Request) -> Response:
        if app is None:
            return error_page(503, "Sign-in is not enabled", "This PVE has no GitHub OAuth settings.")
        kept = signer.loads(request.cookies.get(STATE_COOKIE))
        state, code = request.query_params.get("state"), request.query_params.get("code")
        if kept is None or not state or not code or not hmac.compare_digest(str(kept.get("state")), state):
            return error_page(400, "This sign-in has expired",
                              "The sign-in took too long or did not start here. <a href=\"/login\">Sign in again</a>.")
        try:
            async with httpx.AsyncClient(timeout=15) as client:
                answer = await client.post(f"{app.web_url}/login/oauth/access_token", headers={"Accept": "application/json"},
                                           data={"client_id": app.client_id, "client_secret": app.client_secret,
                                                 "code": code, "redirect_uri": f"{app.public_url}/login/callback"})
                token = answer.json().get("access_token") if answer.status_code == 200 else None
                if not token:
                    return error_page(400, "GitHub did not accept this sign-in",
                                      "GitHub refused the sign-in code (it is used once and expires after ten "
                                      "minutes). <a href=\"/login\">Sign in again</a>.")
                me = await client.get(f"{app.api_url}/user", headers={"Authorization": f"Bearer {token}",
                                                                       "Accept": "application/vnd.github+json"})
        except (httpx.HTTPError, ValueError):
            return error_page(502, "GitHub could not be reached",
                              "PVE could not reach GitHub to finish the sign-in. Try again in a minute.")
        if me.status_code != 200 or not isinstance(me.json().get("login"), str):
            return error_page(502, "GitHub did not say who you are", "Try signing in again.")
        response = RedirectResponse(_safe_next(str(kept.get("next"))), status_code=302)
        cookie(response, USER_COOKIE, signer.dumps({"login": me.json()["login"], "token": token}, USER_MAX_AGE),
               USER_MAX_AGE)
        response.delete_cookie(STATE_COOKIE, path="/")
        return response

    @r.post("/logout")
    async def logout(request: Request) -> Response:
        try:  # a sign-out form is a token: anything longer is not one
            form = await read_capped(request.stream(), 4096, request.headers.get("content-length"))
        except TooLarge:
            return error_page(413, "That is not a sign-out form", "Sign out from the sign-in page (<a href=\"/login\">/login</a>).")
        sent = dict(pair.split("=", 1) for pair in form.decode("ascii", "replace").split("&") if "=" in pair)
        user = current_user(request, signer)
        if user is None or not hmac.compare_digest(sent.get("csrf", ""), csrf_token(request, signer)):
            return error_page(403, "That did not come from this page",
                              "Sign out from the sign-in page (<a href=\"/login\">/login</a>).")
        if app is not None:
            await _revoke(app, user.token)
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(USER_COOKIE, path="/")
        return response

    return r


async def _revoke(app: OAuthApp, token: str) -> None:
    """Sign-out ends the token, not only the cookie: a copy of the cookie taken before it (or
    the token read from one) is worth nothing after. GitHub: ``DELETE /applications/{client_id}/token``
    with the OAuth app's own credentials. Best effort: GitHub down does not keep anyone signed in."""
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await client.request("DELETE", f"{app.api_url}/applications/{app.client_id}/token",
                                          auth=(app.client_id, app.client_secret), json={"access_token": token},
                                          headers={"Accept": "application/vnd.github+json"})
        if answer.status_code not in (204, 404, 422):  # 404/422: already gone
            log.warning("sign-out: GitHub answered %s to the token's revocation", answer.status_code)
    except httpx.HTTPError as exc:
        log.warning("sign-out: the token could not be revoked (%s)", type(exc).__name__)
