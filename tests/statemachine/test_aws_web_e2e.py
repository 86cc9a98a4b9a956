"""The AWS stack's web view and live console end to end under moto: a verification started by a
signed webhook shows its permalink page, its live console over the WebSocket route and its proof,
all from the stack's own functions (the webhook function's app through Mangum, the console
function behind the WebSocket API's routes), the steps posting console lines through the
management API of moto's server (``apigatewaymanagementapi``, as the console API's would)."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse

import boto3
import pytest

from entrypoints import aws_console, aws_lambda
from pve.models import SessionStatus
from store.dynamo import DynamoStore
from tests.app_harness import INSTALLATION, ROOT, app_env, files_of
from tests.aws_engine import BUCKET, api_gateway_event, deployed, websocket_event
from tests.statemachine.test_stepfunctions_e2e import deliver, issue_command

pytestmark = pytest.mark.sandbox
STATS = ROOT / "examples" / "stats"
SOCKET = "wss://pveconsole.execute-api.us-east-1.amazonaws.com/live"


@pytest.fixture
def engine(monkeypatch, tmp_path, github, app_key):
    env = app_env(tmp_path / "home", github, app_key[0], PVE_SLOTS="3", PVE_CONSOLE_ENDPOINT="{moto}",
                  PVE_CONSOLE_URL=SOCKET, PVE_GITHUB_CLIENT_ID=github.oauth_client[0],
                  PVE_GITHUB_CLIENT_SECRET=github.oauth_client[1], PVE_GITHUB_WEB_URL=github.url)
    with deployed(monkeypatch, env, bot_login=f"{github.slug}[bot]") as eng:
        monkeypatch.setattr(aws_console, "_console", None)
        yield eng


def get(path: str, query: str = "", cookies: list[str] | None = None) -> dict:
    """GET through the webhook function, as API Gateway's HTTP API hands it a request."""
    event = api_gateway_event(b"", {"Accept": "text/html"}, method="GET", path=path, query=query)
    if cookies:
        event["cookies"] = cookies
    return aws_lambda.handler(event, None)


def sign_in(github, login: str) -> list[str]:
    """GitHub sign-in through the stack's app (the local GitHub's OAuth); the cookies it set."""
    started = get("/login", "next=/history")
    assert started["statusCode"] == 302, started
    location = urllib.parse.urlsplit(started["headers"]["location"])
    assert location.path == "/login/oauth/authorize"
    state = urllib.parse.parse_qs(location.query)["state"][0]
    jar = [c.split(";", 1)[0] for c in started.get("cookies", [])]
    done = get("/login/callback", urllib.parse.urlencode({"code": github.authorize(login), "state": state}), jar)
    assert done["statusCode"] == 302, done
    return jar + [c.split(";", 1)[0] for c in done.get("cookies", [])]


def posted(connection_id: str) -> list[dict]:
    """What the steps and the console function posted to one connection, message by message
    (moto's management API keeps a connection's data as one byte string, under the id as the
    request's path carried it: URL-encoded, where API Gateway would decode it)."""
    from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends

    connections = apigatewaymanagementapi_backends["123456789012"]["us-east-1"].connections
    data = connections[urllib.parse.quote(connection_id, safe="")].data.decode()
    decoder, out, i = json.JSONDecoder(), [], 0
    while i < len(data):
        message, i = decoder.raw_decode(data, i)
        out.append(message)
    return out


def wait_for_running_session(timeout_s: float = 120) -> str:
    store = DynamoStore(boto3.client("dynamodb"), boto3.client("s3"), bucket=BUCKET)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        running = [s for s in store.recent_sessions() if s.status is SessionStatus.RUNNING]
        if running:
            return running[0].id
        time.sleep(0.2)
    raise AssertionError("no session started")


def test_permalink_live_console_and_proof_from_the_stack_s_own_app(monkeypatch, engine, github):
    # The candidates wait until a reader is connected: everything after that arrives live.
    reader_connected = threading.Event()
    engine.broken["validate"] = lambda event: reader_connected.wait(120) and None
    repo = github.add_repo("octo/stats", files_of(STATS), installation=INSTALLATION)
    payload = issue_command(github, repo, (STATS / "ci.log").read_text(encoding="utf-8-sig"))
    delivery, answer = deliver(monkeypatch, payload)
    assert answer["statusCode"] == 202, answer
    session_id = wait_for_running_session()

    # The permalink page while it runs: live, and where its socket comes from.
    page = get(f"/s/{session_id}")
    assert page["statusCode"] == 200 and 'data-live="1"' in page["body"], page["body"][:500]
    assert f'data-socket-from="/s/{session_id}/live"' in page["body"]
    assert "wss://pveconsole.execute-api.us-east-1.amazonaws.com" in page["headers"]["content-security-policy"]
    live = get(f"/s/{session_id}/live")
    assert live["statusCode"] == 200, live
    socket = urllib.parse.urlsplit(json.loads(live["body"])["socket"])
    assert f"{socket.scheme}://{socket.netloc}{socket.path}" == SOCKET
    query = dict(urllib.parse.parse_qsl(socket.query))
    assert query["session"] == session_id

    # The WebSocket routes: a forged or another session's ticket is refused; the page's admits.
    refused = aws_console.handler(websocket_event("$connect", "forged=", query={**query, "ticket": "x" * 40}), None)
    assert refused["statusCode"] == 403
    other = aws_console.handler(websocket_event("$connect", "other=", query={**query, "session": "f" * 32}), None)
    assert other["statusCode"] == 403
    assert aws_console.handler(websocket_event("$connect", "reader=", query=query), None)["statusCode"] == 200
    backlog = aws_console.handler(websocket_event("$default", "reader=", body='{"action": "since", "after": 0}'), None)
    assert backlog["statusCode"] == 200
    bad = aws_console.handler(websocket_event("$default", "reader=", body='{"action": "since", "after": "x"}'), None)
    assert bad["statusCode"] == 400
    reader_connected.set()

    (execution,) = [e for e in engine.sfn.list_executions(stateMachineArn=engine.machine)["executions"]
                    if e["name"] == delivery]
    assert engine.wait(execution["executionArn"])["status"] == "SUCCEEDED"

    # What the reader received: every console line once (the backlog, then the steps' posts from
    # the Validate functions, which run in parallel, each in its own range of numbers, and the
    # Notify function), each step's lines in order, then "done" once the session was stored.
    messages = posted("reader=")
    lines = [m for m in messages if m["type"] == "console"]
    store = DynamoStore(boto3.client("dynamodb"), boto3.client("s3"), bucket=BUCKET)
    stored = {e.seq: e for e in store.events(session_id)}
    assert sorted(m["seq"] for m in lines) == sorted(stored)
    assert all(m["text"] == stored[m["seq"]].text and m["status"] == stored[m["seq"]].status for m in lines)
    for step in {m["seq"] // 1000 for m in lines}:
        mine = [m["seq"] for m in lines if m["seq"] // 1000 == step]
        assert mine == sorted(mine)
    assert {m["seq"] // 1000 for m in lines} >= {0, 1, 99_000}  # prepare, a candidate's validate, notify
    assert any(m["text"].startswith("Reproducing in sandbox") for m in lines)
    assert any(m["text"].startswith("Verified: candidate") for m in lines)
    assert messages[-1] == {"type": "done", "status": "verified"}
    assert messages.count(messages[-1]) == 1

    # The page now shows the verified fix, and the proof comes from S3 through the same app.
    done = get(f"/s/{session_id}")
    assert done["statusCode"] == 200 and 'data-live="0"' in done["body"]
    assert "if not values" in done["body"]
    proof = get(f"/s/{session_id}/proof.txt")
    assert proof["statusCode"] == 200 and "PVE EXECUTION PROOF" in proof["body"], proof
    assert proof["body"] == store.get_blob(session_id, "proof.txt").decode()
    assert get("/s/" + "0" * 32)["statusCode"] == 404
    # GitHub sign-in on the stack: history and quota from DynamoDB, for the one who asked.
    assert get("/history")["statusCode"] == 401
    octocat = sign_in(github, "octocat")
    history = get("/history", cookies=octocat)
    assert history["statusCode"] == 200 and session_id in history["body"], history["body"][:800]
    assert get("/quota", cookies=octocat)["statusCode"] == 200

    # $disconnect forgets the connection: no more posts to it.
    assert aws_console.handler(websocket_event("$disconnect", "reader="), None)["statusCode"] == 200
    assert aws_console.handler(websocket_event("$default", "reader=", body='{"action": "since", "after": 0}'),
                              None)["statusCode"] == 403
