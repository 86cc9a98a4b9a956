"""The same webhook app on Lambda: Mangum with an API Gateway HTTP API (payload 2.0) event."""

from __future__ import annotations

import base64
import json

import pytest

from entrypoints import aws_lambda
from store.sqlite import SQLiteStore
from tests.github_payloads import comment_on_issue
from webhooks.signature import sign

SECRET = "lambda-secret"


@pytest.fixture
def lambda_env(tmp_path, monkeypatch):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    for k, v in {"PVE_HOME": str(tmp_path), "PVE_GITHUB_APP_ID": "12", "PVE_GITHUB_PRIVATE_KEY": pem,
                 "PVE_GITHUB_WEBHOOK_SECRET": SECRET, "PVE_API_BASE_PATH": "/prod"}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(aws_lambda, "_handler", None)
    return tmp_path


def http_api_event(body: bytes, headers: dict[str, str], *, b64: bool) -> dict:
    return {
        "version": "2.0", "routeKey": "POST /webhooks/github", "rawPath": "/prod/webhooks/github", "rawQueryString": "",
        "headers": {k.lower(): v for k, v in headers.items()},
        "requestContext": {"accountId": "123456789012", "apiId": "api", "domainName": "api.example.com",
                           "domainPrefix": "api", "http": {"method": "POST", "path": "/prod/webhooks/github",
                                                           "protocol": "HTTP/1.1", "sourceIp": "192.30.252.1",
                                                           "userAgent": "GitHub-Hookshot/abc"},
                           "requestId": "id", "routeKey": "POST /webhooks/github", "stage": "prod",
                           "time": "21/Nov/2026:09:00:00 +0000", "timeEpoch": 1795000000000},
        "body": base64.b64encode(body).decode() if b64 else body.decode(), "isBase64Encoded": b64,
    }


@pytest.mark.parametrize("b64", [False, True])
def test_a_signed_delivery_through_mangum_is_queued_once(lambda_env, b64):
    raw = json.dumps(comment_on_issue("/pve verify")).encode()
    headers = {"X-GitHub-Event": "issue_comment", "X-GitHub-Delivery": "lambda-1", "Content-Type": "application/json",
               "X-Hub-Signature-256": sign(SECRET.encode(), raw)}
    first = aws_lambda.handler(http_api_event(raw, headers, b64=b64), None)
    assert first["statusCode"] == 202 and json.loads(first["body"])["status"] == "queued"
    again = aws_lambda.handler(http_api_event(raw, headers, b64=b64), None)
    assert json.loads(again["body"])["status"] == "duplicate"
    (job,) = SQLiteStore(lambda_env).jobs()
    assert job.delivery == "lambda-1" and job.event == "issue_comment"


def test_a_bad_signature_through_mangum_is_401(lambda_env):
    raw = b'{"action": "created"}'
    headers = {"X-GitHub-Event": "issue_comment", "X-GitHub-Delivery": "lambda-2", "Content-Type": "application/json",
               "X-Hub-Signature-256": sign(b"wrong", raw)}
    response = aws_lambda.handler(http_api_event(raw, headers, b64=False), None)
    assert response["statusCode"] == 401
    assert SQLiteStore(lambda_env).jobs() == []


def test_with_a_table_named_the_lambda_queues_into_dynamodb_once_across_instances(lambda_env, monkeypatch):
    """The AWS stack names its table and bucket: every instance of the webhook function then
    shares one dedup and one queue (the SQLite file under /tmp would be one per instance)."""
    from store.dynamo import DynamoStore
    from tests.aws import BUCKET, aws

    with aws(monkeypatch) as (ddb, s3):
        monkeypatch.setenv("PVE_TABLE", "PVE_Main")
        monkeypatch.setenv("PVE_BUCKET", BUCKET)
        raw = json.dumps(comment_on_issue("/pve verify")).encode()
        headers = {"X-GitHub-Event": "issue_comment", "X-GitHub-Delivery": "lambda-3",
                   "Content-Type": "application/json", "X-Hub-Signature-256": sign(SECRET.encode(), raw)}
        first = aws_lambda.handler(http_api_event(raw, headers, b64=False), None)
        assert json.loads(first["body"])["status"] == "queued"
        monkeypatch.setattr(aws_lambda, "_handler", None)  # a second instance (a cold start elsewhere)
        again = aws_lambda.handler(http_api_event(raw, headers, b64=True), None)
        assert json.loads(again["body"])["status"] == "duplicate"
        (job,) = DynamoStore(ddb, s3, bucket=BUCKET).jobs()
        assert (job.delivery, job.event, job.payload) == ("lambda-3", "issue_comment", raw.decode())
    assert SQLiteStore(lambda_env).jobs() == []  # nothing went to the instance's own disk


def test_a_table_without_a_bucket_is_a_clear_error(lambda_env, monkeypatch):
    from entrypoints import bootstrap
    from pve.errors import BadInput

    with pytest.raises(BadInput, match="PVE_BUCKET is not"):
        bootstrap.make_store({"PVE_TABLE": "PVE_Main"})
