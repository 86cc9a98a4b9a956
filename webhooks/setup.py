"""``pve app setup``: GitHub's manifest flow, run from this machine.

``GET /`` shows a page whose button POSTs the manifest (``app.yml`` with this host's URLs) to
GitHub's "new app" page. GitHub creates the app and sends the browser back to
``/app/setup/callback?code=...&state=...``; the code is exchanged for the app's id, private key
and webhook secret, which are stored (0600) in PVE's config file, where ``pve serve`` reads them.
``state`` is a random value checked on the way back, so no other page can feed this one a code.
"""

from __future__ import annotations

import html
import json
import secrets
from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from bot import manifest
from bot.github import GitHubError, manifest_conversion


def create_setup_app(public_url: str, api_url: str, config_file: Path, home: Path, *, org: str | None = None,
                     name: str | None = None, on_done: Callable[[dict], None] | None = None) -> FastAPI:
    app = FastAPI(title="PVE app setup", docs_url=None, redoc_url=None, openapi_url=None)
    state = secrets.token_urlsafe(24)
    data = manifest.for_host(public_url, name=name)

    @app.get("/", response_class=HTMLResponse)
    async def start() -> str:
        action = html.escape(manifest.new_app_url(api_url, org, state))
        return _page("Create the PVE GitHub App",
                     f"<p>This creates a GitHub App named <b>{html.escape(data['name'])}</b> with webhooks to "
                     f"<code>{html.escape(data['hook_attributes']['url'])}</code>.</p>"
                     f'<form action="{action}" method="post">'
                     f'<input type="hidden" name="manifest" value="{html.escape(json.dumps(data))}">'
                     '<button type="submit">Create the app on GitHub</button></form>')

    @app.get(manifest.CALLBACK_PATH, response_class=HTMLResponse)
    async def callback(request: Request) -> HTMLResponse:
        code, got = request.query_params.get("code"), request.query_params.get("state", "")
        if not code or not secrets.compare_digest(got, state):
            return HTMLResponse(_page("Not accepted", "<p>This link did not come from the setup page just shown "
                                      "(missing code or wrong state). Start again from <a href='/'>the setup page</a>.</p>"),
                                status_code=400)
        try:
            created = await manifest_conversion(api_url, code)
        except GitHubError as exc:
            return HTMLResponse(_page("GitHub refused the code", f"<p>{html.escape(str(exc))}</p><p>Codes are "
                                      "single-use and expire after an hour: start again from <a href='/'>the setup page</a>.</p>"),
                                status_code=502)
        key = manifest.save_credentials(created, config_file, home)
        if on_done is not None:
            on_done(created)
        install = html.escape(str(created.get("html_url", "")).rstrip("/") + "/installations/new")
        return HTMLResponse(_page("PVE app created",
                                  f"<p>App <b>{html.escape(str(created.get('slug')))}</b> (id {int(created['id'])}) is "
                                  f"created. Its key is in <code>{html.escape(str(key))}</code> and its settings in "
                                  f"<code>{html.escape(str(config_file))}</code>.</p>"
                                  f"<p>Next: <a href='{install}'>install it on your repositories</a>, then run "
                                  "<code>pve serve</code>.</p>"))

    return app


def _page(title: str, body: str) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
            f"<body><h1>{html.escape(title)}</h1>{body}</body></html>")
