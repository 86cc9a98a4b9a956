"""The AWS side of the DynamoDB + S3 store: its table's definition, and its clients, configured
for where it runs.

S3's presigned URLs are what the sandbox function reads a snapshot through, so their form
matters: botocore presigns with Signature Version 2 unless told otherwise, which S3 refuses for
buckets created since June 2020, and names the global host (``<bucket>.s3.amazonaws.com``),
which outside us-east-1 can answer with a redirect the sandbox's DNS firewall and S3 gateway
endpoint do not allow. So: SigV4, and virtual-hosted addressing, which gives the Regional host
(``<bucket>.s3.<region>.amazonaws.com``). Against a local endpoint (``AWS_ENDPOINT_URL``, moto in
the tests) the addressing stays by path: a bucket name cannot prefix ``127.0.0.1``.
"""

from __future__ import annotations

import os
from typing import Any


def s3_client(region: str | None = None) -> Any:
    import boto3
    from botocore.config import Config

    local = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    s3: dict[str, Any] = {} if local else {"addressing_style": "virtual"}
    return boto3.client("s3", region_name=region, config=Config(signature_version="s3v4", s3=s3))


TABLE = "PVE_Main"
INDEX = "GSI1"


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
