"""What every store backend does the same way: the store's rules, written once.

A backend (``store/sqlite.py``, ``store/dynamo.py``) implements small storage primitives: read,
write or delete one item's text; read a session's fixes or console events in order; upsert or
patch a record of fields; claim a job; record a spend. It keeps its own guarantees inside them
(SQLite's transactions under one writer, DynamoDB's conditional writes). The rules above them
live here: which keys an item is written under, how a fix and its verdict are serialised, a
finished job's next status, the day's quota arithmetic, the retry of a spend that lost a race.

It is built like AWS Lambda Powertools' idempotency persistence layer, where
``BasePersistenceLayer`` holds the logic and each backend only gets, puts, updates and deletes
records: the rules cannot drift apart between SQLite and DynamoDB, and the one contract suite
(``tests/store/test_contract.py``) checks both.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any

from pve.events import Event
from pve.models import Candidate, Session, Solution, Verdict
from store.base import (
    MAX_ATTEMPTS,
    HistoryQuery,
    Job,
    Quota,
    SessionSummary,
    backoff_s,
    event_sk,
    fix_sk,
    installation_pk,
    session_pk,
    solution_pk,
    spent_sk,
    trigger_pk,
)

# A spend that keeps losing the race to other writers gives up after this many reads (DynamoDB's
# conditional writes; a SQLite spend holds the database and never has to try again).
MAX_SPEND_TRIES = 20
# Why a job failed for good when its worker died during every attempt (each lease ran out).
WORKER_DIED = "the worker stopped during every attempt"


def job_outcome(attempts: int, error: str | None, now: float) -> tuple[str, float]:
    """A finished run's next (status, run_after): done; or, with an error, queued again after a
    backoff, or failed for good once it had ``MAX_ATTEMPTS``."""
    if error is None:
        return "done", now
    if attempts >= MAX_ATTEMPTS:
        return "failed", now
    return "queued", now + backoff_s(attempts)


def newest_first(rows: Iterable[SessionSummary], limit: int) -> list[SessionSummary]:
    """History rows read from one or more partitions: each session once, newest first."""
    found = {row.id: row for row in rows}
    return sorted(found.values(), key=lambda row: row.cursor, reverse=True)[:limit]


class Backend(ABC):
    """Every role of ``store.base.Store`` over the storage primitives a backend implements (the
    abstract methods: the private ones, and the roles' methods that are one storage operation
    each, such as ``put_session`` or ``get_job``)."""

    session_ttl: int | None = None  # a session's records, where the store expires them (seconds)

    # How long short-lived items are honoured, in seconds; None keeps them (SQLite does).
    event_ttl: int | None = None
    trigger_ttl: int | None = None

    # the clock -------------------------------------------------------------------

    @abstractmethod
    def _now(self) -> float:
        """Epoch seconds."""

    @abstractmethod
    def _day(self) -> str:
        """Today's date (UTC): quotas reset at midnight UTC."""

    # items ---------------------------------------------------------------------------

    @abstractmethod
    def _put_text(self, pk: str, sk: str, text: str, *, ttl: int | None = None, inline: bool = False) -> None:
        """Write (or replace) the item's text. ``ttl``: honoured for that many seconds;
        ``inline``: always kept in the item itself (small, frequent items)."""

    @abstractmethod
    def _get_text(self, pk: str, sk: str) -> str | None: ...

    @abstractmethod
    def _has(self, pk: str, sk: str) -> bool: ...

    @abstractmethod
    def _delete(self, pk: str, sk: str) -> None: ...

    @abstractmethod
    def _fix_texts(self, pk: str) -> Iterable[str]:
        """The session's ``FIX#`` items, in key order."""

    @abstractmethod
    def _event_texts(self, pk: str, after: int) -> Iterable[str]:
        """The session's ``EVENT#`` items numbered after ``after``, in order."""

    @abstractmethod
    def _recent_texts(self, limit: int) -> Iterable[str]:
        """The ``META`` of the newest sessions, newest first."""

    @abstractmethod
    def _get_fields(self, pk: str, sk: str) -> dict[str, Any] | None:
        """A record held as named fields (an installation's profile)."""

    @abstractmethod
    def _set_fields(self, pk: str, sk: str, fields: dict[str, Any], defaults: dict[str, Any]) -> None:
        """Set ``fields``; the record's other fields are kept, or ``defaults`` when it is new."""

    @abstractmethod
    def _update_fields(self, pk: str, sk: str, fields: dict[str, Any]) -> None:
        """Set ``fields`` on the record if it exists; nothing otherwise."""

    # sessions, their fixes and their console ---------------------------------------------

    @abstractmethod
    def put_session(self, session: Session) -> None:
        """The session's ``META`` (without its candidates and verdicts: ``_put_fixes``), its
        fixes and its history rows."""

    def get_session(self, session_id: str) -> Session | None:
        raw = self._get_text(session_pk(session_id), "META")
        if raw is None:
            return None
        session = Session.model_validate_json(raw)
        fixes = self.get_fixes(session_id)
        session.candidates = [c for c, _ in fixes]
        session.verdicts = [v for _, v in fixes if v is not None]
        return session

    def recent_sessions(self, limit: int = 50) -> list[Session]:
        return [Session.model_validate_json(raw) for raw in self._recent_texts(limit)]

    @abstractmethod
    def history(self, query: HistoryQuery) -> list[SessionSummary]: ...

    def _put_fixes(self, session: Session) -> None:
        """Each candidate with its verdict (if it has one): candidates and verdicts live in
        ``FIX#`` items, so a session's ``META`` stays small for listings."""
        verdicts = {v.candidate_id: v for v in session.verdicts}
        for c in session.candidates:
            self.put_fix(session.id, c, verdicts.get(c.id))

    def put_fix(self, session_id: str, candidate: Candidate, verdict: Verdict | None) -> None:
        data = {"candidate": candidate.model_dump(mode="json"),
                "verdict": verdict.model_dump(mode="json") if verdict else None}
        self._put_text(session_pk(session_id), fix_sk(candidate.id), json.dumps(data), ttl=self.session_ttl)

    def get_fixes(self, session_id: str) -> list[tuple[Candidate, Verdict | None]]:
        out = []
        for raw in self._fix_texts(session_pk(session_id)):
            d = json.loads(raw)
            out.append((Candidate.model_validate(d["candidate"]),
                        Verdict.model_validate(d["verdict"]) if d["verdict"] else None))
        return out

    def append_event(self, session_id: str, event: Event) -> None:
        self._put_text(session_pk(session_id), event_sk(event.seq), event.model_dump_json(), ttl=self.event_ttl,
                       inline=True)

    def events(self, session_id: str, after: int = 0) -> list[Event]:
        return [Event.model_validate_json(raw) for raw in self._event_texts(session_pk(session_id), after)]

    # semantic cache --------------------------------------------------------------------

    def put_solution(self, solution: Solution) -> None:
        self._put_text(solution_pk(solution.signature), "SOLUTION", solution.model_dump_json())

    def get_solution(self, signature: str) -> Solution | None:
        raw = self._get_text(solution_pk(signature), "SOLUTION")
        return Solution.model_validate_json(raw) if raw is not None else None

    def delete_solution(self, signature: str) -> None:
        self._delete(solution_pk(signature), "SOLUTION")

    # webhook deliveries and the job queue ----------------------------------------------

    @abstractmethod
    def enqueue_delivery(self, guid: str, event: str, payload: str) -> int | None: ...

    @abstractmethod
    def _claim(self, worker: str, lease_s: float) -> int | None:
        """Lease the oldest runnable job to ``worker`` (failing, on the way, the jobs whose
        worker died during every attempt); its id."""

    def claim_job(self, worker: str, lease_s: float) -> Job | None:
        job_id = self._claim(worker, lease_s)
        return self.get_job(job_id) if job_id is not None else None

    @abstractmethod
    def _attempts(self, job_id: int) -> int | None:
        """How often the job was claimed; None when there is no such job."""

    @abstractmethod
    def _set_outcome(self, job_id: int, status: str, run_after: float, error: str | None, now: float) -> None:
        """Move a finished job to ``status``, due at ``run_after``, its lease ended."""

    def finish_job(self, job_id: int, error: str | None = None) -> str:
        now = self._now()
        attempts = self._attempts(job_id)
        if attempts is None:
            raise KeyError(job_id)
        status, run_after = job_outcome(attempts, error, now)
        self._set_outcome(job_id, status, run_after, error, now)
        return status

    @abstractmethod
    def get_job(self, job_id: int) -> Job | None: ...

    @abstractmethod
    def release_jobs(self, dead: Callable[[str], bool]) -> list[int]: ...

    # what a GitHub trigger produced (for its check run's buttons) ----------------------

    def put_trigger(self, key: str, data: dict[str, Any]) -> None:
        self._put_text(trigger_pk(key), "RESULT", json.dumps(data), ttl=self.trigger_ttl)

    def get_trigger(self, key: str) -> dict[str, Any] | None:
        raw = self._get_text(trigger_pk(key), "RESULT")
        return json.loads(raw) if raw is not None else None

    # installations and their daily quota -------------------------------------------------

    def put_installation(self, installation_id: int, account: str, daily_credits: int) -> None:
        """Create (or reactivate) an installation's profile; its usage so far is kept."""
        self._set_fields(installation_pk(installation_id), "PROFILE",
                         {"account": account, "daily_credits": daily_credits, "status": "active"},
                         {"tier": "free", "day": self._day(), "used": 0})

    def retire_installation(self, installation_id: int) -> None:
        self._update_fields(installation_pk(installation_id), "PROFILE", {"status": "retired"})

    def get_installation(self, installation_id: int) -> dict[str, Any] | None:
        return self._get_fields(installation_pk(installation_id), "PROFILE")

    def quota(self, installation_id: int, daily_credits: int) -> Quota:
        profile = self.get_installation(installation_id) or {}
        limit = int(profile.get("daily_credits", daily_credits))
        used = int(profile.get("used", 0)) if profile.get("day") == self._day() else 0
        return Quota(limit=limit, used=used)

    @abstractmethod
    def _spending(self) -> AbstractContextManager[object]:
        """Around one try of a spend: its reads and its write see one state (a transaction), or
        nothing, when ``_record_spend`` checks the state it read as it writes."""

    @abstractmethod
    def _record_spend(self, pk: str, session_id: str, profile: dict[str, Any] | None, today: str, used: int,
                      daily_credits: int) -> bool:
        """One more use today for ``session_id`` (``profile`` as read, None for an installation
        never seen: the default profile): the profile's count and the session's ``SPENT#``
        marker. False when another writer changed either since they were read."""

    def spend_credit(self, installation_id: int, session_id: str, daily_credits: int) -> tuple[bool, Quota]:
        """Spend one verification for ``session_id``, atomically and at most once per session.
        (False, quota) when the day's budget is used up."""
        pk = installation_pk(installation_id)
        for _ in range(MAX_SPEND_TRIES):
            with self._spending():
                today = self._day()
                profile = self.get_installation(installation_id)
                limit = int((profile or {}).get("daily_credits", daily_credits))
                used = int(profile["used"]) if profile is not None and profile.get("day") == today else 0
                if self._has(pk, spent_sk(session_id)):
                    return True, Quota(limit=limit, used=used)
                if used >= limit:
                    return False, Quota(limit=limit, used=used)
                if self._record_spend(pk, session_id, profile, today, used, daily_credits):
                    return True, Quota(limit=limit, used=used + 1)
            # the session was spent meanwhile, or another spend moved the count: read again
        raise RuntimeError(f"could not spend a credit for installation {installation_id}: too much contention")

    # blobs -------------------------------------------------------------------------------

    @abstractmethod
    def put_blob(self, session_id: str, name: str, data: bytes) -> str: ...

    @abstractmethod
    def get_blob(self, session_id: str, name: str) -> bytes | None: ...

    @abstractmethod
    def close(self) -> None: ...
