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


def test_a_database_from_before_the_history_table_is_indexed_once_on_open(tmp_path):
    from pve.models import Origin
    from store.base import HistoryQuery

    store = SQLiteStore(tmp_path)
    for n in range(3):
        store.put_session(Session(id=f"{n}" * 32, created_at=f"2026-11-2{n}T00:00:00+00:00", project="/p",
                                  origin=Origin(repo="octo/stats", sha="a" * 40)))
    store.close()
    db = sqlite3.connect(tmp_path / "pve.sqlite3")
    db.execute("DROP TABLE history")  # as an older PVE left it
    db.commit()
    db.close()
    again = SQLiteStore(tmp_path)
    assert [r.id[0] for r in again.history(HistoryQuery(repos=("octo/stats",)))] == ["2", "1", "0"]
