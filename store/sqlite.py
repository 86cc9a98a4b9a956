"""The embedded store: one SQLite database (WAL) plus a folder of blobs under PVE's data dir."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from pve.events import Event
from pve.models import Candidate, Session, Solution, Verdict
from store.base import (
    MAX_ATTEMPTS,
    HistoryQuery,
    Job,
    Quota,
    SessionSummary,
    backoff_s,
    blob_key,
    delivery_pk,
    event_sk,
    fix_sk,
    installation_pk,
    session_pk,
    solution_pk,
    spent_sk,
    trigger_pk,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    pk TEXT NOT NULL,
    sk TEXT NOT NULL,
    data TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (pk, sk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_meta ON items (sk, created) WHERE sk = 'META';
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery TEXT NOT NULL UNIQUE,
    event TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    run_after REAL NOT NULL,
    lease_until REAL,
    worker TEXT,
    error TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_due ON jobs (status, run_after);
CREATE TABLE IF NOT EXISTS history (
    id TEXT NOT NULL UNIQUE,
    cursor TEXT NOT NULL,
    created TEXT NOT NULL,
    repo TEXT COLLATE NOCASE,
    login TEXT COLLATE NOCASE,
    unlisted INTEGER NOT NULL,
    status TEXT NOT NULL,
    error_type TEXT NOT NULL COLLATE NOCASE,
    headline TEXT NOT NULL,
    words TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS history_cursor ON history (cursor);
CREATE INDEX IF NOT EXISTS history_type ON history (error_type, cursor);
CREATE INDEX IF NOT EXISTS history_repo ON history (repo, cursor);
CREATE INDEX IF NOT EXISTS history_login ON history (login, cursor);
CREATE INDEX IF NOT EXISTS history_repo_type ON history (repo, error_type, cursor);
CREATE INDEX IF NOT EXISTS history_login_type ON history (login, error_type, cursor);
CREATE VIRTUAL TABLE IF NOT EXISTS history_text USING fts5 (words, content='history', content_rowid='rowid',
                                                            tokenize='trigram');
CREATE TRIGGER IF NOT EXISTS history_text_add AFTER INSERT ON history BEGIN
    INSERT INTO history_text (rowid, words) VALUES (new.rowid, new.words);
END;
CREATE TRIGGER IF NOT EXISTS history_text_change AFTER UPDATE ON history BEGIN
    INSERT INTO history_text (history_text, rowid, words) VALUES ('delete', old.rowid, old.words);
    INSERT INTO history_text (rowid, words) VALUES (new.rowid, new.words);
END;
"""


_PARTS_PER_QUERY = 400
_SCAN_BUDGET = 30  # thousands of SQLite VM steps (~2 ms here) for reading every session newest first
_HISTORY_COLUMNS = "id, created, status, repo, error_type, headline, login, unlisted, cursor"


def _summaries(rows: list[tuple], limit: int) -> list[SessionSummary]:
    """Rows from one or more partitions: each session once, newest first."""
    found: dict[str, SessionSummary] = {}
    for r in rows:
        found.setdefault(r[0], SessionSummary(id=r[0], created_at=r[1], status=r[2], repo=r[3], error_type=r[4],
                                              headline=r[5], requested_by=r[6], unlisted=bool(r[7])))
    return sorted(found.values(), key=lambda row: row.cursor, reverse=True)[:limit]


def _today() -> str:
    return datetime.now(UTC).date().isoformat()  # quotas reset at midnight UTC


class SQLiteStore:
    def __init__(self, home: Path) -> None:
        self.home = home
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = home / "pve.sqlite3"
        self._local = threading.local()
        # One writer at a time inside this process: threads queue on a mutex instead of SQLite's
        # busy handler, which sleeps in steps of up to 100 ms (the webhook's tail latency).
        self._write = threading.RLock()  # re-entered by put_session's transaction
        with self._conn() as db:
            db.executescript(_SCHEMA)
        self._backfill_history()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _put(self, pk: str, sk: str, data: str) -> None:
        with self._write:
            self._conn().execute(
                "INSERT INTO items (pk, sk, data, created) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (pk, sk) DO UPDATE SET data = excluded.data",
                (pk, sk, data, time.time()))

    def _get(self, pk: str, sk: str) -> str | None:
        row = self._conn().execute("SELECT data FROM items WHERE pk = ? AND sk = ?", (pk, sk)).fetchone()
        return row[0] if row else None

    # sessions ------------------------------------------------------------

    def put_session(self, session: Session) -> None:
        # Candidates and verdicts live in FIX# items; META stays small for listings.
        meta = session.model_dump(mode="json", exclude={"candidates", "verdicts"})
        db = self._conn()
        with self._write:  # the whole transaction: a writer between our statements would deadlock on it
            self._put(session_pk(session.id), "META", json.dumps(meta))
            db.execute("BEGIN")
            try:
                self._index(SessionSummary.of(session))
                verdicts = {v.candidate_id: v for v in session.verdicts}
                for c in session.candidates:
                    self.put_fix(session.id, c, verdicts.get(c.id))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def get_session(self, session_id: str) -> Session | None:
        raw = self._get(session_pk(session_id), "META")
        if raw is None:
            return None
        session = Session.model_validate_json(raw)
        fixes = self.get_fixes(session_id)
        session.candidates = [c for c, _ in fixes]
        session.verdicts = [v for _, v in fixes if v is not None]
        return session

    def recent_sessions(self, limit: int = 50) -> list[Session]:
        rows = self._conn().execute(
            "SELECT data FROM items WHERE sk = 'META' AND pk LIKE 'SESSION#%' ORDER BY created DESC LIMIT ?", (limit,)).fetchall()
        return [Session.model_validate_json(r[0]) for r in rows]

    def history(self, query: HistoryQuery) -> list[SessionSummary]:
        filters: list[str] = []
        args: list[str] = []
        for column, value in (("repo", query.repo), ("status", query.status), ("error_type", query.error_type)):
            if value:
                filters.append(f"{column} = ?")
                args.append(value)
        # Dates bound the cursor (it starts with the time), so they narrow the index range.
        upper = min((v for v in (query.before, query.until) if v), default="")
        for clause, value in (("cursor >= ?", query.since), ("cursor < ?", upper)):
            if value:
                filters.append(clause)
                args.append(value)
        if query.text:
            escaped = query.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            filters.append("words LIKE ? ESCAPE '\\'")
            args.append(f"%{escaped}%")
        # Three ways to the newest matching rows, each fast where another is slow: (1) read all
        # sessions newest first and stop at a page of matches, when matches are common (within a
        # small budget of work); then (2) the trigram index for text of three characters or more
        # (few matching rows), or (3) one index range per partition (each repository, and the
        # requester), each cut at the page size and merged, as the DynamoDB store reads its
        # partitions. Measured in benchmarks/web.py.
        found = self._history_newest_first(query, filters, args)
        if found is not None:
            return found
        if query.text and len(query.text) >= 3:
            return self._history_by_text(query, filters[:-1], args[:-1])
        return self._history_by_partition(query, filters, args)

    def _budgeted(self, sql: str, params: tuple, budget: int) -> list[tuple] | None:
        """The rows, or None once the query has run ``budget`` thousand SQLite VM steps."""
        db = self._conn()
        ticks = [0]

        def spent() -> int:  # called every 1,000 steps; non-zero interrupts the query
            ticks[0] += 1
            return int(ticks[0] > budget)

        db.set_progress_handler(spent, 1000)
        try:
            return db.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            if "interrupt" not in str(exc):
                raise
            return None
        finally:
            db.set_progress_handler(None, 0)

    def _history_newest_first(self, query: HistoryQuery, filters: list[str], args: list[str]) -> list[SessionSummary] | None:
        repos = list(dict.fromkeys(query.repos))
        if len(repos) > 20_000:  # SQLite's limit on parameters is 32,766
            return None
        whose = ([f"(repo IN ({','.join('?' * len(repos))}) AND unlisted = 0)"] if repos else []) + \
            (["login = ?"] if query.login else [])
        if not whose:
            return []
        rows = self._budgeted(
            f"SELECT {_HISTORY_COLUMNS} FROM history INDEXED BY {'history_type' if query.error_type else 'history_cursor'} "
            f"WHERE ({' OR '.join(whose)})"
            f"{''.join(f' AND {f}' for f in filters)} ORDER BY cursor DESC LIMIT ?",
            (*repos, *([query.login] if query.login else []), *args, query.limit), _SCAN_BUDGET)
        return None if rows is None else _summaries(rows, query.limit)

    def _history_by_partition(self, query: HistoryQuery, filters: list[str], args: list[str]) -> list[SessionSummary]:
        where = "".join(f" AND {f}" for f in filters)
        parts = [("repo = ? AND unlisted = 0", r) for r in dict.fromkeys(query.repos)]
        if query.login:
            parts.append(("login = ?", query.login))
        rows = []
        for start in range(0, len(parts), _PARTS_PER_QUERY):  # SQLite allows 500 terms in one compound SELECT
            chunk = parts[start:start + _PARTS_PER_QUERY]
            sql = " UNION ALL ".join(f"SELECT * FROM (SELECT {_HISTORY_COLUMNS} FROM history WHERE {key}{where} "
                                     "ORDER BY cursor DESC LIMIT ?)" for key, _ in chunk)
            params = [x for _, value in chunk for x in (value, *args, query.limit)]
            rows += self._conn().execute(f"{sql} ORDER BY cursor DESC LIMIT ?", (*params, 2 * query.limit)).fetchall()
        return _summaries(rows, query.limit)

    def _history_by_text(self, query: HistoryQuery, filters: list[str], args: list[str]) -> list[SessionSummary]:
        """Text of three characters or more: the trigram index finds the matching rows (a
        substring, case-insensitive), and only those are checked for who may see them."""
        phrase = '"' + query.text.replace('"', '""') + '"'
        where = "".join(f" AND {f}" for f in filters)
        rows = []
        repos = list(dict.fromkeys(query.repos))
        for start in range(0, max(1, len(repos)), 20_000):  # SQLite's limit on parameters is 32,766
            chunk = repos[start:start + 20_000]
            whose = [f"(repo IN ({','.join('?' * len(chunk))}) AND unlisted = 0)"] if chunk else []
            whose += ["login = ?"] if query.login and start == 0 else []
            if not whose:
                continue
            rows += self._conn().execute(
                f"SELECT {_HISTORY_COLUMNS} FROM history WHERE rowid IN (SELECT rowid FROM history_text WHERE "
                f"history_text MATCH ?) AND ({' OR '.join(whose)}){where} ORDER BY cursor DESC LIMIT ?",
                (phrase, *chunk, *([query.login] if query.login and start == 0 else []), *args, query.limit)).fetchall()
        return _summaries(rows, query.limit)

    def _index(self, row: SessionSummary) -> None:
        words = f"{row.error_type} {row.headline} {row.repo or ''}"
        self._conn().execute(
            "INSERT INTO history (id, cursor, created, repo, login, unlisted, status, error_type, headline, words) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET cursor = excluded.cursor, "
            "created = excluded.created, repo = excluded.repo, login = excluded.login, unlisted = excluded.unlisted, "
            "status = excluded.status, error_type = excluded.error_type, headline = excluded.headline, "
            "words = excluded.words",
            (row.id, row.cursor, row.created_at, row.repo, row.requested_by, int(row.unlisted), row.status,
             row.error_type, row.headline, words))

    def _backfill_history(self) -> None:
        """A database from before the history table: index its sessions once."""
        db = self._conn()
        if db.execute("SELECT 1 FROM history LIMIT 1").fetchone() is not None:
            return
        with self._write:
            db.execute("BEGIN")
            try:
                for (raw,) in db.execute("SELECT data FROM items WHERE sk = 'META' AND pk LIKE 'SESSION#%'").fetchall():
                    self._index(SessionSummary.of(Session.model_validate_json(raw)))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    # fixes ---------------------------------------------------------------

    def put_fix(self, session_id: str, candidate: Candidate, verdict: Verdict | None) -> None:
        data = {"candidate": candidate.model_dump(mode="json"),
                "verdict": verdict.model_dump(mode="json") if verdict else None}
        self._put(session_pk(session_id), fix_sk(candidate.id), json.dumps(data))

    def get_fixes(self, session_id: str) -> list[tuple[Candidate, Verdict | None]]:
        rows = self._conn().execute(
            "SELECT data FROM items WHERE pk = ? AND sk LIKE 'FIX#%' ORDER BY sk", (session_pk(session_id),)).fetchall()
        out = []
        for (raw,) in rows:
            d = json.loads(raw)
            out.append((Candidate.model_validate(d["candidate"]),
                        Verdict.model_validate(d["verdict"]) if d["verdict"] else None))
        return out

    # console events --------------------------------------------------------

    def append_event(self, session_id: str, event: Event) -> None:
        self._put(session_pk(session_id), event_sk(event.seq), event.model_dump_json())

    def events(self, session_id: str, after: int = 0) -> list[Event]:
        rows = self._conn().execute(
            "SELECT data FROM items WHERE pk = ? AND sk > ? AND sk LIKE 'EVENT#%' ORDER BY sk",
            (session_pk(session_id), event_sk(after))).fetchall()
        return [Event.model_validate_json(r[0]) for r in rows]

    # semantic cache ----------------------------------------------------------

    def put_solution(self, solution: Solution) -> None:
        self._put(solution_pk(solution.signature), "SOLUTION", solution.model_dump_json())

    def get_solution(self, signature: str) -> Solution | None:
        raw = self._get(solution_pk(signature), "SOLUTION")
        return Solution.model_validate_json(raw) if raw is not None else None

    def delete_solution(self, signature: str) -> None:
        with self._write:
            self._conn().execute("DELETE FROM items WHERE pk = ? AND sk = 'SOLUTION'", (solution_pk(signature),))

    # webhook deliveries and the job queue ---------------------------------------

    def enqueue_delivery(self, guid: str, event: str, payload: str) -> int | None:
        db = self._conn()
        now = time.time()
        with self._write:
            return self._enqueue(db, guid, event, payload, now)

    def _enqueue(self, db: sqlite3.Connection, guid: str, event: str, payload: str, now: float) -> int | None:
        db.execute("BEGIN IMMEDIATE")
        try:
            seen = db.execute("INSERT INTO items (pk, sk, data, created) VALUES (?, 'SEEN', ?, ?) "
                              "ON CONFLICT (pk, sk) DO NOTHING", (delivery_pk(guid), json.dumps({"event": event}), now))
            if seen.rowcount == 0:
                db.execute("COMMIT")
                return None
            cur = db.execute("INSERT INTO jobs (delivery, event, payload, run_after, created, updated) "
                             "VALUES (?, ?, ?, ?, ?, ?)", (guid, event, payload, now, now, now))
            db.execute("COMMIT")
            return int(cur.lastrowid or 0)
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def claim_job(self, worker: str, lease_s: float) -> Job | None:
        with self._write:
            job_id = self._claim(worker, lease_s)
        return self.get_job(job_id) if job_id is not None else None

    def _claim(self, worker: str, lease_s: float) -> int | None:
        db = self._conn()
        now = time.time()
        db.execute("BEGIN IMMEDIATE")
        try:
            # a job whose worker died on every attempt stops here, visibly
            db.execute("UPDATE jobs SET status = 'failed', lease_until = NULL, updated = ?, "
                       "error = coalesce(error, 'the worker stopped during every attempt') "
                       "WHERE status = 'running' AND lease_until < ? AND attempts >= ?", (now, now, MAX_ATTEMPTS))
            row = db.execute(
                "SELECT id FROM jobs WHERE (status = 'queued' AND run_after <= ?) "
                "OR (status = 'running' AND lease_until < ?) ORDER BY run_after, id LIMIT 1", (now, now)).fetchone()
            if row is None:
                db.execute("COMMIT")
                return None
            db.execute("UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_until = ?, worker = ?, "
                       "updated = ? WHERE id = ?", (now + lease_s, worker, now, row[0]))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return int(row[0])

    def finish_job(self, job_id: int, error: str | None = None) -> str:
        db = self._conn()
        now = time.time()
        job = self.get_job(job_id)
        if job is None:
            raise KeyError(job_id)
        if error is None:
            status, run_after = "done", now
        elif job.attempts >= MAX_ATTEMPTS:
            status, run_after = "failed", now
        else:
            status, run_after = "queued", now + backoff_s(job.attempts)
        with self._write:
            db.execute("UPDATE jobs SET status = ?, run_after = ?, lease_until = NULL, error = ?, updated = ? WHERE id = ?",
                       (status, run_after, error, now, job_id))
        return status

    def release_jobs(self, dead: Callable[[str], bool]) -> list[int]:
        """End the leases of running jobs whose worker is ``dead`` (a restart after a crash takes
        them over at once instead of waiting out the lease); returns their ids."""
        db = self._conn()
        with self._write:
            rows = db.execute("SELECT id, worker FROM jobs WHERE status = 'running'").fetchall()
            ids = [job_id for job_id, worker in rows if worker and dead(worker)]
            for job_id in ids:
                db.execute("UPDATE jobs SET lease_until = 0 WHERE id = ? AND status = 'running'", (job_id,))
        return ids

    def get_job(self, job_id: int) -> Job | None:
        row = self._conn().execute("SELECT id, delivery, event, payload, status, attempts, error FROM jobs WHERE id = ?",
                                   (job_id,)).fetchone()
        return Job(*row) if row else None

    def jobs(self, status: str | None = None) -> list[Job]:
        sql = "SELECT id, delivery, event, payload, status, attempts, error FROM jobs"
        rows = self._conn().execute(sql + (" WHERE status = ? ORDER BY id" if status else " ORDER BY id"),
                                    (status,) if status else ()).fetchall()
        return [Job(*r) for r in rows]

    # what a GitHub trigger produced (for its check run's buttons) ---------------

    def put_trigger(self, key: str, data: dict) -> None:
        self._put(trigger_pk(key), "RESULT", json.dumps(data))

    def get_trigger(self, key: str) -> dict | None:
        raw = self._get(trigger_pk(key), "RESULT")
        return json.loads(raw) if raw is not None else None

    # installations and their daily quota -------------------------------------

    def put_installation(self, installation_id: int, account: str, daily_credits: int) -> None:
        """Create (or reactivate) an installation's profile; its usage so far is kept."""
        pk = installation_pk(installation_id)
        with self._write:
            profile = self._profile(pk) or {"tier": "free", "day": _today(), "used": 0}
            profile.update(account=account, daily_credits=daily_credits, status="active")
            self._put(pk, "PROFILE", json.dumps(profile))

    def retire_installation(self, installation_id: int) -> None:
        pk = installation_pk(installation_id)
        with self._write:
            profile = self._profile(pk)
            if profile is not None:
                profile["status"] = "retired"
                self._put(pk, "PROFILE", json.dumps(profile))

    def get_installation(self, installation_id: int) -> dict | None:
        return self._profile(installation_pk(installation_id))

    def _profile(self, pk: str) -> dict | None:
        raw = self._get(pk, "PROFILE")
        return json.loads(raw) if raw is not None else None

    def quota(self, installation_id: int, daily_credits: int) -> Quota:
        profile = self._profile(installation_pk(installation_id)) or {}
        limit = int(profile.get("daily_credits", daily_credits))
        used = int(profile.get("used", 0)) if profile.get("day") == _today() else 0
        return Quota(limit=limit, used=used)

    def spend_credit(self, installation_id: int, session_id: str, daily_credits: int) -> tuple[bool, Quota]:
        """Spend one verification for ``session_id``, atomically and at most once per session.
        (False, quota) when the day's budget is used up."""
        pk = installation_pk(installation_id)
        db = self._conn()
        with self._write:
            db.execute("BEGIN IMMEDIATE")
            try:
                profile = self._profile(pk) or {"tier": "free", "account": "", "status": "active",
                                                "daily_credits": daily_credits, "day": _today(), "used": 0}
                if profile.get("day") != _today():
                    profile.update(day=_today(), used=0)
                limit = int(profile.get("daily_credits", daily_credits))
                if self._get(pk, spent_sk(session_id)) is not None:
                    db.execute("COMMIT")
                    return True, Quota(limit=limit, used=int(profile["used"]))
                if profile["used"] >= limit:
                    db.execute("COMMIT")
                    return False, Quota(limit=limit, used=int(profile["used"]))
                profile["used"] += 1
                self._put(pk, "PROFILE", json.dumps(profile))
                self._put(pk, spent_sk(session_id), json.dumps({"day": profile["day"]}))
                db.execute("COMMIT")
                return True, Quota(limit=limit, used=int(profile["used"]))
            except BaseException:
                db.execute("ROLLBACK")
                raise

    # blobs -----------------------------------------------------------------

    def _blob_path(self, session_id: str, name: str) -> Path:
        return self.home / blob_key(session_id, name)

    def put_blob(self, session_id: str, name: str, data: bytes) -> str:
        path = self._blob_path(session_id, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{name}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        return str(path)

    def get_blob(self, session_id: str, name: str) -> bytes | None:
        path = self._blob_path(session_id, name)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
