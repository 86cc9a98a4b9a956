"""The web view as one piece: every page's router over one store, one sign-in, one access rule.
``pve serve`` mounts it beside the webhook endpoint; the tests and the benchmark mount the same."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.responses import Response

from store.base import Store
from web import access, auth, history, keys, permalinks, quota, shell
from web.playground import PlaygroundSetup
from web.playground import router as playground_router


def mount(web: FastAPI, store: Store, *, secret: bytes, oauth: auth.OAuthApp | None,
          reader: access.Reader | None = None, daily_credits: int = 50, playground: PlaygroundSetup,
          proof_keys: Callable[[], list[dict[str, Any]]] | None = None) -> access.Viewer:
    """Add the pages to ``web``. Cookies are signed with a key derived from ``secret``; without
    ``oauth`` nobody signs in and only public repositories' sessions (and local ones) are shown.
    ``reader`` defaults to one asking ``oauth``'s GitHub API with each user's token.
    ``playground`` is what the playground runs snippets with (its ``libraries`` from
    ``bootstrap.sandbox_libraries``); ``proof_keys`` lists the keys proofs are signed with
    (``ProofSigner.published``), served at ``/.well-known/pve-proof-key``."""
    signer = auth.Signer(secret, "cookies")
    viewer = access.Viewer(signer, reader or (access.Reader(oauth.api_url) if oauth else None))
    web.include_router(permalinks.router(store, viewer))
    web.include_router(history.router(store, viewer))
    web.include_router(quota.router(store, viewer, daily_credits))
    web.include_router(playground_router(store, viewer, playground))
    web.include_router(auth.router(oauth, signer))
    web.include_router(shell.assets())
    if proof_keys is not None:
        web.include_router(keys.router(proof_keys))
    web.add_api_route("/", home_page, methods=["GET"], include_in_schema=False)
    return viewer


def home_page() -> Response:
    return shell.page("PVE", "<h1>PVE, the Truth Engine</h1><p>PVE verifies fixes for Python failures: it reproduces "
                             "the failure in a sandbox, tries candidate fixes, and shows only a fix that ran, with a "
                             "signed execution proof anyone can check.</p><ul class=\"home\"><li><a href=\"/playground\">"
                             "Verify a snippet</a> in the playground</li><li><a href=\"/history\">Your sessions</a> "
                             "(sign in with GitHub)</li><li><a href=\"/quota\">Your installations' daily quota</a>"
                             "</li></ul><p>On GitHub, comment <code>/pve verify</code> on an issue with a traceback, "
                             "or let PVE look at a failed CI run.</p>")
