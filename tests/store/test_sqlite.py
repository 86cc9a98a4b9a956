"""The SQLite store keeps sessions, fixes, console events and blobs under the single-table keys
(what every store does is in test_contract.py)."""

from __future__ import annotations

import sqlite3

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
