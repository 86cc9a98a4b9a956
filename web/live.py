"""The live console on AWS: a session's console lines pushed over API Gateway WebSockets.

Under ``pve serve`` the page streams Server-Sent Events from the web process
(``permalinks.stream``). A Lambda function cannot hold a stream open, so on the AWS stack the
browser opens a WebSocket to API Gateway instead:

- the page (served by the webhook function's app) asks ``/s/<id>/live`` (``router``) for the
  socket's address and a *ticket*: the session id sealed with the web secret for a few minutes,
  given only to a reader the access rule lets see the session; the socket's API is on another
  host, where the reader's cookies do not go, so the ticket is what admits them (under
  ``pve serve`` that route does not exist, and the page streams its SSE instead);
- ``$connect`` (the console function, ``handle``) opens the ticket and records the connection
  under its session in ``PVE_Main`` (``Connections``);
- the client's first message, ``{"action": "since", "after": N}``, gets the lines it missed;
- every step of the engine posts each new line to the session's connections through the
  management API (``Broadcast``, the steps' ``Services.live``); a gone connection is dropped;
- once the session is stored as ended, ``{"type": "done"}``: the page reloads with the result.

Messages are JSON, one per WebSocket frame: ``{"type": "console", "seq", "ts", "kind", "text",
"status"}`` (the same fields as the SSE stream's) or ``{"type": "done", "status"}``.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from pve.events import Event
from pve.models import SessionStatus, is_session_id
from store.base import SessionLog
from web.access import Viewer
from web.auth import Signer

log = logging.getLogger("pve.live")
TICKET_AGE_S = 15 * 60  # a page left open longer reloads for a new one (the SSE stream's limit too)
CONNECTION_TTL_S = 2 * 3600  # API Gateway closes a WebSocket after two hours


class Connections(Protocol):
    """The live console's open WebSocket connections, by session (``store.dynamo``)."""

    def add_connection(self, session_id: str, connection_id: str, ttl_s: int) -> None: ...

    def connections(self, session_id: str) -> list[str]: ...

    def connection_session(self, connection_id: str) -> str | None: ...

    def drop_connection(self, connection_id: str) -> None: ...


def ticket_signer(secret: bytes) -> Signer:
    return Signer(secret, "live-console")


def ticket(signer: Signer, session_id: str) -> str:
    """What admits a page's reader to its session's console socket, for ``TICKET_AGE_S``."""
    return signer.dumps({"session": session_id}, TICKET_AGE_S)


def ticket_session(signer: Signer, sealed: str | None) -> str | None:
    data = signer.loads(sealed)
    session = data.get("session") if data else None
    return session if isinstance(session, str) else None


def router(store: SessionLog, viewer: Viewer, signer: Signer, socket_url: str) -> APIRouter:
    """``GET /s/<id>/live``: where a reader who may see the session connects, with their ticket."""
    r = APIRouter()

    @r.get("/s/{session_id}/live")
    def live(session_id: str, request: Request) -> Response:
        session = store.get_session(session_id) if is_session_id(session_id) else None
        if session is None:
            return JSONResponse({"error": "no such session"}, status_code=404)
        refused = viewer.refusal(session, request)
        if refused is not None:
            return JSONResponse({"error": "not yours to read"}, status_code=refused.status_code)
        query = urlencode({"session": session_id, "ticket": ticket(signer, session_id)})
        return JSONResponse({"socket": f"{socket_url}?{query}"}, headers={"Cache-Control": "private, no-store"})

    return r


def allow_socket(app: FastAPI, socket_url: str) -> None:
    """The pages' Content-Security-Policy lets scripts connect to the console's socket too (its
    API is another origin; everything else stays ``'self'`` only)."""
    parts = urlsplit(socket_url)
    origin = f"{parts.scheme}://{parts.netloc}"

    @app.middleware("http")
    async def csp(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        policy = response.headers.get("content-security-policy")
        if policy and "connect-src 'self'" in policy:
            response.headers["content-security-policy"] = policy.replace("connect-src 'self'",
                                                                         f"connect-src 'self' {origin}")
        return response


def console_message(event: Event) -> bytes:
    return json.dumps({"type": "console", "seq": event.seq, "ts": event.ts, "kind": event.kind, "text": event.text,
                       "status": event.status}).encode()


def done_message(status: str) -> bytes:
    return json.dumps({"type": "done", "status": status}).encode()


class Broadcast:
    """Posts a session's console to its open connections (``Services.live`` on the AWS stack).
    ``client``: boto3's ``apigatewaymanagementapi`` client for the console API's stage."""

    def __init__(self, connections: Connections, client: Any) -> None:
        self.connections, self.client = connections, client

    def post(self, session_id: str, event: Event) -> None:
        self._send(session_id, console_message(event))

    def done(self, session_id: str, status: str) -> None:
        self._send(session_id, done_message(status))

    def send_to(self, connection_id: str, data: bytes) -> bool:
        """One message to one connection; False (and the connection dropped) when it is gone."""
        try:
            self.client.post_to_connection(ConnectionId=connection_id, Data=data)
        except self.client.exceptions.GoneException:
            self.connections.drop_connection(connection_id)
            return False
        return True

    def _send(self, session_id: str, data: bytes) -> None:
        # Best effort: a reader's socket never fails a verification (the console is in the store).
        try:
            for connection_id in self.connections.connections(session_id):
                self.send_to(connection_id, data)
        except Exception:
            log.exception("live console: posting to session %s's readers failed", session_id)


def handle(event: dict[str, Any], store: SessionLog, signer: Signer, broadcast: Broadcast) -> dict[str, Any]:
    """The console function: API Gateway's WebSocket routes (``$connect``, ``$disconnect`` and
    ``$default``, where the client's messages arrive)."""
    context = event.get("requestContext") or {}
    route, connection_id = context.get("routeKey"), context.get("connectionId")
    if not isinstance(connection_id, str) or not connection_id:
        return {"statusCode": 400, "body": "no connection"}
    if route == "$connect":
        params = event.get("queryStringParameters") or {}
        session_id = ticket_session(signer, params.get("ticket"))
        if session_id is None or session_id != params.get("session") or store.get_session(session_id) is None:
            return {"statusCode": 403, "body": "no ticket for this session"}
        broadcast.connections.add_connection(session_id, connection_id, CONNECTION_TTL_S)
        return {"statusCode": 200}
    if route == "$disconnect":
        broadcast.connections.drop_connection(connection_id)
        return {"statusCode": 200}
    return _message(event, connection_id, store, broadcast)


def _message(event: dict[str, Any], connection_id: str, store: SessionLog, broadcast: Broadcast) -> dict[str, Any]:
    """``{"action": "since", "after": N}``: the lines after N, then "done" if it is over."""
    try:
        body = json.loads(event.get("body") or "{}")
    except ValueError:
        body = None
    after = body.get("after", 0) if isinstance(body, dict) and body.get("action") == "since" else None
    if not isinstance(after, int) or isinstance(after, bool) or after < 0:
        return {"statusCode": 400, "body": 'send {"action": "since", "after": <seq>}'}
    session_id = broadcast.connections.connection_session(connection_id)
    if session_id is None:
        return {"statusCode": 403, "body": "not connected to a session"}
    for e in store.events(session_id, after):
        if not broadcast.send_to(connection_id, console_message(e)):
            return {"statusCode": 410}
    session = store.get_session(session_id)
    if session is not None and session.status is not SessionStatus.RUNNING:
        broadcast.send_to(connection_id, done_message(session.status.value))
    return {"statusCode": 200}
