"""The store protocol: what the pipeline and the web view need, whatever holds the data.

Keys follow ARCHITECTURE.md's single table (``SESSION#<id>`` / ``META``, ``FIX#<n>``,
``EVENT#<seq>``), so SQLite here and DynamoDB + S3 later store the same items.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pve.events import Event
from pve.models import Candidate, Session, Solution, Verdict, is_session_id

_BLOB_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def blob_key(session_id: str, name: str) -> str:
    """``sessions/<id>/<name>``: where a session's artifact lives (a folder here, an S3 key on
    AWS). Anything that could leave the session's own place is refused."""
    if not is_session_id(session_id) or not _BLOB_NAME.match(name) or name.startswith("."):
        raise ValueError(f"bad blob key {session_id!r}/{name!r}")
    return f"sessions/{session_id}/{name}"


def session_pk(session_id: str) -> str:
    return f"SESSION#{session_id}"


def fix_sk(n: int) -> str:
    return f"FIX#{n:04d}"


def event_sk(seq: int) -> str:
    return f"EVENT#{seq:08d}"


def solution_pk(signature: str) -> str:
    return f"ERROR_HASH#{signature}"


def delivery_pk(guid: str) -> str:
    return f"DELIVERY#{guid}"


def installation_pk(installation_id: int) -> str:
    return f"INSTALLATION#{installation_id}"


def trigger_pk(key: str) -> str:
    return f"TRIGGER#{key}"


def spent_sk(session_id: str) -> str:
    return f"SPENT#{session_id}"


def history_pk(repo: str | None = None, login: str | None = None) -> str:
    """A history partition: a repository's sessions (``HISTORY#owner/name``), or what one GitHub
    login asked for (``HISTORY#@login``, which also holds their unlisted playground sessions)."""
    return f"HISTORY#@{login.lower()}" if login else f"HISTORY#{(repo or '').lower()}"


def history_sk(created_at: str, session_id: str) -> str:
    return f"{created_at}#{session_id}"  # ISO times sort as text: newest last, read backwards


@dataclass(frozen=True)
class Quota:
    limit: int
    used: int

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


@dataclass(frozen=True)
class Job:
    """One webhook delivery's work, as the durable queue holds it."""

    id: int
    delivery: str  # X-GitHub-Delivery
    event: str  # X-GitHub-Event
    payload: str  # the raw JSON body
    status: str  # queued | running | done | failed
    attempts: int
    error: str | None = None


@dataclass(frozen=True)
class SessionSummary:
    """One row of a history listing: enough to show and filter, without the session's fixes."""

    id: str
    created_at: str
    status: str
    repo: str | None  # "owner/name" for a GitHub session
    error_type: str
    headline: str
    requested_by: str | None
    unlisted: bool = False

    @property
    def cursor(self) -> str:
        return history_sk(self.created_at, self.id)

    @classmethod
    def of(cls, session: Session) -> SessionSummary:
        a = session.analysis
        return cls(id=session.id, created_at=session.created_at, status=session.status.value,
                   repo=session.origin.repo if session.origin else None, error_type=a.exception.type if a else "",
                   headline=(a.headline() + (f": {a.exception.message}" if a.exception.message else ""))[:300] if a
                   else session.message[:300], requested_by=session.requested_by, unlisted=session.unlisted)

    def matches(self, q: HistoryQuery) -> bool:
        """The query's filters, as both stores apply them (SQLite in SQL, DynamoDB after the read)."""
        return ((not q.text or q.text.lower() in f"{self.error_type} {self.headline} {self.repo or ''}".lower())
                and (not q.error_type or self.error_type.lower() == q.error_type.lower())
                and (not q.repo or (self.repo or "").lower() == q.repo.lower())
                and (not q.status or self.status == q.status)
                and (not q.since or self.created_at >= q.since) and (not q.until or self.created_at < q.until)
                and (not q.before or self.cursor < q.before))


@dataclass(frozen=True)
class HistoryQuery:
    """Whose sessions (the repositories a reader may see, and what one login asked for) and
    which of them: text in the error or headline, an exact error type, one repository, a status,
    a date range (ISO, ``until`` excluded), and the page before a cursor, newest first."""

    repos: tuple[str, ...] = ()
    login: str | None = None
    text: str = ""
    error_type: str = ""
    repo: str = ""
    status: str = ""
    since: str = ""
    until: str = ""
    before: str = ""
    limit: int = 25


# A crashed job is retried after 2, 4, 8, 16 s; after this many attempts it stays "failed".
MAX_ATTEMPTS = 5


def backoff_s(attempts: int, base_s: float = 2.0) -> float:
    return base_s * (2 ** max(0, attempts - 1))


class SessionLog(Protocol):
    """Sessions, their candidates and their console (``SESSION#<id>``)."""

    def put_session(self, session: Session) -> None: ...

    def get_session(self, session_id: str) -> Session | None: ...

    def recent_sessions(self, limit: int = 50) -> list[Session]: ...

    def put_fix(self, session_id: str, candidate: Candidate, verdict: Verdict | None) -> None: ...

    def get_fixes(self, session_id: str) -> list[tuple[Candidate, Verdict | None]]: ...

    def append_event(self, session_id: str, event: Event) -> None: ...

    def events(self, session_id: str, after: int = 0) -> list[Event]: ...

    def history(self, query: HistoryQuery) -> list[SessionSummary]:
        """Sessions in ``query.repos`` (not unlisted ones) or requested by ``query.login``, that
        match its filters, newest first, at most ``query.limit``."""
        ...


class Blobs(Protocol):
    """Large artifacts per session (proof, diff, logs): files here, S3 on AWS."""

    def put_blob(self, session_id: str, name: str, data: bytes) -> str:
        """Store a large artifact; returns where it lives."""
        ...

    def get_blob(self, session_id: str, name: str) -> bytes | None: ...


class SolutionCache(Protocol):
    """The semantic cache: the last verified fix per error signature (``ERROR_HASH#<hash>``)."""

    def put_solution(self, solution: Solution) -> None:
        """Remember the last verified fix for an error signature (replaces an older one)."""
        ...

    def get_solution(self, signature: str) -> Solution | None: ...

    def delete_solution(self, signature: str) -> None: ...


class JobQueue(Protocol):
    """Webhook deliveries seen (``DELIVERY#<guid>``) and the durable queue of their jobs."""

    def enqueue_delivery(self, guid: str, event: str, payload: str) -> int | None:
        """Record the delivery as seen and queue its job, atomically; None if it was seen before."""
        ...

    def claim_job(self, worker: str, lease_s: float) -> Job | None:
        """The oldest runnable job (queued and due, or running with an expired lease: its worker
        died), now leased to ``worker``."""
        ...

    def finish_job(self, job_id: int, error: str | None = None) -> str:
        """Done, or (with an error) back in the queue after a backoff, or failed for good.
        Returns the job's new status."""
        ...

    def get_job(self, job_id: int) -> Job | None: ...

    def release_jobs(self, dead: Callable[[str], bool]) -> list[int]:
        """End the leases of running jobs whose worker is ``dead``; returns their ids."""
        ...


class Triggers(Protocol):
    """What a GitHub trigger produced (repo, PR, sessions), for its check run's buttons."""

    def put_trigger(self, key: str, data: dict[str, Any]) -> None: ...

    def get_trigger(self, key: str) -> dict[str, Any] | None: ...


class Quotas(Protocol):
    """Installations' profiles and their daily budget of verified fixes (``INSTALLATION#<id>``)."""

    def put_installation(self, installation_id: int, account: str, daily_credits: int) -> None: ...

    def retire_installation(self, installation_id: int) -> None: ...

    def get_installation(self, installation_id: int) -> dict[str, Any] | None: ...

    def quota(self, installation_id: int, daily_credits: int) -> Quota:
        """Today's budget and use (UTC day); an unknown installation has the default budget."""
        ...

    def spend_credit(self, installation_id: int, session_id: str, daily_credits: int) -> tuple[bool, Quota]: ...


class Store(SessionLog, Blobs, SolutionCache, JobQueue, Triggers, Quotas, Protocol):
    """Every role at once: what a backend (SQLite here, DynamoDB + S3 on AWS) implements.
    Consumers ask for the roles they use."""
