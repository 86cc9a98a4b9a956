"""What the DynamoDB + S3 store does beyond the contract: its items, S3 for what DynamoDB cannot
hold, and expiry that DynamoDB's TTL leaves to the reader."""

from __future__ import annotations

import json

import pytest

from pve.models import Candidate, FileEdit, Preflight, RunResult, Session, SessionStatus, Verdict
from store.dynamo import DELIVERY_TTL, EVENT_TTL, INLINE_LIMIT, TABLE, TRIGGER_TTL
from tests.aws import BUCKET, aws, dynamo_store
from tests.store.test_contract import Clock


@pytest.fixture
def env(monkeypatch):
    with aws(monkeypatch) as (ddb, s3):
        clock = Clock()
        yield dynamo_store(ddb, s3, clock=clock), ddb, s3, clock


def item(ddb, pk: str, sk: str) -> dict:
    return ddb.get_item(TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}}).get("Item", {})


def test_items_use_the_single_table_keys(env):
    store, ddb, s3, _ = env
    sid = "e" * 32
    cand = Candidate(id=3, rule="r", rationale="why", edits=[FileEdit(path="a.py", new_text="x\n")], diff="d")
    store.put_session(Session(id=sid, created_at="2026-12-01T00:00:00+00:00", project="/p",
                              status=SessionStatus.VERIFIED, candidates=[cand], verdicts=[], winner=3))
    meta = item(ddb, f"SESSION#{sid}", "META")
    assert meta["gsi1pk"] == {"S": "SESSIONS"} and "candidates" not in json.loads(meta["data"]["S"])
    assert json.loads(item(ddb, f"SESSION#{sid}", "FIX#0003")["data"]["S"])["candidate"]["id"] == 3
    store.put_blob(sid, "proof.txt", b"p")
    assert s3.get_object(Bucket=BUCKET, Key=f"sessions/{sid}/proof.txt")["Body"].read() == b"p"
    assert store.put_blob(sid, "fix.diff", b"d") == f"s3://{BUCKET}/sessions/{sid}/fix.diff"


def test_what_dynamodb_cannot_hold_goes_to_s3_and_comes_back(env):
    store, ddb, s3, _ = env
    sid = "f" * 32
    big = "y = 1\n" * (INLINE_LIMIT // 3)  # ~600 KB of diff: over DynamoDB's 400 KB item
    run = RunResult(label="candidate 1", sandbox_id="s", command="python", exit_code=0, stdout=big, stderr="",
                    duration_ms=1.0)
    cand = Candidate(id=1, rule="r", rationale="why", edits=[FileEdit(path="a.py", new_text=big)], diff=big)
    verdict = Verdict(candidate_id=1, verified=True, reason="verified", preflight=Preflight(ok=True), run=run)
    s = Session(id=sid, created_at="2026-12-01T00:00:00+00:00", project="/p", status=SessionStatus.VERIFIED,
                candidates=[cand], verdicts=[verdict], winner=1)
    store.put_session(s)
    fix = item(ddb, f"SESSION#{sid}", "FIX#0001")
    assert "data" not in fix and fix["data_s3"]["S"].startswith("items/")
    assert len(s3.get_object(Bucket=BUCKET, Key=fix["data_s3"]["S"])["Body"].read()) > 3 * INLINE_LIMIT
    assert store.get_session(sid) == s

    payload = json.dumps({"comment": {"body": "x" * 1_000_000}})  # GitHub sends up to 25 MB
    job_id = store.enqueue_delivery("guid-big", "issue_comment", payload)
    assert store.claim_job("w", lease_s=30).payload == payload and store.get_job(job_id).payload == payload


def test_expired_items_are_gone_to_readers_before_dynamodb_deletes_them(env):
    store, ddb, _, clock = env
    store.put_trigger("k", {"a": 1})
    first = store.enqueue_delivery("guid-1", "ping", "{}")
    from pve.events import Fanout

    events = Fanout(lambda e: store.append_event("a" * 32, e))
    events.emit("run", "line")
    assert item(ddb, "TRIGGER#k", "RESULT")["expires"]["N"] == str(int(clock.now + TRIGGER_TTL))
    clock.now += DELIVERY_TTL + 1  # the SEEN item still exists (moto, like DynamoDB, deletes lazily)
    assert item(ddb, "DELIVERY#guid-1", "SEEN")
    second = store.enqueue_delivery("guid-1", "ping", "{}")  # a new delivery of an old guid: queued again
    assert second is not None and second != first
    assert store.enqueue_delivery("guid-1", "ping", "{}") is None
    clock.now += max(TRIGGER_TTL, EVENT_TTL)
    assert store.get_trigger("k") is None and store.events("a" * 32) == []


def test_a_session_s_records_expire_with_the_bucket_s_retention(env, monkeypatch):
    """On the stack a session's proof leaves S3 after ``SessionRetentionDays``; its records in
    the table go with it (``PVE_SESSION_RETENTION_DAYS``), so no page lists a session whose
    proof and oversized fixes are gone. Without the setting (tests, ``pve serve``) they stay."""
    from store.dynamo import DynamoStore

    store, ddb, _s3, clock = env
    assert DynamoStore.from_env({"PVE_BUCKET": BUCKET}).session_ttl is None
    kept = DynamoStore.from_env({"PVE_BUCKET": BUCKET, "PVE_SESSION_RETENTION_DAYS": "365"})
    assert kept.session_ttl == 365 * 86400
    store.session_ttl = 31 * 86400
    sid = "c" * 32
    cand = Candidate(id=1, rule="r", rationale="why", edits=[FileEdit(path="a.py", new_text="x\n")], diff="d")
    store.put_session(Session(id=sid, created_at="2026-12-01T00:00:00+00:00", project="/p", requested_by="alice",
                              status=SessionStatus.VERIFIED, candidates=[cand], verdicts=[], winner=1))
    written = clock()
    for sk in ("META", "FIX#0001"):
        assert int(item(ddb, f"SESSION#{sid}", sk)["expires"]["N"]) == int(written + 31 * 86400)
    rows = ddb.scan(TableName=TABLE, FilterExpression="begins_with(pk, :h)",
                    ExpressionAttributeValues={":h": {"S": "HISTORY#"}})["Items"]
    assert rows and all(int(r["expires"]["N"]) == int(written + 31 * 86400) for r in rows)
    assert store.get_session(sid) is not None
    clock.now += 31 * 86400 + 1
    assert store.get_session(sid) is None  # expired: gone for every reader, as DynamoDB will delete it
