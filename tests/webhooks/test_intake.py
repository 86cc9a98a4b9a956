"""The webhook edge with real GitHub payloads: signatures, parsing, decisions, dedup, the queue."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from store.sqlite import SQLiteStore
from tests.github_payloads import (
    comment_on_issue,
    comment_on_pr,
    example,
    failed_workflow_run,
    successful_workflow_run,
)
from webhooks.app import create_app
from webhooks.signature import sign, verify

SECRET = b"It's a Secret to Everybody"


def test_signature_matches_githubs_test_vector():
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert sign(SECRET, b"Hello, World!") == expected
    assert verify(SECRET, b"Hello, World!", expected)
    assert not verify(SECRET, b"Hello, World!", "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59")
    assert not verify(SECRET, b"Hello, World!", expected[:-1] + "0")
    assert not verify(SECRET, b"Hello, World!", None)


@pytest.fixture
def app(tmp_path):
    store = SQLiteStore(tmp_path)
    woken: list[int] = []
    client = TestClient(create_app(SECRET, store, on_queued=lambda job, _delivery: woken.append(job)))
    return client, store, woken


def post(client, event, payload, *, delivery="d-1", secret=SECRET, content_type="application/json", body=None):
    raw = body if body is not None else json.dumps(payload).encode()
    headers = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "Content-Type": content_type,
               "X-Hub-Signature-256": sign(secret, raw)}
    return client.post("/webhooks/github", content=raw, headers=headers)


@pytest.mark.parametrize("event, payload", [
    ("issue_comment", comment_on_issue("/pve verify")),
    ("issue_comment", comment_on_pr("/pve verify tests/test_x.py::test_y")),
    ("issue_comment", comment_on_issue("/PVE help")),
    ("workflow_run", failed_workflow_run()),
    ("check_run", example("check_run", "requested_action")),
    ("check_run", example("check_run", "rerequested")),
    ("installation", example("installation", "created")),
    ("installation", example("installation", "deleted")),
    ("pull_request", example("pull_request", "opened")),
    ("pull_request", example("pull_request", "synchronize")),
    ("pull_request", example("pull_request", "reopened")),
], ids=["issue", "pr", "help", "ci-failure", "apply-fix", "rerun", "installed", "uninstalled", "pr-opened", "pr-pushed",
        "pr-reopened"])
def test_handled_events_are_queued_once(app, event, payload):
    client, store, woken = app
    r = post(client, event, payload)
    assert r.status_code == 202 and r.json()["status"] == "queued"
    job = store.get_job(r.json()["job"])
    assert (job.event, job.delivery, job.status) == (event, "d-1", "queued")
    assert json.loads(job.payload) == payload and woken == [job.id]
    again = post(client, event, payload)  # a redelivery reuses the GUID
    assert again.status_code == 202 and again.json() == {"status": "duplicate"}
    assert len(store.jobs()) == 1


@pytest.mark.parametrize("event, payload, reason", [
    ("issue_comment", comment_on_issue("thanks, /pve verify later"), "not a /pve command"),
    ("issue_comment", comment_on_issue("/pvex verify"), "not a /pve command"),
    ("issue_comment", example("issue_comment", "edited"), "issue_comment.edited is not an event PVE handles"),
    ("workflow_run", successful_workflow_run(), "concluded 'success'"),
    ("push", example("push"), "push is not an event PVE handles"),
    ("pull_request", example("pull_request", "closed"), "pull_request.closed is not an event"),
    ("pull_request", example("pull_request", "labeled"), "pull_request.labeled is not an event"),
])
def test_other_events_get_202_with_a_reason_and_no_job(app, event, payload, reason):
    client, store, _ = app
    r = post(client, event, payload)
    assert r.status_code == 202 and r.json()["status"] == "ignored" and reason in r.json()["reason"]
    assert store.jobs() == []


def test_ping_is_answered(app):
    client, store, _ = app
    r = post(client, "ping", example("ping"))
    assert r.status_code == 200 and r.json()["status"] == "pong" and store.jobs() == []


def test_form_encoded_deliveries_are_accepted(app):
    client, store, _ = app
    payload = comment_on_issue("/pve verify")
    body = urlencode({"payload": json.dumps(payload)}).encode()
    r = post(client, "issue_comment", None, body=body, content_type="application/x-www-form-urlencoded")
    assert r.status_code == 202 and json.loads(store.get_job(r.json()["job"]).payload) == payload


@pytest.mark.parametrize("mutate, status, words", [
    (lambda h, b: h.pop("X-Hub-Signature-256"), 401, "missing X-Hub-Signature-256"),
    (lambda h, b: h.update({"X-Hub-Signature-256": sign(b"wrong secret", b)}), 401, "does not match"),
    (lambda h, b: h.update({"X-Hub-Signature-256": "sha1=" + "0" * 40}), 401, "does not match"),
    (lambda h, b: h.update({"Content-Type": "text/plain"}), 400, "unsupported content type"),
    (lambda h, b: h.pop("X-GitHub-Event"), 400, "missing X-GitHub-Event"),
])
def test_bad_deliveries(app, mutate, status, words):
    client, store, _ = app
    raw = json.dumps(comment_on_issue("/pve verify")).encode()
    headers = {"X-GitHub-Event": "issue_comment", "X-GitHub-Delivery": "d-9", "Content-Type": "application/json",
               "X-Hub-Signature-256": sign(SECRET, raw)}
    mutate(headers, raw)
    r = client.post("/webhooks/github", content=raw, headers=headers)
    assert r.status_code == status and words in r.json()["error"]
    assert store.jobs() == []


@pytest.mark.parametrize("body, words", [
    (b'{"action": "created", ', "malformed JSON"),
    (b"[1, 2, 3]", "not a JSON object"),
    (b"\xff\xfe\x00binary", "not UTF-8"),
])
def test_malformed_bodies_are_400_never_500(app, body, words):
    client, store, _ = app
    r = post(client, "issue_comment", None, body=body)
    assert r.status_code == 400 and words in r.json()["error"] and store.jobs() == []


def test_payload_over_25_mb_is_refused(app):
    client, _store, _ = app
    r = post(client, "issue_comment", None, body=b"{" + b" " * (26 * 1024 * 1024) + b"}")
    assert r.status_code == 413


def test_a_failed_hand_off_is_a_502_with_the_job_kept(tmp_path):
    store = SQLiteStore(tmp_path)

    def throttled(job, delivery):
        raise RuntimeError("StartExecution throttled")

    client = TestClient(create_app(SECRET, store, on_queued=throttled))
    answer = post(client, "issue_comment", comment_on_issue("/pve verify"), delivery="d-9")
    assert answer.status_code == 502 and "could not be started" in answer.json()["error"]
    assert store.get_job(answer.json()["job"]) is not None  # nothing lost: the job is in the store
