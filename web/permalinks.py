"""Session permalinks: ``/s/<session>`` (result, fix, console) and ``/s/<session>/proof.txt``
(the signed execution proof, byte for byte, for ``pve proof verify``).

The first piece of the web view: what the GitHub App's links point to. Session ids are 128-bit
random (or keyed by the webhook secret), so a permalink is unguessable; anything that is not
one is a 404 without touching the store.
"""

from __future__ import annotations

import html
from typing import Protocol

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from pve.models import is_session_id
from store.base import Blobs, SessionLog


class PermalinkStore(SessionLog, Blobs, Protocol):
    """What the pages read: sessions and their console, and the proof."""


def router(store: PermalinkStore) -> APIRouter:
    r = APIRouter()

    @r.get("/s/{session_id}", response_class=HTMLResponse)
    def session_page(session_id: str) -> Response:
        session = store.get_session(session_id) if is_session_id(session_id) else None
        if session is None:
            return HTMLResponse("<h1>No such session</h1>", status_code=404)
        winner = session.winning_candidate()
        head = session.analysis.headline() if session.analysis else "the failure"
        console = "\n".join(f"> {e.text}" + (f" [{e.status}]" if e.status else "") for e in store.events(session_id))
        parts = [f"<h1>{html.escape(session.status.value.capitalize())}: {html.escape(head)}</h1>",
                 f"<p>Session <code>{session.id}</code>, {html.escape(session.created_at)}, oracle: "
                 f"{html.escape(session.oracle.value if session.oracle else 'none')}. "
                 f"<a href='/s/{session.id}/proof.txt'>Signed execution proof</a> "
                 "(check it with <code>pve proof verify proof.txt</code>).</p>"]
        if winner:
            parts.append(f"<h2>Fix</h2><pre>{html.escape(winner.diff)}</pre>")
        parts.append(f"<h2>Console</h2><pre>{html.escape(console)}</pre>")
        return HTMLResponse("<!doctype html><html><head><meta charset='utf-8'><title>PVE session</title></head>"
                            f"<body>{''.join(parts)}</body></html>")

    @r.get("/s/{session_id}/proof.txt")
    def proof(session_id: str) -> Response:
        data = store.get_blob(session_id, "proof.txt") if is_session_id(session_id) else None
        if data is None:
            return PlainTextResponse("no such session\n", status_code=404)
        return Response(data, media_type="text/plain; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="pve-proof-{session_id}.txt"'})

    return r
