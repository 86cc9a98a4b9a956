"""The web view as one piece: every page's router over one store, one sign-in, one access rule.
``pve serve`` mounts it beside the webhook endpoint; the tests and the benchmark mount the same."""

from __future__ import annotations

from fastapi import FastAPI

from store.base import Store
from web import access, auth, permalinks, shell


def mount(web: FastAPI, store: Store, *, secret: bytes, oauth: auth.OAuthApp | None,
          reader: access.Reader | None = None) -> access.Viewer:
    """Add the pages to ``web``. Cookies are signed with a key derived from ``secret``; without
    ``oauth`` nobody signs in and only public repositories' sessions (and local ones) are shown.
    ``reader`` defaults to one asking ``oauth``'s GitHub API with each user's token."""
    signer = auth.Signer(secret, "cookies")
    viewer = access.Viewer(signer, reader or (access.Reader(oauth.api_url) if oauth else None))
    web.include_router(permalinks.router(store, viewer))
    web.include_router(auth.router(oauth, signer))
    web.include_router(shell.assets())
    return viewer
