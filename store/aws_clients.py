"""The AWS clients the DynamoDB + S3 store uses, configured for where it runs.

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
