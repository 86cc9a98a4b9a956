"""The scale-out store: DynamoDB's single table ``PVE_Main`` plus an S3 bucket.

The same items as the SQLite store (keys from ``store/base.py``), one item each. What differs is
how the guarantees are kept without a database lock:

- delivery dedup is a conditional put (``attribute_not_exists``), in one transaction with the
  job it queues;
- a day's quota is spent with a transaction of two conditional writes (the session's ``SPENT#``
  marker must not exist, the profile's count must be below the limit on the same day), retried
  when another writer got in between;
- a job is claimed by a conditional update of its status and lease: two workers can both see
  it as runnable in the index, only one update's condition holds.

Listings (recent sessions, jobs by status) use one sparse global secondary index, ``GSI1``
(``gsi1pk``, ``gsi1sk``): only the items that are listed carry its attributes.

Items that could pass DynamoDB's 400 KB (a session's candidates with their runs, a webhook's
payload) keep their JSON in S3 under ``items/`` once it is over ``INLINE_LIMIT`` and hold its
key instead. Artifacts (proofs, diffs) live under ``sessions/<id>/<name>``; the bucket's
lifecycle rule (``infra/template.yaml``) expires ``logs/`` after a day.

Short-lived items carry ``expires`` (epoch seconds), the table's TTL attribute. DynamoDB deletes
expired items lazily (up to days later), so every read here treats an expired item as absent.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

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
    history_pk,
    history_sk,
    installation_pk,
    session_pk,
    solution_pk,
    spent_sk,
    trigger_pk,
)

TABLE = "PVE_Main"
INDEX = "GSI1"
INLINE_LIMIT = 300_000  # bytes of JSON kept in the item; more goes to S3 (the item limit is 400 KB)

# How long short-lived items are honoured (seconds). GitHub lets a delivery be redelivered for
# three days: a week of dedup covers it.
DELIVERY_TTL = 7 * 86400
SPENT_TTL = 2 * 86400  # a session's spend only matters on its day
JOB_TTL = 7 * 86400  # finished jobs (running and queued ones never expire)
TRIGGER_TTL = 30 * 86400  # a check run's buttons after that say "expired"
EVENT_TTL = 30 * 86400  # the live console; the session and its fixes stay

_SESSIONS = "SESSIONS"
_MAX_SPEND_TRIES = 20

_ser = TypeSerializer()
_de = TypeDeserializer()


def _today() -> str:
    return datetime.now(UTC).date().isoformat()  # quotas reset at midnight UTC


def _encode(item: dict[str, Any]) -> dict[str, Any]:
    # DynamoDB numbers are decimals: a float goes through its shortest repr, exactly
    return {k: _ser.serialize(Decimal(repr(v)) if isinstance(v, float) else v) for k, v in item.items() if v is not None}


def _decode(item: dict[str, Any]) -> dict[str, Any]:
    out = {k: _de.deserialize(v) for k, v in item.items()}
    return {k: _number(v) if isinstance(v, Decimal) else v for k, v in out.items()}


def _number(d: Decimal) -> int | float:
    return int(d) if d == d.to_integral_value() else float(d)


def _job_sk(due: float, job_id: int) -> str:
    return f"{due:017.6f}#{job_id:012d}"  # sorts by due time, then id (the SQLite queue's order)


class DynamoStore:
    """Every store role (``store.base.Store``) on one DynamoDB table and one S3 bucket.

    ``dynamodb`` and ``s3`` are boto3 clients (thread-safe, shared by the worker threads)."""

    def __init__(self, dynamodb: Any, s3: Any, bucket: str, table: str = TABLE,
                 clock: Callable[[], float] = time.time) -> None:
        self.db, self.s3, self.bucket, self.table = dynamodb, s3, bucket, table
        self._now = clock

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DynamoStore:
        import boto3

        return cls(boto3.client("dynamodb"), boto3.client("s3"), bucket=env["PVE_BUCKET"],
                   table=env.get("PVE_TABLE") or TABLE)

    def close(self) -> None:
        """Nothing to release: the clients hold no per-store state."""

    # items ---------------------------------------------------------------------

    def _put_item(self, item: dict[str, Any], **conditions: Any) -> None:
        self.db.put_item(TableName=self.table, Item=_encode(item), **conditions)

    def _get_item(self, pk: str, sk: str) -> dict[str, Any] | None:
        got = self.db.get_item(TableName=self.table, Key=_encode({"pk": pk, "sk": sk}), ConsistentRead=True)
        item = got.get("Item")
        if item is None:
            return None
        decoded = _decode(item)
        return None if self._expired(decoded) else decoded

    def _expired(self, item: dict[str, Any]) -> bool:
        return "expires" in item and item["expires"] <= self._now()

    def _query(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Every item a query matches, page after page, expired ones left out."""
        while True:
            page = self.db.query(TableName=self.table, **kwargs)
            for raw in page.get("Items", []):
                item = _decode(raw)
                if not self._expired(item):
                    yield item
            if "LastEvaluatedKey" not in page or "Limit" in kwargs:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _data(self, pk: str, sk: str, text: str) -> dict[str, Any]:
        """The item's JSON: inline when small, else in S3 with its key in the item."""
        if len(text.encode("utf-8")) <= INLINE_LIMIT:
            return {"data": text}
        digest = hashlib.sha256(f"{pk}\n{sk}".encode()).hexdigest()
        key = f"items/{digest}.json"
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=text.encode("utf-8"), ContentType="application/json")
        return {"data_s3": key}

    def _text(self, item: dict[str, Any]) -> str:
        if "data" in item:
            return str(item["data"])
        body = self.s3.get_object(Bucket=self.bucket, Key=item["data_s3"])["Body"].read()
        return body.decode("utf-8")

    def _put_data(self, pk: str, sk: str, text: str, **extra: Any) -> None:
        self._put_item({"pk": pk, "sk": sk, **self._data(pk, sk, text), **extra})

    def _get_data(self, pk: str, sk: str) -> str | None:
        item = self._get_item(pk, sk)
        return self._text(item) if item is not None else None

    # sessions ------------------------------------------------------------------

    def put_session(self, session: Session) -> None:
        # Candidates and verdicts live in FIX# items; META stays small for listings.
        meta = session.model_dump_json(exclude={"candidates", "verdicts"})
        pk = session_pk(session.id)
        verdicts = {v.candidate_id: v for v in session.verdicts}
        for c in session.candidates:  # fixes first: a reader that sees the META sees its fixes
            self.put_fix(session.id, c, verdicts.get(c.id))
        self._put_data(pk, "META", meta, gsi1pk=_SESSIONS, gsi1sk=f"{session.created_at}#{session.id}")
        # History rows: one in the repository's partition (listed sessions only) and one in the
        # requester's, so a reader's history is a few key queries, never a scan.
        row = SessionSummary.of(session)
        summary = json.dumps(dataclasses.asdict(row))
        for where in ((history_pk(repo=row.repo),) if row.repo and not row.unlisted else ()) + \
                ((history_pk(login=row.requested_by),) if row.requested_by else ()):
            self._put_item({"pk": where, "sk": history_sk(row.created_at, row.id), "data": summary})

    def get_session(self, session_id: str) -> Session | None:
        raw = self._get_data(session_pk(session_id), "META")
        if raw is None:
            return None
        session = Session.model_validate_json(raw)
        fixes = self.get_fixes(session_id)
        session.candidates = [c for c, _ in fixes]
        session.verdicts = [v for _, v in fixes if v is not None]
        return session

    def recent_sessions(self, limit: int = 50) -> list[Session]:
        items = self._query(IndexName=INDEX, KeyConditionExpression="gsi1pk = :p",
                            ExpressionAttributeValues=_encode({":p": _SESSIONS}), ScanIndexForward=False, Limit=limit)
        # the index projects every attribute: a listing is one query (eventually consistent,
        # as a listing may be), not one read per session
        return [Session.model_validate_json(self._text(item)) for item in items]

    def history(self, query: HistoryQuery) -> list[SessionSummary]:
        repos = {r.lower() for r in query.repos}
        if query.repo:  # one repository: its partition only (if the reader may see it)
            repos &= {query.repo.lower()}
        parts = [history_pk(repo=r) for r in sorted(repos)] + ([history_pk(login=query.login)] if query.login else [])
        found: dict[str, SessionSummary] = {}
        for part in parts:  # each newest first, until it has a page of matches of its own
            key = "pk = :p AND sk < :b" if query.before else "pk = :p"
            values = {":p": part, **({":b": query.before} if query.before else {})}
            taken = 0
            for item in self._query(KeyConditionExpression=key, ExpressionAttributeValues=_encode(values),
                                    ScanIndexForward=False):
                row = SessionSummary(**json.loads(str(item["data"])))
                if row.matches(query):
                    found[row.id] = row
                    taken += 1
                    if taken >= query.limit:
                        break
        return sorted(found.values(), key=lambda r: r.cursor, reverse=True)[: query.limit]

    def put_fix(self, session_id: str, candidate: Candidate, verdict: Verdict | None) -> None:
        data = {"candidate": candidate.model_dump(mode="json"),
                "verdict": verdict.model_dump(mode="json") if verdict else None}
        self._put_data(session_pk(session_id), fix_sk(candidate.id), json.dumps(data))

    def get_fixes(self, session_id: str) -> list[tuple[Candidate, Verdict | None]]:
        out = []
        for item in self._query(KeyConditionExpression="pk = :p AND begins_with(sk, :f)", ConsistentRead=True,
                                ExpressionAttributeValues=_encode({":p": session_pk(session_id), ":f": "FIX#"})):
            d = json.loads(self._text(item))
            out.append((Candidate.model_validate(d["candidate"]),
                        Verdict.model_validate(d["verdict"]) if d["verdict"] else None))
        return out

    def append_event(self, session_id: str, event: Event) -> None:
        self._put_item({"pk": session_pk(session_id), "sk": event_sk(event.seq), "data": event.model_dump_json(),
                        "expires": int(self._now() + EVENT_TTL)})

    def events(self, session_id: str, after: int = 0) -> list[Event]:
        items = self._query(KeyConditionExpression="pk = :p AND sk BETWEEN :lo AND :hi", ConsistentRead=True,
                            ExpressionAttributeValues=_encode({":p": session_pk(session_id), ":lo": event_sk(after + 1),
                                                               ":hi": "EVENT#~"}))
        return [Event.model_validate_json(self._text(i)) for i in items]

    # semantic cache --------------------------------------------------------------

    def put_solution(self, solution: Solution) -> None:
        self._put_data(solution_pk(solution.signature), "SOLUTION", solution.model_dump_json())

    def get_solution(self, signature: str) -> Solution | None:
        raw = self._get_data(solution_pk(signature), "SOLUTION")
        return Solution.model_validate_json(raw) if raw is not None else None

    def delete_solution(self, signature: str) -> None:
        self.db.delete_item(TableName=self.table, Key=_encode({"pk": solution_pk(signature), "sk": "SOLUTION"}))

    # webhook deliveries and the job queue -------------------------------------------

    def enqueue_delivery(self, guid: str, event: str, payload: str) -> int | None:
        now = self._now()
        seen = self._get_item(delivery_pk(guid), "SEEN")
        if seen is not None:
            return None
        job_id = self._next_job_id()
        pk = _job_pk(job_id)
        job = {"pk": pk, "sk": "META", "id": job_id, "delivery": guid, "event": event, "status": "queued",
               "attempts": 0, "run_after": now, "created": now, "gsi1pk": "JOBS#queued", "gsi1sk": _job_sk(now, job_id),
               **self._data(pk, "META", payload)}
        try:
            self.db.transact_write_items(TransactItems=[
                {"Put": {"TableName": self.table,
                         "Item": _encode({"pk": delivery_pk(guid), "sk": "SEEN", "event": event, "job": job_id,
                                          "expires": int(now + DELIVERY_TTL)}),
                         # absent, or present but expired (TTL deletes lazily)
                         "ConditionExpression": "attribute_not_exists(pk) OR expires <= :now",
                         "ExpressionAttributeValues": _encode({":now": int(now)})}},
                {"Put": {"TableName": self.table, "Item": _encode(job)}},
            ])
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "TransactionCanceledException":
                return None  # another delivery of the same guid got there first
            raise
        return job_id

    def _next_job_id(self) -> int:
        got = self.db.update_item(TableName=self.table, Key=_encode({"pk": "COUNTER", "sk": "JOB"}),
                                  UpdateExpression="ADD n :one", ExpressionAttributeValues=_encode({":one": 1}),
                                  ReturnValues="UPDATED_NEW")
        return int(_decode(got["Attributes"])["n"])

    def claim_job(self, worker: str, lease_s: float) -> Job | None:
        now = self._now()
        runnable: list[dict[str, Any]] = []
        for item in self._jobs_by("running", before=now):  # leases run out: their worker died
            if item["attempts"] >= MAX_ATTEMPTS:
                self._update_job(item, "failed", now, condition=("running", item.get("lease_until")),
                                 error=item.get("error") or "the worker stopped during every attempt")
            else:
                runnable.append(item)
        runnable += self._jobs_by("queued", before=now)
        for item in sorted(runnable, key=lambda i: (i["run_after"], i["id"])):
            lease = now + lease_s
            if self._update_job(item, "running", lease, condition=(item["status"], item.get("lease_until")),
                                due_by=now, attempts=item["attempts"] + 1, lease_until=lease, worker=worker):
                return self.get_job(item["id"])
        return None

    def _jobs_by(self, status: str, before: float | None = None) -> list[dict[str, Any]]:
        values = {":p": f"JOBS#{status}"}
        cond = "gsi1pk = :p"
        if before is not None:
            cond += " AND gsi1sk <= :t"
            values[":t"] = _job_sk(before, 10**12 - 1)
        return list(self._query(IndexName=INDEX, KeyConditionExpression=cond,
                                ExpressionAttributeValues=_encode(values)))

    def _update_job(self, item: dict[str, Any], status: str, due: float, *, condition: tuple[str, Any] | None = None,
                    due_by: float | None = None, **fields: Any) -> bool:
        """Move a job to ``status`` (its index entry sorted by ``due``); with ``condition``
        (the status and lease it was read with) only if no one moved it since, and with
        ``due_by`` only if it is due by then (the index is eventually consistent: it may show a
        job as it was). False if the condition did not hold."""
        sets = {"status": status, "gsi1pk": f"JOBS#{status}", "gsi1sk": _job_sk(due, item["id"]),
                "updated": self._now(), **fields}
        if status in ("done", "failed"):
            sets["expires"] = int(self._now() + JOB_TTL)
        names = {f"#{k}": k for k in sets}
        values = {f":{k}": v for k, v in sets.items()}
        removes = [k for k, v in sets.items() if v is None]
        expr = "SET " + ", ".join(f"#{k} = :{k}" for k in sets if sets[k] is not None)
        if removes:
            expr += " REMOVE " + ", ".join(f"#{k}" for k in removes)
        extra: dict[str, Any] = {}
        if condition is not None:
            was, lease = condition
            names["#st"] = "status"
            values[":was"] = was
            extra["ConditionExpression"] = "#st = :was"
            if lease is not None:
                names["#lu"] = "lease_until"
                values[":lease"] = lease
                extra["ConditionExpression"] += " AND #lu = :lease"
            if due_by is not None and was == "queued":
                names["#ra"] = "run_after"
                values[":due_by"] = due_by
                extra["ConditionExpression"] += " AND #ra <= :due_by"
        values = {k: v for k, v in values.items() if v is not None}
        try:
            self.db.update_item(TableName=self.table, Key=_encode({"pk": _job_pk(item["id"]), "sk": "META"}),
                                UpdateExpression=expr, ExpressionAttributeNames=names,
                                ExpressionAttributeValues=_encode(values), **extra)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def finish_job(self, job_id: int, error: str | None = None) -> str:
        now = self._now()
        item = self._get_item(_job_pk(job_id), "META")
        if item is None:
            raise KeyError(job_id)
        if error is None:
            status, run_after = "done", now
        elif item["attempts"] >= MAX_ATTEMPTS:
            status, run_after = "failed", now
        else:
            status, run_after = "queued", now + backoff_s(item["attempts"])
        self._update_job(item, status, run_after, run_after=run_after, lease_until=None, error=error)
        return status

    def release_jobs(self, dead: Callable[[str], bool]) -> list[int]:
        ids = []
        for item in self._jobs_by("running"):
            if item.get("worker") and dead(item["worker"]) and self._update_job(
                    item, "running", 0, condition=("running", item.get("lease_until")), lease_until=0):
                ids.append(int(item["id"]))
        return ids

    def get_job(self, job_id: int) -> Job | None:
        item = self._get_item(_job_pk(job_id), "META")
        if item is None:
            return None
        return Job(id=int(item["id"]), delivery=item["delivery"], event=item["event"], payload=self._text(item),
                   status=item["status"], attempts=int(item["attempts"]), error=item.get("error"))

    def jobs(self, status: str | None = None) -> list[Job]:
        statuses = [status] if status else ["queued", "running", "done", "failed"]
        found = [int(i["id"]) for s in statuses for i in self._jobs_by(s)]
        return [j for j in (self.get_job(n) for n in sorted(found)) if j is not None]

    # what a GitHub trigger produced (for its check run's buttons) -------------------

    def put_trigger(self, key: str, data: dict[str, Any]) -> None:
        self._put_data(trigger_pk(key), "RESULT", json.dumps(data), expires=int(self._now() + TRIGGER_TTL))

    def get_trigger(self, key: str) -> dict[str, Any] | None:
        raw = self._get_data(trigger_pk(key), "RESULT")
        return json.loads(raw) if raw is not None else None

    # installations and their daily quota ----------------------------------------------

    def put_installation(self, installation_id: int, account: str, daily_credits: int) -> None:
        """Create (or reactivate) an installation's profile; its usage so far is kept."""
        self.db.update_item(
            TableName=self.table, Key=_encode({"pk": installation_pk(installation_id), "sk": "PROFILE"}),
            UpdateExpression=("SET account = :a, daily_credits = :c, #st = :active, tier = if_not_exists(tier, :free), "
                              "#day = if_not_exists(#day, :today), used = if_not_exists(used, :zero)"),
            ExpressionAttributeNames={"#st": "status", "#day": "day"},
            ExpressionAttributeValues=_encode({":a": account, ":c": daily_credits, ":active": "active",
                                               ":free": "free", ":today": _today(), ":zero": 0}))

    def retire_installation(self, installation_id: int) -> None:
        try:
            self.db.update_item(
                TableName=self.table, Key=_encode({"pk": installation_pk(installation_id), "sk": "PROFILE"}),
                UpdateExpression="SET #st = :retired", ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={"#st": "status"}, ExpressionAttributeValues=_encode({":retired": "retired"}))
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def get_installation(self, installation_id: int) -> dict[str, Any] | None:
        item = self._get_item(installation_pk(installation_id), "PROFILE")
        if item is None:
            return None
        return {k: v for k, v in item.items() if k not in ("pk", "sk")}

    def quota(self, installation_id: int, daily_credits: int) -> Quota:
        profile = self.get_installation(installation_id) or {}
        limit = int(profile.get("daily_credits", daily_credits))
        used = int(profile.get("used", 0)) if profile.get("day") == _today() else 0
        return Quota(limit=limit, used=used)

    def spend_credit(self, installation_id: int, session_id: str, daily_credits: int) -> tuple[bool, Quota]:
        """Spend one verification for ``session_id``, atomically and at most once per session.
        (False, quota) when the day's budget is used up."""
        pk = installation_pk(installation_id)
        for _ in range(_MAX_SPEND_TRIES):
            today = _today()
            profile = self.get_installation(installation_id)
            limit = int((profile or {}).get("daily_credits", daily_credits))
            used = int(profile["used"]) if profile is not None and profile.get("day") == today else 0
            if self._get_item(pk, spent_sk(session_id)) is not None:
                return True, Quota(limit=limit, used=used)
            if used >= limit:
                return False, Quota(limit=limit, used=used)
            update = self._spend_update(pk, profile, today, used, limit, daily_credits)
            marker = {"Put": {"TableName": self.table, "ConditionExpression": "attribute_not_exists(pk)",
                              "Item": _encode({"pk": pk, "sk": spent_sk(session_id), "day": today,
                                               "expires": int(self._now() + SPENT_TTL)})}}
            try:
                self.db.transact_write_items(TransactItems=[marker, update])
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                continue  # the session was spent meanwhile, or another spend moved the count: read again
            return True, Quota(limit=limit, used=used + 1)
        raise RuntimeError(f"could not spend a credit for installation {installation_id}: too much contention")

    def _spend_update(self, pk: str, profile: dict[str, Any] | None, today: str, used: int, limit: int,
                      daily_credits: int) -> dict[str, Any]:
        """The profile's write for one more use today, conditional on the state it was read in."""
        key = _encode({"pk": pk, "sk": "PROFILE"})
        names = {"#day": "day", "#st": "status"}
        if profile is None:  # an installation never seen: the default profile, created here
            return {"Update": {
                "TableName": self.table, "Key": key, "ConditionExpression": "attribute_not_exists(pk)",
                "UpdateExpression": ("SET tier = :free, account = :none, #st = :active, daily_credits = :c, "
                                     "#day = :today, used = :one"),
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": _encode({":free": "free", ":none": "", ":active": "active",
                                                      ":c": daily_credits, ":today": today, ":one": 1})}}
        if profile.get("day") != today:  # the first use of a new day resets the count
            return {"Update": {
                "TableName": self.table, "Key": key, "ConditionExpression": "#day = :old",
                "UpdateExpression": "SET #day = :today, used = :one", "ExpressionAttributeNames": {"#day": "day"},
                "ExpressionAttributeValues": _encode({":old": profile.get("day", ""), ":today": today, ":one": 1})}}
        return {"Update": {
            "TableName": self.table, "Key": key, "ConditionExpression": "#day = :today AND used = :used",
            "UpdateExpression": "SET used = :next", "ExpressionAttributeNames": {"#day": "day"},
            "ExpressionAttributeValues": _encode({":today": today, ":used": used, ":next": used + 1})}}

    # blobs -------------------------------------------------------------------------

    def put_blob(self, session_id: str, name: str, data: bytes) -> str:
        key = blob_key(session_id, name)
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)
        return f"s3://{self.bucket}/{key}"

    def get_blob(self, session_id: str, name: str) -> bytes | None:
        key = blob_key(session_id, name)
        try:
            return bytes(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return None
            raise

    # snapshots ---------------------------------------------------------------------
    # The AWS engine's project snapshots, by the archive's SHA-256 (the same project staged
    # twice is stored once). The sandbox function reads one through a presigned GET only.

    def put_snapshot(self, sha256: str, archive: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=_snapshot_key(sha256), Body=archive, ContentType="application/gzip")

    def get_snapshot(self, sha256: str) -> bytes | None:
        try:
            return bytes(self.s3.get_object(Bucket=self.bucket, Key=_snapshot_key(sha256))["Body"].read())
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return None
            raise

    def snapshot_url(self, sha256: str, expires_s: int = 900) -> str:
        return str(self.s3.generate_presigned_url("get_object", Params={"Bucket": self.bucket, "Key": _snapshot_key(sha256)},
                                                  ExpiresIn=expires_s))


def _snapshot_key(sha256: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise ValueError(f"bad snapshot id {sha256!r}")
    return f"snapshots/{sha256}.tar.gz"


def _job_pk(job_id: int) -> str:
    return f"JOB#{job_id:012d}"


def table_definition(table: str = TABLE) -> dict[str, Any]:
    """``CreateTable`` arguments: the same shape ``infra/template.yaml`` declares (tests create
    the table from this; a test checks that the template agrees)."""
    return {
        "TableName": table,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "gsi1pk", "gsi1sk")],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "GlobalSecondaryIndexes": [{
            "IndexName": INDEX,
            "KeySchema": [{"AttributeName": "gsi1pk", "KeyType": "HASH"}, {"AttributeName": "gsi1sk", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "ALL"},
        }],
    }
