"""One contract for every store: SQLite (embedded) and DynamoDB + S3 (scale-out, under moto).

Each test runs against both, through the roles in ``store/base.py`` only; what one backend does
on its own (SQLite's WAL and file layout, DynamoDB's TTL and S3 spill) is tested beside it.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import store.dynamo
import store.sqlite
from pve.events import Fanout
from pve.models import (
    Analysis,
    Candidate,
    Category,
    ExceptionInfo,
    FileEdit,
    Origin,
    Preflight,
    Session,
    SessionStatus,
    Solution,
    Verdict,
)
from store.base import HistoryQuery, Quota, Store
from store.sqlite import SQLiteStore
from tests.aws import aws, dynamo_store


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "dynamo"])
def kind(request):
    return request.param


@pytest.fixture
def clock(kind, monkeypatch):
    c = Clock()
    if kind == "sqlite":
        monkeypatch.setattr(store.sqlite.time, "time", c)
    return c


@pytest.fixture
def backend(kind, clock, tmp_path, monkeypatch):
    if kind == "sqlite":
        yield SQLiteStore(tmp_path)
        return
    with aws(monkeypatch) as (ddb, s3):
        yield dynamo_store(ddb, s3, clock=clock)


def session(sid: str, created: str, n_fixes: int = 2, diff: str = "d") -> Session:
    cands = [Candidate(id=i, rule="r", rationale="why", edits=[FileEdit(path="a.py", new_text=f"x = {i}\n")], diff=diff)
             for i in range(1, n_fixes + 1)]
    verdicts = [Verdict(candidate_id=1, verified=True, reason="verified", preflight=Preflight(ok=True))]
    return Session(id=sid, created_at=created, project="/p", status=SessionStatus.VERIFIED,
                   candidates=cands, verdicts=verdicts, winner=1)


def test_sessions_fixes_events_and_blobs_round_trip(backend: Store):
    older, newer = "a" * 32, "b" * 32
    backend.put_session(session(older, "2026-12-01T00:00:00+00:00"))
    s = session(newer, "2026-12-02T00:00:00+00:00", n_fixes=3)
    backend.put_session(s)
    assert backend.get_session(newer) == s
    assert [c.id for c, _ in backend.get_fixes(newer)] == [1, 2, 3]
    assert [v is not None for _, v in backend.get_fixes(newer)] == [True, False, False]
    assert [x.id for x in backend.recent_sessions()] == [newer, older]
    assert [x.id for x in backend.recent_sessions(limit=1)] == [newer]
    s.status = SessionStatus.NO_FIX  # written again: replaced, not doubled
    backend.put_session(s)
    assert backend.get_session(newer).status is SessionStatus.NO_FIX and len(backend.recent_sessions()) == 2
    assert backend.get_session("c" * 32) is None

    events = Fanout(lambda e: backend.append_event(newer, e))
    for i in range(12):
        events.emit("run", f"line {i}", "PASSED" if i % 2 else None, candidate=i)
    assert [e.text for e in backend.events(newer)] == [f"line {i}" for i in range(12)]
    assert [e.seq for e in backend.events(newer, after=10)] == [11, 12]
    assert backend.events(newer)[3].data == {"candidate": 3} and backend.events(older) == []

    where = backend.put_blob(newer, "proof.txt", b"proof \x00 bytes")
    assert backend.get_blob(newer, "proof.txt") == b"proof \x00 bytes" and where.endswith(f"sessions/{newer}/proof.txt")
    assert backend.get_blob(newer, "fix.diff") is None


def test_blob_keys_cannot_escape(backend: Store):
    for sid, name in (("../../etc", "x"), ("f" * 32, "../passwd"), ("f" * 32, ".hidden"), ("f" * 32, "a/b")):
        with pytest.raises(ValueError):
            backend.put_blob(sid, name, b"")
        with pytest.raises(ValueError):
            backend.get_blob(sid, name)


def test_the_solution_cache_keeps_the_last_fix_per_signature(backend: Store):
    cand = Candidate(id=1, rule="r", rationale="why", edits=[FileEdit(path="a.py", new_text="1\n")], diff="d1")
    first = Solution(signature="sig", candidate=cand, file_sha256={"a.py": "0" * 64}, session_id="a" * 32,
                     created_at="2026-12-01T00:00:00+00:00")
    backend.put_solution(first)
    assert backend.get_solution("sig") == first
    second = first.model_copy(update={"session_id": "b" * 32})
    backend.put_solution(second)
    assert backend.get_solution("sig") == second and backend.get_solution("other") is None
    backend.delete_solution("sig")
    assert backend.get_solution("sig") is None
    backend.delete_solution("sig")  # deleting what is gone is no error


def test_triggers_round_trip(backend: Store):
    data = {"repo": "octo/stats", "pr": 7, "sessions": ["a" * 32], "nested": {"ok": True, "n": 1.5}}
    backend.put_trigger("octo/stats#check-1", data)
    assert backend.get_trigger("octo/stats#check-1") == data and backend.get_trigger("nope") is None


def test_delivery_dedup_and_job_queue_lifecycle(backend: Store, clock: Clock):
    first = backend.enqueue_delivery("guid-1", "issue_comment", '{"a": 1}')
    assert first is not None and backend.enqueue_delivery("guid-1", "issue_comment", '{"a": 1}') is None  # redelivery
    clock.now += 0.5
    second = backend.enqueue_delivery("guid-2", "ping", "{}")
    job = backend.claim_job("w1", lease_s=30)
    assert (job.id, job.status, job.attempts, job.payload, job.event) == (first, "running", 1, '{"a": 1}', "issue_comment")
    assert backend.claim_job("w2", lease_s=30).id == second  # the leased job is not handed out twice
    assert backend.claim_job("w2", lease_s=30) is None
    assert backend.finish_job(second) == "done"

    # a crash: back in the queue after a backoff (2 s), then claimed again
    assert backend.finish_job(first, error="boom") == "queued"
    assert backend.claim_job("w1", lease_s=30) is None
    clock.now += 2.1
    assert backend.claim_job("w1", lease_s=30).attempts == 2

    # the worker dies (no finish): the lease runs out and another worker takes it over
    clock.now += 31
    taken = backend.claim_job("w3", lease_s=30)
    assert taken.id == first and taken.attempts == 3
    for _ in range(2):
        backend.finish_job(first, error="boom")
        clock.now += 100
        backend.claim_job("w3", lease_s=30)
    assert backend.get_job(first).attempts == 5
    assert backend.finish_job(first, error="still boom") == "failed"
    failed = backend.get_job(first)
    assert failed.status == "failed" and failed.error == "still boom"
    assert backend.get_job(second).status == "done" and backend.get_job(second).error is None
    assert backend.claim_job("w3", lease_s=30) is None
    with pytest.raises(KeyError):
        backend.finish_job(999)


def test_a_job_whose_worker_died_every_time_stops_failed(backend: Store, clock: Clock):
    job_id = backend.enqueue_delivery("guid-x", "issue_comment", "{}")
    for _ in range(5):
        assert backend.claim_job("w", lease_s=10).id == job_id
        clock.now += 11  # no finish: the worker died
    assert backend.claim_job("w", lease_s=10) is None
    job = backend.get_job(job_id)
    assert (job.status, job.attempts, job.error) == ("failed", 5, "the worker stopped during every attempt")


def test_release_jobs_frees_a_dead_worker_s_lease_at_once(backend: Store, clock: Clock):
    a = backend.enqueue_delivery("g-a", "e", "{}")
    b = backend.enqueue_delivery("g-b", "e", "{}")
    assert backend.claim_job("dead-1", lease_s=600).id == a
    assert backend.claim_job("alive-1", lease_s=600).id == b
    assert backend.release_jobs(lambda worker: worker.startswith("dead")) == [a]
    taken = backend.claim_job("alive-2", lease_s=600)
    assert (taken.id, taken.attempts) == (a, 2)
    assert backend.claim_job("alive-2", lease_s=600) is None  # b's lease still holds


def test_installations_and_their_daily_quota(backend: Store, monkeypatch):
    day = ["2026-12-01"]
    for module in (store.sqlite, store.dynamo):
        monkeypatch.setattr(module, "_today", lambda: day[0])
    assert backend.get_installation(1) is None
    assert backend.quota(1, daily_credits=3).remaining == 3  # unknown: the default budget
    backend.put_installation(1, "octo", daily_credits=2)
    assert backend.get_installation(1)["account"] == "octo" and backend.get_installation(1)["status"] == "active"
    assert backend.spend_credit(1, "s1", daily_credits=9) == (True, Quota(limit=2, used=1))
    assert backend.spend_credit(1, "s1", daily_credits=9)[1].used == 1  # the same session is spent once
    assert backend.spend_credit(1, "s2", daily_credits=9) == (True, Quota(limit=2, used=2))
    assert backend.spend_credit(1, "s3", daily_credits=9) == (False, Quota(limit=2, used=2))
    backend.retire_installation(1)
    backend.put_installation(1, "octo", daily_credits=2)  # reinstalled the same day: the use stands
    assert backend.quota(1, daily_credits=9) == Quota(limit=2, used=2)
    day[0] = "2026-12-02"  # midnight UTC
    assert backend.quota(1, daily_credits=9).used == 0
    assert backend.spend_credit(1, "s3", daily_credits=9) == (True, Quota(limit=2, used=1))
    backend.retire_installation(2)  # never installed: nothing to retire, no error
    assert backend.get_installation(2) is None
    assert backend.spend_credit(3, "s9", daily_credits=1) == (True, Quota(limit=1, used=1))  # first sight
    assert backend.spend_credit(3, "s10", daily_credits=1)[0] is False


def test_a_quota_is_spent_exactly_once_under_concurrent_spends(backend: Store):
    backend.put_installation(7, "octo", daily_credits=5)
    start = threading.Barrier(16)

    def spend(n: int) -> bool:
        start.wait()
        return backend.spend_credit(7, f"s{n % 8}", daily_credits=5)[0]  # 8 sessions, each asked twice

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(spend, range(16)))
    assert backend.quota(7, daily_credits=5).used == 5
    granted = {n % 8 for n, ok in enumerate(results) if ok}
    assert len(granted) == 5  # five sessions got a credit (both of their asks say so), three did not
    assert all(results[n] == results[n + 8] for n in range(8))


def test_a_delivery_is_queued_once_under_concurrent_redeliveries(backend: Store):
    start = threading.Barrier(12)

    def deliver(n: int) -> int | None:
        start.wait()
        return backend.enqueue_delivery(f"guid-{n % 3}", "issue_comment", f'{{"n": {n % 3}}}')

    with ThreadPoolExecutor(12) as pool:
        ids = list(pool.map(deliver, range(12)))
    queued = [i for i in ids if i is not None]
    assert len(queued) == 3 and len(set(queued)) == 3
    assert sorted(backend.get_job(i).payload for i in queued) == ['{"n": 0}', '{"n": 1}', '{"n": 2}']


def test_concurrent_workers_never_claim_the_same_job(backend: Store):
    for n in range(6):
        backend.enqueue_delivery(f"g{n}", "e", "{}")
    start = threading.Barrier(6)

    def work(n: int) -> list[int]:
        start.wait()
        got = []
        while (job := backend.claim_job(f"w{n}", lease_s=600)) is not None:
            got.append(job.id)
            time.sleep(0.001)
        return got

    with ThreadPoolExecutor(6) as pool:
        claimed = [j for got in pool.map(work, range(6)) for j in got]
    assert sorted(claimed) == sorted(set(claimed)) and len(claimed) == 6


def _github_session(sid: str, created: str, repo: str | None, error: str, message: str, *, by: str | None = None,
                    status: SessionStatus = SessionStatus.VERIFIED, unlisted: bool = False) -> Session:
    s = session(sid, created, n_fixes=1)
    s.status, s.requested_by, s.unlisted = status, by, unlisted
    s.origin = Origin(repo=repo, sha="a" * 40) if repo else None
    s.analysis = Analysis(exception=ExceptionInfo(type=error, qualified_type=error, message=message),
                          category=Category.NAME)
    return s


def test_history_lists_what_a_reader_may_see_filtered_and_paged(backend: Store):
    rows = [("a", "octo/stats", "KeyError", "'mean'", None, SessionStatus.VERIFIED, False),
            ("b", "octo/stats", "ZeroDivisionError", "division by zero", "alice", SessionStatus.NO_FIX, False),
            ("c", "octo/secret", "KeyError", "'token'", None, SessionStatus.VERIFIED, False),
            ("d", None, "NameError", "name 'lst' is not defined", "alice", SessionStatus.VERIFIED, True),  # playground
            ("e", None, "TypeError", "bad operand", "bob", SessionStatus.VERIFIED, True),
            ("f", "Octo/Tools", "KeyError", "50% of keys_missing", None, SessionStatus.VERIFIED, False)]
    for n, (c, repo, error, message, by, status, unlisted) in enumerate(rows):
        backend.put_session(_github_session(c * 32, f"2026-12-0{n + 1}T10:00:00+00:00", repo, error, message, by=by,
                                            status=status, unlisted=unlisted))
    ids = lambda q: [r.id[0] for r in backend.history(q)]  # noqa: E731
    # alice reads octo/stats and octo/tools: their sessions, plus her own playground session; never
    # another repository's or someone else's unlisted one
    alice = HistoryQuery(repos=("octo/stats", "octo/tools"), login="alice")
    assert ids(alice) == ["f", "d", "b", "a"]
    assert ids(HistoryQuery(repos=("octo/stats",))) == ["b", "a"]
    assert ids(HistoryQuery(login="bob")) == ["e"] and ids(HistoryQuery()) == []
    # filters: text (case-insensitive, over the error and the repository), exact error type, one
    # repository (names compare case-insensitively, as GitHub's do), status, dates
    assert ids(dataclasses.replace(alice, text="keyerror")) == ["f", "a"]
    assert ids(dataclasses.replace(alice, text="50%")) == ["f"] and ids(dataclasses.replace(alice, text="s_m")) == ["f"]
    assert ids(dataclasses.replace(alice, text="%")) == ["f"]  # a wildcard in the text is a plain character
    assert ids(dataclasses.replace(alice, error_type="NameError")) == ["d"]
    assert ids(dataclasses.replace(alice, repo="OCTO/STATS")) == ["b", "a"]
    assert ids(dataclasses.replace(alice, repo="octo/secret")) == []  # filtering cannot widen what one may see
    assert ids(dataclasses.replace(alice, status="no fix")) == ["b"]
    assert ids(dataclasses.replace(alice, since="2026-12-02", until="2026-12-04")) == ["b"]
    # pages: newest first, the next page starts after the last row's cursor, without gaps or repeats
    first = backend.history(dataclasses.replace(alice, limit=3))
    assert [r.id[0] for r in first] == ["f", "d", "b"]
    assert ids(dataclasses.replace(alice, limit=3, before=first[-1].cursor)) == ["a"]
    row = first[0]
    assert (row.repo, row.error_type, row.status, row.unlisted) == ("Octo/Tools", "KeyError", "verified", False)
    assert "50% of keys_missing" in row.headline
    # a session written again (its status changed) is one row, with its new status
    again = _github_session("a" * 32, "2026-12-01T10:00:00+00:00", "octo/stats", "KeyError", "'mean'",
                            status=SessionStatus.NO_FIX)
    backend.put_session(again)
    assert [(r.id[0], r.status) for r in backend.history(dataclasses.replace(alice, repo="octo/stats"))] == \
        [("b", "no fix"), ("a", "no fix")]
