"""The scale-out store: DynamoDB's single table ``PVE_Main`` plus an S3 bucket.

The same items as the SQLite store (keys from ``store/base.py``, the rules over them from
``store/backend.py``), one item each. What differs is how the guarantees are kept without a lock:

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
key instead. Artifacts (proofs, diffs) live under ``sessions/<id>/<name>``, snapshots under
``snapshots/``; the bucket's lifecycle rules (``infra/template.yaml``) expire each prefix.

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
from contextlib import nullcontext
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from pve.models import Session
from store.aws_clients import INDEX, TABLE, s3_client, table_definition  # noqa: F401 (re-exported)
from store.backend import WORKER_DIED, Backend, newest_first
from store.base import (
    MAX_ATTEMPTS,
    HistoryQuery,
    Job,
    SessionSummary,
    blob_key,
    delivery_pk,
    event_sk,
    history_pk,
    history_sk,
    session_pk,
    spent_sk,
)

INLINE_LIMIT = 300_000  # bytes of JSON kept in the item; more goes to S3 (the item limit is 400 KB)

# How long short-lived items are honoured (seconds). GitHub lets a delivery be redelivered for
# three days: a week of dedup covers it.
DELIVERY_TTL = 7 * 86400
SPENT_TTL = 2 * 86400  # a session's spend only matters on its day
JOB_TTL = 7 * 86400  # finished jobs (running and queued ones never expire)
TRIGGER_TTL = 30 * 86400  # a check run's buttons after that say "expired"
EVENT_TTL = 30 * 86400  # the live console; the session and its fixes stay

_SESSIONS = "SESSIONS"

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


class DynamoStore(Backend):
    """Every store role (``store.base.Store``) on one DynamoDB table and one S3 bucket: the
    storage primitives of ``store/backend.py``'s rules.

    ``dynamodb`` and ``s3`` are boto3 clients (thread-safe, shared by the worker threads)."""

    event_ttl = EVENT_TTL
    trigger_ttl = TRIGGER_TTL

    def __init__(self, dynamodb: Any, s3: Any, bucket: str, table: str = TABLE,
                 clock: Callable[[], float] = time.time) -> None:
        self.db, self.s3, self.bucket, self.table = dynamodb, s3, bucket, table
        self._clock = clock

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DynamoStore:
        import boto3

        store = cls(boto3.client("dynamodb"), s3_client(), bucket=env["PVE_BUCKET"], table=env.get("PVE_TABLE") or TABLE)
        days = env.get("PVE_SESSION_RETENTION_DAYS", "")  # as long as the bucket keeps its proofs (template)
        store.session_ttl = int(days) * 86400 if days.isdigit() and int(days) > 0 else None
        return store

    def close(self) -> None:
        """Nothing to release: the clients hold no per-store state."""

    def _now(self) -> float:
        return self._clock()

    def _day(self) -> str:
        return _today()

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

    def _put_text(self, pk: str, sk: str, text: str, *, ttl: int | None = None, inline: bool = False) -> None:
        expires = {"expires": int(self._now() + ttl)} if ttl is not None else {}
        if inline:
            self._put_item({"pk": pk, "sk": sk, "data": text, **expires})
        else:
            self._put_data(pk, sk, text, **expires)

    def _get_text(self, pk: str, sk: str) -> str | None:
        item = self._get_item(pk, sk)
        return self._text(item) if item is not None else None

    def _has(self, pk: str, sk: str) -> bool:
        return self._get_item(pk, sk) is not None

    def _delete(self, pk: str, sk: str) -> None:
        self.db.delete_item(TableName=self.table, Key=_encode({"pk": pk, "sk": sk}))

    def _fix_texts(self, pk: str) -> list[str]:
        items = self._query(KeyConditionExpression="pk = :p AND begins_with(sk, :f)", ConsistentRead=True,
                            ExpressionAttributeValues=_encode({":p": pk, ":f": "FIX#"}))
        return [self._text(i) for i in items]

    def _event_texts(self, pk: str, after: int) -> list[str]:
        items = self._query(KeyConditionExpression="pk = :p AND sk BETWEEN :lo AND :hi", ConsistentRead=True,
                            ExpressionAttributeValues=_encode({":p": pk, ":lo": event_sk(after + 1), ":hi": "EVENT#~"}))
        return [self._text(i) for i in items]

    def _recent_texts(self, limit: int) -> list[str]:
        items = self._query(IndexName=INDEX, KeyConditionExpression="gsi1pk = :p",
                            ExpressionAttributeValues=_encode({":p": _SESSIONS}), ScanIndexForward=False, Limit=limit)
        # the index projects every attribute: a listing is one query (eventually consistent,
        # as a listing may be), not one read per session
        return [self._text(item) for item in items]

    def _get_fields(self, pk: str, sk: str) -> dict[str, Any] | None:
        item = self._get_item(pk, sk)
        if item is None:
            return None
        return {k: v for k, v in item.items() if k not in ("pk", "sk")}

    def _set_fields(self, pk: str, sk: str, fields: dict[str, Any], defaults: dict[str, Any]) -> None:
        # one update: what is new is set, what exists is kept (if_not_exists), no read first
        values = {**defaults, **fields}
        sets = [f"#{k} = :{k}" for k in fields] + [f"#{k} = if_not_exists(#{k}, :{k})" for k in defaults]
        self.db.update_item(TableName=self.table, Key=_encode({"pk": pk, "sk": sk}), UpdateExpression="SET " + ", ".join(sets),
                            ExpressionAttributeNames={f"#{k}": k for k in values},
                            ExpressionAttributeValues=_encode({f":{k}": v for k, v in values.items()}))

    def _update_fields(self, pk: str, sk: str, fields: dict[str, Any]) -> None:
        try:
            self.db.update_item(
                TableName=self.table, Key=_encode({"pk": pk, "sk": sk}), ConditionExpression="attribute_exists(pk)",
                UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in fields),
                ExpressionAttributeNames={f"#{k}": k for k in fields},
                ExpressionAttributeValues=_encode({f":{k}": v for k, v in fields.items()}))
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    # sessions ------------------------------------------------------------------

    def put_session(self, session: Session) -> None:
        # Candidates and verdicts live in FIX# items; META stays small for listings.
        meta = session.model_dump_json(exclude={"candidates", "verdicts"})
        pk = session_pk(session.id)
        self._put_fixes(session)  # fixes first: a reader that sees the META sees its fixes
        expires = {"expires": int(self._now() + self.session_ttl)} if self.session_ttl else {}
        self._put_data(pk, "META", meta, gsi1pk=_SESSIONS, gsi1sk=f"{session.created_at}#{session.id}", **expires)
        # History rows: one in the repository's partition (listed sessions only) and one in the
        # requester's, so a reader's history is a few key queries, never a scan.
        row = SessionSummary.of(session)
        summary = json.dumps(dataclasses.asdict(row))
        for where in ((history_pk(repo=row.repo),) if row.repo and not row.unlisted else ()) + \
                ((history_pk(login=row.requested_by),) if row.requested_by else ()):
            self._put_item({"pk": where, "sk": history_sk(row.created_at, row.id), "data": summary, **expires})

    def history(self, query: HistoryQuery) -> list[SessionSummary]:
        repos = {r.lower() for r in query.repos}
        if query.repo:  # one repository: its partition only (if the reader may see it)
            repos &= {query.repo.lower()}
        parts = [history_pk(repo=r) for r in sorted(repos)] + ([history_pk(login=query.login)] if query.login else [])
        found: list[SessionSummary] = []
        for part in parts:  # each newest first, until it has a page of matches of its own
            key = "pk = :p AND sk < :b" if query.before else "pk = :p"
            values = {":p": part, **({":b": query.before} if query.before else {})}
            taken = 0
            for item in self._query(KeyConditionExpression=key, ExpressionAttributeValues=_encode(values),
                                    ScanIndexForward=False):
                row = SessionSummary(**json.loads(str(item["data"])))
                if row.matches(query):
                    found.append(row)
                    taken += 1
                    if taken >= query.limit:
                        break
        return newest_first(found, query.limit)

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

    def _claim(self, worker: str, lease_s: float) -> int | None:
        now = self._now()
        runnable: list[dict[str, Any]] = []
        for item in self._jobs_by("running", before=now):  # leases run out: their worker died
            if item["attempts"] >= MAX_ATTEMPTS:
                self._update_job(item["id"], "failed", now, condition=("running", item.get("lease_until")),
                                 error=item.get("error") or WORKER_DIED)
            else:
                runnable.append(item)
        runnable += self._jobs_by("queued", before=now)
        for item in sorted(runnable, key=lambda i: (i["run_after"], i["id"])):
            lease = now + lease_s
            if self._update_job(item["id"], "running", lease, condition=(item["status"], item.get("lease_until")),
                                due_by=now, attempts=item["attempts"] + 1, lease_until=lease, worker=worker):
                return int(item["id"])
        return None

    def _jobs_by(self, status: str, before: float | None = None) -> list[dict[str, Any]]:
        values = {":p": f"JOBS#{status}"}
        cond = "gsi1pk = :p"
        if before is not None:
            cond += " AND gsi1sk <= :t"
            values[":t"] = _job_sk(before, 10**12 - 1)
        return list(self._query(IndexName=INDEX, KeyConditionExpression=cond,
                                ExpressionAttributeValues=_encode(values)))

    def _update_job(self, job_id: int, status: str, due: float, *, condition: tuple[str, Any] | None = None,
                    due_by: float | None = None, **fields: Any) -> bool:
        """Move a job to ``status`` (its index entry sorted by ``due``); with ``condition``
        (the status and lease it was read with) only if no one moved it since, and with
        ``due_by`` only if it is due by then (the index is eventually consistent: it may show a
        job as it was). False if the condition did not hold."""
        sets = {"status": status, "gsi1pk": f"JOBS#{status}", "gsi1sk": _job_sk(due, job_id),
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
            self.db.update_item(TableName=self.table, Key=_encode({"pk": _job_pk(job_id), "sk": "META"}),
                                UpdateExpression=expr, ExpressionAttributeNames=names,
                                ExpressionAttributeValues=_encode(values), **extra)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _attempts(self, job_id: int) -> int | None:
        item = self._get_item(_job_pk(job_id), "META")
        return int(item["attempts"]) if item is not None else None

    def _set_outcome(self, job_id: int, status: str, run_after: float, error: str | None, now: float) -> None:
        self._update_job(job_id, status, run_after, run_after=run_after, lease_until=None, error=error)

    def release_jobs(self, dead: Callable[[str], bool]) -> list[int]:
        ids = []
        for item in self._jobs_by("running"):
            if item.get("worker") and dead(item["worker"]) and self._update_job(
                    item["id"], "running", 0, condition=("running", item.get("lease_until")), lease_until=0):
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

    # the daily quota ------------------------------------------------------------------
    # A spend is a transaction of two conditional writes: the session's ``SPENT#`` marker must
    # not exist, and the profile must still be as it was read (retried by the rules when not).

    def _spending(self) -> nullcontext[None]:
        return nullcontext()

    def _record_spend(self, pk: str, session_id: str, profile: dict[str, Any] | None, today: str, used: int,
                      daily_credits: int) -> bool:
        update = self._spend_update(pk, profile, today, used, daily_credits)
        marker = {"Put": {"TableName": self.table, "ConditionExpression": "attribute_not_exists(pk)",
                          "Item": _encode({"pk": pk, "sk": spent_sk(session_id), "day": today,
                                           "expires": int(self._now() + SPENT_TTL)})}}
        try:
            self.db.transact_write_items(TransactItems=[marker, update])
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            return False
        return True

    def _spend_update(self, pk: str, profile: dict[str, Any] | None, today: str, used: int,
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
        return self._object(blob_key(session_id, name))

    def _object(self, key: str) -> bytes | None:
        """An S3 object's bytes; None when there is none."""
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
        return self._object(_snapshot_key(sha256))

    def snapshot_url(self, sha256: str, expires_s: int = 900) -> str:
        return str(self.s3.generate_presigned_url("get_object", Params={"Bucket": self.bucket, "Key": _snapshot_key(sha256)},
                                                  ExpiresIn=expires_s))


def _snapshot_key(sha256: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise ValueError(f"bad snapshot id {sha256!r}")
    return f"snapshots/{sha256}.tar.gz"


def _job_pk(job_id: int) -> str:
    return f"JOB#{job_id:012d}"
