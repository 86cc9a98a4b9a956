"""A local stand-in for API Gateway's WebSocket API, at its wire protocol, for the live console.

AWS's WebSocket API cannot run here (moto keeps only the management API's bookkeeping), so this
speaks both of its sides as API Gateway does:

- clients: a WebSocket server whose handshake is the ``$connect`` route (the console function is
  called with the API Gateway event, query string and all; a non-200 answer refuses the
  handshake), each message a ``$default`` event with the frame as ``body``, a close ``$disconnect``;
- the management API (``apigatewaymanagementapi``): ``POST /<stage>/@connections/<id>`` sends the
  request's body to that client as one frame; an unknown or closed connection answers 410
  ``GoneException`` as AWS does, so boto3 raises its ``GoneException``.

Connection ids look like API Gateway's (12 base64 characters ending in ``=``).
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import threading
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from tests.aws_engine import free_port, websocket_event

Handler = Callable[[dict[str, Any]], dict[str, Any]]


class Gateway:
    def __init__(self, handler: Handler, stage: str = "live") -> None:
        self.handler, self.stage = handler, stage
        self.socket_port, self.management_port = free_port(), free_port()
        self.clients: dict[str, ServerConnection] = {}
        self.refused: list[int] = []  # $connect answers other than 200
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Future[None] | None = None

    @property
    def socket_url(self) -> str:
        return f"ws://127.0.0.1:{self.socket_port}/{self.stage}"

    @property
    def management_url(self) -> str:
        return f"http://127.0.0.1:{self.management_port}/{self.stage}"

    def __enter__(self) -> Gateway:
        threading.Thread(target=self._loop.run_until_complete, args=(self._serve(),), daemon=True).start()
        self._http = ThreadingHTTPServer(("127.0.0.1", self.management_port), self._management())
        threading.Thread(target=self._http.serve_forever, daemon=True).start()
        assert self._ready.wait(10), "the gateway did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.shutdown()
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set_result, None)

    # -------------------------------------------------------------------- the clients' side

    async def _serve(self) -> None:
        self._stop = self._loop.create_future()
        async with serve(self._session, "127.0.0.1", self.socket_port, process_request=self._connect):
            self._ready.set()
            await self._stop

    async def _connect(self, connection: ServerConnection, request: Request) -> Response | None:
        connection_id = base64.b64encode(secrets.token_bytes(8)).decode()  # 12 characters, "=" at the end
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(request.path).query))
        answer = await asyncio.to_thread(self.handler, websocket_event("$connect", connection_id, query=query))
        if answer.get("statusCode") != 200:
            self.refused.append(int(answer.get("statusCode", 500)))
            return connection.respond(int(answer.get("statusCode", 500)), str(answer.get("body", "refused")) + "\n")
        connection.id_at_gateway = connection_id  # type: ignore[attr-defined]
        self.clients[connection_id] = connection
        return None

    async def _session(self, connection: ServerConnection) -> None:
        connection_id = connection.id_at_gateway  # type: ignore[attr-defined]
        try:
            async for message in connection:
                body = message if isinstance(message, str) else message.decode()
                await asyncio.to_thread(self.handler, websocket_event("$default", connection_id, body=body))
        finally:
            self.clients.pop(connection_id, None)
            await asyncio.to_thread(self.handler, websocket_event("$disconnect", connection_id))

    # -------------------------------------------------------------------- the management API

    def _management(self) -> type[BaseHTTPRequestHandler]:
        gateway = self

        class Management(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                prefix = f"/{gateway.stage}/@connections/"
                if not self.path.startswith(prefix):
                    return self._answer(404, "NotFoundException", "no such route")
                connection_id = urllib.parse.unquote(self.path[len(prefix):])
                data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                client = gateway.clients.get(connection_id)
                if client is None:
                    return self._answer(410, "GoneException", f"connection {connection_id} is gone")
                asyncio.run_coroutine_threadsafe(client.send(data.decode()), gateway._loop).result(10)
                self._answer(200)

            def _answer(self, status: int, error: str | None = None, message: str = "") -> None:
                body = json.dumps({"message": message}).encode() if error else b""
                self.send_response(status)
                if error:
                    self.send_header("x-amzn-ErrorType", error)
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Management
