"""AWS under moto for the tests: the DynamoDB table and the S3 bucket PVE uses, in-process.

moto's DynamoDB checks a write's condition and then writes without a lock, so concurrent
conditional writes can both pass (PLATFORM.md measured 6 of 16 spends through a quota of 5).
Real DynamoDB serialises writes to an item; ``serialised_dynamodb`` gives moto the same
guarantee by running one request at a time, which is what the concurrency tests need to test
PVE's conditions and not moto's race.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import boto3
from moto import mock_aws

from store.dynamo import DynamoStore, table_definition

REGION = "us-east-1"
BUCKET = "pve-test-artifacts"


@contextlib.contextmanager
def serialised_dynamodb() -> Iterator[None]:
    from moto.dynamodb.responses import DynamoHandler

    lock = threading.Lock()
    original = DynamoHandler.call_action

    def call_action(self: Any) -> Any:
        with lock:
            return original(self)

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    try:
        yield
    finally:
        DynamoHandler.call_action = original  # type: ignore[method-assign]


@contextlib.contextmanager
def aws(monkeypatch: Any) -> Iterator[tuple[Any, Any]]:
    """(dynamodb client, s3 client) on a fresh moto account, with PVE's table and bucket made."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws(), serialised_dynamodb():
        ddb = boto3.client("dynamodb", region_name=REGION)
        s3 = boto3.client("s3", region_name=REGION)
        ddb.create_table(**table_definition())
        s3.create_bucket(Bucket=BUCKET)
        yield ddb, s3


def dynamo_store(ddb: Any, s3: Any, **kwargs: Any) -> DynamoStore:
    return DynamoStore(ddb, s3, bucket=BUCKET, **kwargs)
