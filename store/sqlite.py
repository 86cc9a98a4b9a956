"""The embedded store: one SQLite database (WAL) plus a folder of blobs under PVE's data dir.

The store's rules are ``store/backend.py``'s; here are its storage primitives, each kept by a
transaction under this process's one writer."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pve.models import Session
from store.backend import WORKER_DIED, Backend, newest_first
from store.base import (
    MAX_ATTEMPTS,
    HistoryQuery,
    Job,
    SessionSummary,
    blob_key,
    delivery_pk,
    event_sk,
    session_pk,
    spent_sk,
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
    return newest_first((SessionSummary(id=r[0], created_at=r[1], status=r[2], repo=r[3], error_type=r[4],
                                        headline=r[5], requested_by=r[6], unlisted=bool(r[7])) for r in rows), limit)


def _today() -> str:
    return datetime.now(UTC).date().isoformat()  # quotas reset at midnight UTC


class SQLiteStore(Backend):
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

    @contextmanager
    def _transaction(self, begin: str = "BEGIN IMMEDIATE") -> Iterator[sqlite3.Connection]:
        """The writer's lock and one transaction: committed when the block ends, rolled back
        when it raises. (A writer between our statements would deadlock on the lock.)"""
        db = self._conn()
        with self._write:
            db.execute(begin)
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def _now(self) -> float:
        return time.time()

    def _day(self) -> str:
        return _today()

    # items ---------------------------------------------------------------------

    def _put_text(self, pk: str, sk: str, text: str, *, ttl: int | None = None, inline: bool = False) -> None:
        # every item is kept (no TTL) and in its row
        with self._write:
            self._conn().execute(
                "INSERT INTO items (pk, sk, data, created) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (pk, sk) DO UPDATE SET data = excluded.data",
                (pk, sk, text, time.time()))

    def _get_text(self, pk: str, sk: str) -> str | None:
        row = self._conn().execute("SELECT data FROM items WHERE pk = ? AND sk = ?", (pk, sk)).fetchone()
        return row[0] if row else None

    def _has(self, pk: str, sk: str) -> bool:
        return self._get_text(pk, sk) is not None

    def _delete(self, pk: str, sk: str) -> None:
        with self._write:
            self._conn().execute("DELETE FROM items WHERE pk = ? AND sk = ?", (pk, sk))

    def _fix_texts(self, pk: str) -> list[str]:
        rows = self._conn().execute("SELECT data FROM items WHERE pk = ? AND sk LIKE 'FIX#%' ORDER BY sk", (pk,)).fetchall()
        return [raw for (raw,) in rows]

    def _event_texts(self, pk: str, after: int) -> list[str]:
        rows = self._conn().execute(
            "SELECT data FROM items WHERE pk = ? AND sk > ? AND sk LIKE 'EVENT#%' ORDER BY sk", (pk, event_sk(after))).fetchall()
        return [r[0] for r in rows]

    def _recent_texts(self, limit: int) -> list[str]:
        rows = self._conn().execute(
            "SELECT data FROM items WHERE sk = 'META' AND pk LIKE 'SESSION#%' ORDER BY created DESC LIMIT ?", (limit,)).fetchall()
        return [r[0] for r in rows]

    def _get_fields(self, pk: str, sk: str) -> dict[str, Any] | None:
        raw = self._get_text(pk, sk)
        return json.loads(raw) if raw is not None else None

    def _set_fields(self, pk: str, sk: str, fields: dict[str, Any], defaults: dict[str, Any]) -> None:
        with self._write:
            record = self._get_fields(pk, sk) or dict(defaults)
            record.update(fields)
            self._put_text(pk, sk, json.dumps(record))

    def _update_fields(self, pk: str, sk: str, fields: dict[str, Any]) -> None:
        with self._write:
            record = self._get_fields(pk, sk)
            if record is not None:
                record.update(fields)
                self._put_text(pk, sk, json.dumps(record))

    # sessions ------------------------------------------------------------

    def put_session(self, session: Session) -> None:
        # Candidates and verdicts live in FIX# items; META stays small for listings.
        meta = session.model_dump(mode="json", exclude={"candidates", "verdicts"})
        with self._write:  # the whole transaction: a writer between our statements would deadlock on it
            self._put_text(session_pk(session.id), "META", json.dumps(meta))
            with self._transaction("BEGIN"):
                self._index(SessionSummary.of(session))
                self._put_fixes(session)

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
        with self._transaction("BEGIN"):
            for (raw,) in db.execute("SELECT data FROM items WHERE sk = 'META' AND pk LIKE 'SESSION#%'").fetchall():
                self._index(SessionSummary.of(Session.model_validate_json(raw)))

    # webhook deliveries and the job queue ---------------------------------------

    def enqueue_delivery(self, guid: str, event: str, payload: str) -> int | None:
        now = time.time()
        with self._transaction() as db:
            seen = db.execute("INSERT INTO items (pk, sk, data, created) VALUES (?, 'SEEN', ?, ?) "
                              "ON CONFLICT (pk, sk) DO NOTHING", (delivery_pk(guid), json.dumps({"event": event}), now))
            if seen.rowcount == 0:
                return None
            cur = db.execute("INSERT INTO jobs (delivery, event, payload, run_after, created, updated) "
                             "VALUES (?, ?, ?, ?, ?, ?)", (guid, event, payload, now, now, now))
        return int(cur.lastrowid or 0)

    def _claim(self, worker: str, lease_s: float) -> int | None:
        with self._write:
            now = time.time()
            with self._transaction() as db:
                # a job whose worker died on every attempt stops here, visibly
                db.execute("UPDATE jobs SET status = 'failed', lease_until = NULL, updated = ?, error = coalesce(error, ?) "
                           "WHERE status = 'running' AND lease_until < ? AND attempts >= ?",
                           (now, WORKER_DIED, now, MAX_ATTEMPTS))
                row = db.execute(
                    "SELECT id FROM jobs WHERE (status = 'queued' AND run_after <= ?) "
                    "OR (status = 'running' AND lease_until < ?) ORDER BY run_after, id LIMIT 1", (now, now)).fetchone()
                if row is None:
                    return None
                db.execute("UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_until = ?, worker = ?, "
                           "updated = ? WHERE id = ?", (now + lease_s, worker, now, row[0]))
        return int(row[0])

    def _attempts(self, job_id: int) -> int | None:
        job = self.get_job(job_id)
        return job.attempts if job is not None else None

    def _set_outcome(self, job_id: int, status: str, run_after: float, error: str | None, now: float) -> None:
        with self._write:
            self._conn().execute(
                "UPDATE jobs SET status = ?, run_after = ?, lease_until = NULL, error = ?, updated = ? WHERE id = ?",
                (status, run_after, error, now, job_id))

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

    # the daily quota -------------------------------------------------------------

    def _spending(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._transaction()

    def _record_spend(self, pk: str, session_id: str, profile: dict[str, Any] | None, today: str, used: int,
                      daily_credits: int) -> bool:
        profile = profile or {"tier": "free", "account": "", "status": "active", "daily_credits": daily_credits,
                              "day": today, "used": 0}
        if profile.get("day") != today:
            profile.update(day=today, used=0)
        profile["used"] += 1
        self._put_text(pk, "PROFILE", json.dumps(profile))
        self._put_text(pk, spent_sk(session_id), json.dumps({"day": profile["day"]}))
        return True  # inside the transaction: no other writer got in between

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
