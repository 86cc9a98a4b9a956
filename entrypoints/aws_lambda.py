"""The webhook app on AWS Lambda behind API Gateway (HTTP API), through Mangum.

``lifespan="off"``: with "auto", Mangum would run start-up and shutdown on every invocation.
Configuration comes from the same sources as ``pve serve`` (environment, then Secrets Manager
via ``PVE_AWS_SECRET_ID`` and SSM via ``PVE_SSM_PATH``), read once per cold start.

With ``PVE_TABLE`` and ``PVE_BUCKET`` set (the AWS stack sets them), deliveries are verified,
deduplicated and queued in DynamoDB, shared by every instance; without them, in SQLite under
``PVE_HOME`` (``/tmp`` on Lambda: per instance, for trying the edge only). The Step Functions
hand-off in place of the queue comes with the AWS deployment.
"""

from __future__ import annotations

from typing import Any

from mangum import Mangum

from entrypoints import bootstrap
from pve import config

_handler: Mangum | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _handler
    if _handler is None:
        env = config.load()
        _handler = Mangum(bootstrap.webhook_edge(env), lifespan="off",
                          api_gateway_base_path=env.get("PVE_API_BASE_PATH") or "/")
    return _handler(event, context)
