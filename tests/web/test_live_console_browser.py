"""The AWS stack's live console in a real browser: Debian's Chromium on the permalink page served
by the webhook function's app (``entrypoints.aws_web.web_app``, over DynamoDB + S3 in moto's
server), its console arriving over a WebSocket through a local stand-in for API Gateway's
WebSocket API at its wire protocol (``tests/websocket_gateway.py``): the handshake is the console
function's ``$connect``, the steps' lines come through the management API by boto3."""

from __future__ import annotations

import threading
import time

import boto3
import pytest
import uvicorn

from entrypoints import aws_console, aws_web
from pve.events import Event
from pve.models import Origin, Session, SessionStatus
from store.connections import ConsoleConnections
from store.dynamo import DynamoStore, table_definition
from tests.app_harness import app_env
from tests.aws_engine import BUCKET, free_port, moto_server
from tests.web.conftest import CHROMIUM
from tests.web.test_browser import Visit
from tests.websocket_gateway import Gateway

pytestmark = pytest.mark.browser
SID = "5e" * 16


def line(store: DynamoStore, seq: int, text: str, status: str | None = None) -> Event:
    event = Event(seq=seq, ts=time.time(), kind="run", text=text, status=status)
    store.append_event(SID, event)
    return event


def wait_until(check, what: str, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s} s: {what}")
        time.sleep(0.05)


def test_a_running_session_s_console_arrives_over_the_websocket(monkeypatch, tmp_path, github, app_key, browser):
    import os

    assert os.path.exists(CHROMIUM)
    with moto_server(monkeypatch):
        boto3.client("dynamodb").create_table(**table_definition())
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        env = app_env(tmp_path / "home", github, app_key[0], PVE_TABLE=table_definition()["TableName"],
                      PVE_BUCKET=BUCKET)
        store = DynamoStore.from_env(env)
        store.put_session(Session(id=SID, created_at="2026-12-06T09:00:00+00:00", project="/p", trigger="issue_comment",
                                  status=SessionStatus.RUNNING, message="",
                                  origin=Origin(repo="octo/open", sha="a" * 40, issue=7, private=False)))
        line(store, 1, "Analyzing logic... ZeroDivisionError in stats/core.py:12 (mean)")
        line(store, 2, "Reproducing in sandbox 3...", "FAILED as reported - ZeroDivisionError")

        monkeypatch.setattr(aws_console, "_console", None)
        with Gateway(lambda event: aws_console.handler(event, None)) as gateway:
            env.update(PVE_CONSOLE_URL=gateway.socket_url, PVE_CONSOLE_ENDPOINT=gateway.management_url)
            for k, v in env.items():
                monkeypatch.setenv(k, v)  # the console function reads its settings as on Lambda
            port = free_port()
            server = uvicorn.Server(uvicorn.Config(aws_web.web_app(env), host="127.0.0.1", port=port,
                                                   log_level="warning"))
            threading.Thread(target=server.run, daemon=True).start()
            wait_until(lambda: server.started, "the web app started")
            try:
                v = Visit(browser, f"http://127.0.0.1:{port}")
                v.page.goto(f"/s/{SID}")
                v.page.wait_for_selector("#console .line >> text=Reproducing in sandbox 3")
                connections = ConsoleConnections(store)
                wait_until(lambda: connections.connections(SID), "the page's socket connected")

                # The steps post as they run (Broadcast, as Services.live on the stack): out of
                # number order across parallel Validate functions, each line shown once.
                # (candidate 1's line is posted and not stored: it can only reach the page over the
                # socket, never through the SSE stream the page would fall back to.)
                live = aws_web.broadcast(env, store)
                for event in (line(store, 2001, "Running candidate 2 (guard.base-case)...", "PASSED"),
                              Event(seq=1001, ts=time.time(), kind="run", text="Running candidate 1 (compare.boundary)...",
                                    status="FAILED")):
                    live.post(SID, event)
                live.post(SID, Event(seq=2001, ts=time.time(), kind="run", text="Running candidate 2 (guard.base-case)...",
                                     status="PASSED"))  # a repeat: the page shows it once
                v.page.wait_for_selector("#console .line >> text=Running candidate 1")
                texts = v.page.locator("#console .line").all_inner_texts()
                assert sum("Running candidate 2" in t for t in texts) == 1, texts
                assert [t.split("...")[0] for t in texts[-2:]] == ["> Running candidate 2 (guard.base-case)",
                                                                    "> Running candidate 1 (compare.boundary)"]
                v.check("aws-live-console")  # the socket's origin is in the CSP; no violation

                # Over: stored, then "done"; the page reloads with the result.
                session = store.get_session(SID)
                assert session is not None
                session.status, session.message = SessionStatus.NO_FIX, "no verified fix"
                store.put_session(session)
                live.done(SID, session.status.value)
                v.page.wait_for_selector("#console[data-live='0']", timeout=20_000)
                assert "no verified fix" in v.page.inner_text("main").lower()
                # the reader left: the gateway's $disconnect forgot the connection
                v.context.close()
                wait_until(lambda: not connections.connections(SID), "the connection forgotten")
                assert gateway.refused == []
            finally:
                server.should_exit = True
