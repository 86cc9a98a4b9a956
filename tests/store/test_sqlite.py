"""The SQLite store keeps sessions, fixes, console events and blobs under the single-table keys."""

from __future__ import annotations

import sqlite3

import pytest

from pve.events import Fanout
from pve.models import Candidate, FileEdit, Preflight, Session, SessionStatus, Verdict
from store.sqlite import SQLiteStore


def test_round_trip_and_keys(tmp_path):
    store = SQLiteStore(tmp_path)
    sid = "f" * 32
    cand = Candidate(id=1, rule="r", rationale="why", edits=[FileEdit(path="a.py", new_text="x = 1\n")], diff="d")
    verdict = Verdict(candidate_id=1, verified=True, reason="verified", preflight=Preflight(ok=True))
    session = Session(id=sid, created_at="2026-11-21T00:00:00+00:00", project="/p", status=SessionStatus.VERIFIED,
                      candidates=[cand], verdicts=[verdict], winner=1)
    store.put_session(session)
    events = Fanout(lambda e: store.append_event(sid, e))
    for i in range(3):
        events.emit("run", f"line {i}")
    back = store.get_session(sid)
    assert back == session
    assert [e.text for e in store.events(sid)] == ["line 0", "line 1", "line 2"]
    assert [e.seq for e in store.events(sid, after=2)] == [3]
    path = store.put_blob(sid, "proof.txt", b"proof")
    assert store.get_blob(sid, "proof.txt") == b"proof" and path.endswith(f"{sid}/proof.txt")
    keys = sqlite3.connect(tmp_path / "pve.sqlite3").execute("SELECT pk, sk FROM items ORDER BY sk").fetchall()
    assert ("SESSION#" + sid, "META") in keys and ("SESSION#" + sid, "FIX#0001") in keys
    assert ("SESSION#" + sid, "EVENT#00000001") in keys
    assert sqlite3.connect(tmp_path / "pve.sqlite3").execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert [s.id for s in store.recent_sessions()] == [sid]


def test_blob_keys_cannot_escape(tmp_path):
    store = SQLiteStore(tmp_path)
    for sid, name in (("../../etc", "x"), ("f" * 32, "../passwd"), ("f" * 32, ".hidden")):
        with pytest.raises(ValueError):
            store.put_blob(sid, name, b"")
    assert store.get_session("0" * 32) is None


def test_delivery_dedup_and_job_queue_lifecycle(tmp_path, monkeypatch):
    import store.sqlite as mod

    clock = [1000.0]
    monkeypatch.setattr(mod.time, "time", lambda: clock[0])
    store = SQLiteStore(tmp_path)
    first = store.enqueue_delivery("guid-1", "issue_comment", '{"a": 1}')
    assert first is not None and store.enqueue_delivery("guid-1", "issue_comment", '{"a": 1}') is None  # redelivery
    second = store.enqueue_delivery("guid-2", "ping", "{}")
    job = store.claim_job("w1", lease_s=30)
    assert (job.id, job.status, job.attempts) == (first, "running", 1)
    assert store.claim_job("w2", lease_s=30).id == second  # the leased job is not handed out twice
    assert store.claim_job("w2", lease_s=30) is None
    assert store.finish_job(second) == "done"

    # a crash: back in the queue after a backoff (2 s), then claimed again
    assert store.finish_job(first, error="boom") == "queued"
    assert store.claim_job("w1", lease_s=30) is None
    clock[0] += 2.1
    assert store.claim_job("w1", lease_s=30).attempts == 2

    # the worker dies (no finish): the lease runs out and another worker takes it over
    clock[0] += 31
    taken = store.claim_job("w3", lease_s=30)
    assert taken.id == first and taken.attempts == 3
    for _ in range(2):
        store.finish_job(first, error="boom")
        clock[0] += 100
        store.claim_job("w3", lease_s=30)
    assert store.get_job(first).attempts == 5
    assert store.finish_job(first, error="still boom") == "failed"
    failed = store.get_job(first)
    assert failed.status == "failed" and failed.error == "still boom"
    assert [j.id for j in store.jobs("failed")] == [first]
