"""Session permalinks: ``/s/<session>`` (result, fix side by side, candidates, console),
``/s/<session>/events`` (the console as Server-Sent Events, live while the session runs) and
``/s/<session>/proof.txt`` (the signed execution proof, byte for byte, for ``pve proof verify``).

Session ids are 128-bit random (or keyed by the webhook secret), so a permalink is unguessable;
anything that is not one is a 404 without touching the store. A session is stored when it ends;
while it runs, its console events are already there, and the page shows them live.
"""

from __future__ import annotations

import asyncio
import html
import json
import time
from collections.abc import AsyncIterator
from typing import Protocol
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response, StreamingResponse

from pve.events import Event
from pve.models import Oracle, Session, SessionStatus, is_session_id
from statemachine.proof.attestation import ATTESTATION
from store.base import Blobs, SessionLog
from web import highlight
from web.access import Viewer
from web.diff import side_by_side
from web.shell import SECURITY_HEADERS, error_page, page

POLL_S = 0.5  # how often a live stream looks for new console lines
STREAM_LIMIT_S = 15 * 60  # a stream ends after this; the browser reconnects where it left off
ORACLE_WORDS = {
    Oracle.EXISTING_TESTS: "Strong: the failure reproduced on the original code, the fix makes it pass, and the "
                           "tests that passed before still pass.",
    Oracle.FAILING_TESTS: "The failing tests pass with the fix; no regression baseline ran, so the other tests "
                          "were not checked.",
    Oracle.REPRO_ASSERTIONS: "The reproduction's own assertions pass with the fix.",
    Oracle.NO_CRASH: "Weak: the reproduction no longer crashes; nothing checks what it computes.",
}


class PermalinkStore(SessionLog, Blobs, Protocol):
    """What the pages read: sessions and their console, and the proof."""


def _not_found() -> Response:
    return error_page(404, "No such session", "This link names no session PVE knows. Session links are long and "
                                              "exact: check that it was copied whole. (A session asked for a moment "
                                              "ago appears within seconds: reload.)")


def router(store: PermalinkStore, viewer: Viewer) -> APIRouter:
    r = APIRouter()

    def shown(session_id: str, request: Request) -> Session | Response:
        """The session, if it exists and this reader may see it; else the page that says why not."""
        session = store.get_session(session_id) if is_session_id(session_id) else None
        if session is None:
            return _not_found()
        return viewer.refusal(session, request) or session

    @r.get("/s/{session_id}")
    def session_page(session_id: str, request: Request) -> Response:
        session = shown(session_id, request)
        if isinstance(session, Response):
            return session
        return page(_title(session), _body(session, store.events(session_id)), scripts=("console.js",))

    @r.get("/s/{session_id}/events")
    async def stream(session_id: str, request: Request) -> Response:
        session = await asyncio.to_thread(shown, session_id, request)
        if isinstance(session, Response):
            return session
        after = request.headers.get("last-event-id") or request.query_params.get("after") or "0"
        start = int(after) if after.isdigit() else 0
        return StreamingResponse(_events(store, session_id, start, request), media_type="text/event-stream",
                                 headers={**SECURITY_HEADERS, "Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    def download(session_id: str, request: Request, blob: str, media_type: str, filename: str) -> Response:
        session = shown(session_id, request)
        data = store.get_blob(session_id, blob) if isinstance(session, Session) else None
        if data is None or not isinstance(session, Session):
            return PlainTextResponse("no such session, or not yours to read\n", status_code=404)
        private = session.origin is not None and session.origin.private
        # a proof quotes the project's output: served as a download that no browser sniffs or runs
        return Response(data, media_type=media_type,
                        headers={**SECURITY_HEADERS, "Content-Security-Policy": "default-src 'none'; sandbox",
                                 "Content-Disposition": f'attachment; filename="{filename}"',
                                 "Cache-Control": "private, no-store" if private else "public, max-age=300"})

    @r.get("/s/{session_id}/proof.txt")
    def proof(session_id: str, request: Request) -> Response:
        return download(session_id, request, "proof.txt", "text/plain; charset=utf-8", f"pve-proof-{session_id}.txt")

    @r.get("/s/{session_id}/" + ATTESTATION)
    def attestation(session_id: str, request: Request) -> Response:
        """The same proof as an in-toto statement in a DSSE envelope (any DSSE library checks it)."""
        return download(session_id, request, ATTESTATION, "application/json",
                        f"pve-{session_id}.intoto.json")

    return r


def sse(event: Event) -> str:
    """One console line as a Server-Sent Event (the format the AWS engine will push too)."""
    data = json.dumps({"seq": event.seq, "ts": event.ts, "kind": event.kind, "text": event.text,
                       "status": event.status})
    return f"id: {event.seq}\nevent: console\ndata: {data}\n\n"


async def _events(store: PermalinkStore, session_id: str, after: int, request: Request) -> AsyncIterator[str]:
    """Console lines after ``after``, as they come, until the session is stored as ended."""
    deadline = time.monotonic() + STREAM_LIMIT_S
    quiet = 0.0
    yield "retry: 2000\n\n"
    while time.monotonic() < deadline:
        new = await asyncio.to_thread(store.events, session_id, after)
        for e in new:
            after = max(after, e.seq)
            yield sse(e)
        session = await asyncio.to_thread(store.get_session, session_id)
        if session is not None and session.status is not SessionStatus.RUNNING:
            for e in await asyncio.to_thread(store.events, session_id, after):  # written just before it was stored
                yield sse(e)
            yield f"event: done\ndata: {json.dumps({'status': session.status.value})}\n\n"
            return
        if await request.is_disconnected():
            return
        quiet = 0.0 if new else quiet + POLL_S
        if quiet >= 15:  # a comment keeps proxies from closing a quiet stream
            quiet = 0.0
            yield ": keep-alive\n\n"
        await asyncio.sleep(POLL_S)


def _title(session: Session) -> str:
    if session.status is SessionStatus.RUNNING:
        return "Verifying…"
    head = session.analysis.headline() if session.analysis else "session"
    return f"{session.status.value.capitalize()}: {head}"


def _body(session: Session, events: list[Event]) -> str:
    live = session.status is SessionStatus.RUNNING
    parts = []
    if live:
        parts.append("<h1><span class=\"status\">verifying</span> Verifying…</h1><p>PVE is running this session now; "
                     "the console below shows each step as it happens.</p>")
        parts.append(_facts(session))
    else:
        head = session.analysis.headline() if session.analysis else "the failure"
        css = session.status.value.split()[0].strip(",.")
        parts.append(f"<h1><span class=\"status {html.escape(css)}\">{html.escape(session.status.value)}</span> "
                     f"{html.escape(head)}</h1>")
        parts.append(f"<p>{html.escape(session.message[:1].upper() + session.message[1:])}.</p>" if session.message else "")
        parts.append(_facts(session))
        parts.append(_actions(session))
        parts.append(_error(session))
        parts.append(_fix(session))
        parts.append(_candidates(session))
    lines = "".join(f"<div class=\"line\" data-seq=\"{e.seq}\">&gt; {html.escape(e.text)}"
                    f"{f' [{html.escape(e.status)}]' if e.status else ''}</div>" for e in events)
    after = events[-1].seq if events else 0
    parts.append(f"<h2 id=\"console-title\">Console</h2><div id=\"console\" role=\"log\" aria-labelledby=\"console-title\" "
                 f"tabindex=\"0\" data-live=\"{1 if live else 0}\" "
                 f"data-stream=\"/s/{session.id}/events?after={after}\" data-after=\"{after}\" "
                 f"data-socket-from=\"/s/{session.id}/live\">{lines}</div>")
    return "".join(parts)


def _facts(session: Session) -> str:
    oracle = session.oracle
    words = ORACLE_WORDS.get(oracle, "") if oracle else \
        "Decided when the session ends." if session.status is SessionStatus.RUNNING else "No oracle: no fix passed."
    rows = [("Session", f"<code>{session.id}</code>"), ("Started", html.escape(session.created_at)),
            ("Trigger", html.escape(session.trigger)), *_origin_rows(session),
            ("Oracle", f"{html.escape(oracle.value) + ': ' if oracle else ''}{html.escape(words)}")]
    if session.oracle_note:
        rows.append(("Regression tests", html.escape(session.oracle_note)))
    total = session.timings_ms.get("total")
    if total:
        rows.append(("Time", f"{total / 1000:.1f} s (sandboxes busy {session.sandbox_busy_ms / 1000:.1f} s)"))
    return "<table class=\"facts\">" + "".join(f"<tr><th scope=\"row\">{k}</th><td>{v}</td></tr>" for k, v in rows) + \
           "</table>"


def _actions(session: Session) -> str:
    out = [f"<a href=\"/s/{session.id}/proof.txt\" download>Download the execution proof</a>"]
    if session.attestation_path:
        out.append(f"<a href=\"/s/{session.id}/{ATTESTATION}\" download>Download it as an in-toto attestation</a>")
    winner = session.winning_candidate()
    if winner is not None:
        out.append("<button type=\"button\" id=\"copy-fix\" hidden>Copy the fix</button>"
                   f"<textarea id=\"fix-text\" class=\"visually-hidden\" aria-hidden=\"true\" tabindex=\"-1\" readonly>"
                   f"{html.escape(winner.diff)}</textarea>")
        o = session.origin
        if o is not None and winner.edits:
            # An issue's fix is on its own branch (bot/publish.py); a pull request's is a suggestion
            # on its head, so the file opens at the commit verified.
            ref = f"pve/fix-{session.id}" if o.pull is None else o.sha
            out.append(f"<a href=\"https://vscode.dev/github/{quote(o.repo)}/blob/{quote(ref)}/"
                       f"{quote(winner.edits[0].path)}\">Open the file in vscode.dev</a>")
        elif session.trigger == "cli" and session.project.startswith("/") and winner.edits:
            path = session.project if session.snippet else f"{session.project.rstrip('/')}/{winner.edits[0].path}"
            out.append(f"<a href=\"vscode://file{quote(path)}\">Open the file in VS Code</a>")
    if session.origin is not None and session.origin.pull is not None:
        o = session.origin
        out.append(f"<a href=\"{html.escape(o.web)}/{quote(o.repo)}/pull/{o.pull}\">Open pull request #{o.pull}</a>")
    elif session.origin is not None and winner is not None:
        o = session.origin
        out.append(f"<a href=\"{html.escape(o.web)}/{quote(o.repo)}/compare/{quote(o.sha)}...{quote(f'pve/fix-{session.id}')}\">"
                   "See the fix branch</a>")
    return f"<p class=\"actions\">{''.join(out)}</p><p class=\"hint\">Check the proof with <code>pve proof verify "\
           f"pve-proof-{session.id}.txt</code>.</p>"


def _origin_rows(session: Session) -> list[tuple[str, str]]:
    o = session.origin
    if o is None:
        return []
    base = f"{html.escape(o.web)}/{quote(o.repo)}"
    rows = [("Repository", f"<a href=\"{base}\">{html.escape(o.repo)}</a> at "
                           f"<a href=\"{base}/commit/{quote(o.sha)}\"><code>{html.escape(o.sha[:7])}</code></a>")]
    if o.pull is not None:
        rows.append(("Pull request", f"<a href=\"{base}/pull/{o.pull}\">#{o.pull}</a>"))
    if o.issue is not None:
        rows.append(("Issue", f"<a href=\"{base}/issues/{o.issue}\">#{o.issue}</a>"))
    return rows


def _error(session: Session) -> str:
    a = session.analysis
    if a is None:
        return ""
    where = ""
    if a.failing_frame is not None:
        f = a.failing_frame
        where = f"<p>Raised in <code>{html.escape(f.project_path or f.file)}:{f.line}</code>" + \
                (f", in <code>{html.escape(f.function)}()</code>" if f.function and f.function != "<module>" else "") + "</p>"
    return (f"<h2>The error</h2><pre class=\"error\">{html.escape(a.exception.type)}: "
            f"{html.escape(a.exception.message)}</pre>{where}")


def _fix(session: Session) -> str:
    winner = session.winning_candidate()
    if winner is None:
        return ""
    files = side_by_side(winner.diff)
    verified = session.status is SessionStatus.VERIFIED
    title = "The verified fix" if verified else "A plausible fix, not verified"
    column = "verified fix" if verified else "plausible fix"
    if not files:
        return f"<h2>{title}</h2><pre class=\"diff\">{html.escape(winner.diff)}</pre>"
    verdict = session.winning_verdict()
    why = [f"<p class=\"evidence\">{html.escape(verdict.covered if verified else verdict.reason)}</p>"] \
        if verdict is not None and (verdict.covered or verdict.plausible) else []
    out = [f"<h2>{title}</h2><p>{html.escape(winner.rationale)}</p>", *why]
    for f in files:
        rows = []
        for row in f.rows:
            if row.kind == "gap":
                rows.append("<tr class=\"gap\"><td class=\"no\"></td><td>⋯</td><td class=\"no\"></td><td>⋯</td></tr>")
                continue
            rows.append(f"<tr class=\"{row.kind}\"><td class=\"no\">{row.old_no or ''}</td>"
                        f"<td class=\"old\">{highlight.line(row.old)}</td><td class=\"no\">{row.new_no or ''}</td>"
                        f"<td class=\"new\">{highlight.line(row.new)}</td></tr>")
        # focusable: on a narrow screen the table scrolls sideways, and keyboards must reach it
        out.append(f"<h3><code>{html.escape(f.path)}</code></h3><div class=\"diff\" tabindex=\"0\" role=\"region\" "
                   f"aria-label=\"{html.escape(f.path)}, side by side\"><table>"
                   f"<caption class=\"visually-hidden\">{html.escape(f.path)}: original on the left, fixed on the right"
                   "</caption><thead><tr><th scope=\"col\">line</th><th scope=\"col\">original</th>"
                   f"<th scope=\"col\">line</th><th scope=\"col\">{column}</th></tr></thead><tbody>{''.join(rows)}"
                   "</tbody></table></div>")
    return "".join(out)


def _candidates(session: Session) -> str:
    if not session.verdicts:
        return ""
    by_id = {c.id: c for c in session.candidates}
    rows = []
    for v in session.verdicts:
        c = by_id.get(v.candidate_id)
        verdict = ("<span class=\"verdict-ok\">verified</span>" if v.verified
                   else f"<span class=\"verdict-plausible\">{html.escape(v.reason[:160])}</span>" if v.plausible
                   else f"<span class=\"verdict-no\">{html.escape(v.reason.splitlines()[0][:160] if v.reason else 'failed')}</span>")
        mark = " (winner)" if v.candidate_id == session.winner else ""
        rows.append(f"<tr><td>{v.candidate_id}{mark}</td><td>{html.escape(c.rule if c else '')}</td><td>{verdict}</td>"
                    f"<td>{v.duration_ms:.0f} ms</td></tr>")
    return ("<h2>Every candidate</h2><table><thead><tr><th scope=\"col\">#</th><th scope=\"col\">rule</th>"
            f"<th scope=\"col\">verdict</th><th scope=\"col\">time</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")
