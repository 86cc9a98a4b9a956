"""Who may see what: a session of a private repository is shown only to a signed-in user whose
own GitHub token can read that repository; sessions of public repositories (and local ones,
which have no repository) are open to anyone holding the link.

GitHub is asked with the user's token (``GET /repos/{owner}/{repo}``: 200 means they can read
it, 404 that they cannot; the App's installations and repositories they can reach for their
history and quota), and the answers are kept for ``TTL_S`` per token, so a page view costs a
GitHub call at most once a minute per user and repository. A revoked access therefore lasts at
most that long here.
"""

from __future__ import annotations

import hashlib
import html
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from fastapi import Request
from fastapi.responses import Response

from pve.models import Session
from web.auth import Signer, User, current_user
from web.shell import error_page

T = TypeVar("T")
TTL_S = 60.0
PER_PAGE = 100
MAX_PAGES = 10  # 1,000 installations or repositories per installation: more is cut, not fetched forever


class GitHubUnavailable(Exception):
    """GitHub did not answer an access check: the page says so instead of guessing."""


@dataclass(frozen=True)
class Installation:
    id: int
    account: str


class Reader:
    """A signed-in user's view of GitHub, asked with their token, remembered briefly."""

    def __init__(self, api_url: str, *, ttl_s: float = TTL_S, client: httpx.Client | None = None) -> None:
        self.api_url = api_url.rstrip("/")
        self.ttl_s = ttl_s
        self._client = client or httpx.Client(timeout=10)
        self._cache: dict[tuple[str, str], tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def can_read(self, user: User, repo: str) -> bool:
        return bool(self._cached(user, f"repo:{repo.lower()}", lambda: self._get(user, f"/repos/{repo}") is not None))

    def installations(self, user: User) -> list[Installation]:
        def ask() -> list[Installation]:
            return [Installation(int(i["id"]), str((i.get("account") or {}).get("login") or i["id"]))
                    for i in self._pages(user, "/user/installations", "installations")]
        return list(self._cached(user, "installations", ask))

    def repositories(self, user: User) -> tuple[str, ...]:
        """Every repository of the App's installations the user can reach, as "owner/name"."""
        def ask() -> tuple[str, ...]:
            names = {str(r["full_name"]) for i in self.installations(user)
                     for r in self._pages(user, f"/user/installations/{i.id}/repositories", "repositories")}
            return tuple(sorted(names))
        return tuple(self._cached(user, "repositories", ask))

    # ------------------------------------------------------------------ GitHub

    def _cached(self, user: User, what: str, ask: Any) -> Any:
        key = (hashlib.sha256(user.token.encode()).hexdigest(), what)  # the token itself is not kept as a key
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] > now:
                return hit[1]
            if len(self._cache) > 10_000:  # bounded: drop what has expired, else everything
                self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
                if len(self._cache) > 10_000:
                    self._cache.clear()
        value = ask()
        with self._lock:
            self._cache[key] = (now + self.ttl_s, value)
        return value

    def _get(self, user: User, path: str, params: dict[str, Any] | None = None) -> Any:
        try:
            r = self._client.get(f"{self.api_url}{path}", params=params,
                                 headers={"Authorization": f"Bearer {user.token}",
                                          "Accept": "application/vnd.github+json",
                                          "X-GitHub-Api-Version": "2022-11-28"})
        except httpx.HTTPError as exc:
            raise GitHubUnavailable(str(exc)) from exc
        if r.status_code in (401, 403, 404):  # not theirs to read (or the token was revoked)
            return None
        if r.status_code != 200:
            raise GitHubUnavailable(f"GitHub answered {r.status_code} to {path}")
        return r.json()

    def _pages(self, user: User, path: str, key: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for page in range(1, MAX_PAGES + 1):
            data = self._get(user, path, {"per_page": PER_PAGE, "page": page})
            items = (data or {}).get(key) or []
            out.extend(i for i in items if isinstance(i, dict))
            if len(items) < PER_PAGE:
                break
        return out


@dataclass(frozen=True)
class Viewer:
    """Who is looking (the signed cookie) and what they may see (their token, via ``reader``).
    ``reader`` is None when sign-in is not enabled: then only public sessions can be shown."""

    signer: Signer
    reader: Reader | None = None

    def user(self, request: Request) -> User | None:
        return current_user(request, self.signer) if self.reader is not None else None

    def sign_in_first(self, request: Request, what: str) -> Response | User:
        """The signed-in user, or the page that asks them to sign in (or says it is not enabled)."""
        if self.reader is None:
            return error_page(503, "Sign-in is not enabled",
                              f"{what} needs a GitHub sign-in, and this PVE has none. Its operator can enable one: "
                              "<code>PVE_GITHUB_CLIENT_ID</code>, <code>PVE_GITHUB_CLIENT_SECRET</code> (the GitHub "
                              "App's client; <code>pve app setup</code> stores them) and <code>PVE_PUBLIC_URL</code>.")
        user = self.user(request)
        if user is None:
            here = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""), safe="/")
            return error_page(401, "Sign in first", f"{what} shows what your GitHub account can read. "
                                                    f"<a href=\"/login?next={here}\">Sign in with GitHub</a>.")
        return user

    def signed_in_asking(self, request: Request, what: str, ask: Callable[[Reader, User], T],
                         asked: str) -> tuple[User, T] | Response:
        """The signed-in user and GitHub's answer to ``ask`` about them (``asked`` says what in
        words); else the page to show: sign in first, or GitHub down."""
        user = self.sign_in_first(request, what)
        if isinstance(user, Response):
            return user
        assert self.reader is not None  # sign_in_first answered otherwise
        try:
            return user, ask(self.reader, user)
        except GitHubUnavailable:
            return error_page(502, "GitHub could not be reached",
                              f"PVE asks GitHub {asked}, and GitHub did not answer. Try again in a minute.")

    def refusal(self, session: Session, request: Request) -> Response | None:
        """None when the session may be shown; else the page that says why not."""
        if session.origin is None or not session.origin.private:
            return None
        here = quote(request.url.path)
        if self.reader is None:
            return error_page(403, "This session is private",
                              "It belongs to a private repository, and this PVE has no GitHub sign-in to tell who "
                              "may read it (its operator can enable one: <code>PVE_GITHUB_CLIENT_ID</code>, "
                              "<code>PVE_GITHUB_CLIENT_SECRET</code>, <code>PVE_PUBLIC_URL</code>).")
        user = self.user(request)
        if user is None:
            return error_page(401, "Sign in to see this session",
                              "It belongs to a private repository: GitHub decides who may read it. "
                              f"<a href=\"/login?next={here}\">Sign in with GitHub</a> to see it if you can.")
        try:
            allowed = self.reader.can_read(user, session.origin.repo)
        except GitHubUnavailable:
            return error_page(502, "GitHub could not be reached",
                              "This session belongs to a private repository, and GitHub did not answer whether you "
                              "may read it. Try again in a minute.")
        if allowed:
            return None
        return error_page(404, "No such session",
                          f"This link names no session that <strong>{html.escape(user.login)}</strong> may see: it "
                          "does not exist, or it belongs to a repository your GitHub account cannot read. "
                          f"(<a href=\"/login?next={here}\">Signed in as someone else on GitHub?</a>)")
