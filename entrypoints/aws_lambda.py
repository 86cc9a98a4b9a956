"""The webhook app on AWS Lambda behind API Gateway (HTTP API), through Mangum.

``lifespan="off"``: with "auto", Mangum would run start-up and shutdown on every invocation.
Configuration comes from the same sources as ``pve serve`` (environment, then Secrets Manager
via ``PVE_AWS_SECRET_ID`` and SSM via ``PVE_SSM_PATH``), read once per cold start.

Scale-out status: deliveries are verified, deduplicated and queued exactly as on one machine,
but into the SQLite store under ``PVE_HOME`` (``/tmp`` on Lambda), which is per instance. The
DynamoDB store and the Step Functions hand-off replace it in the scale-out issue; until then
this handler is for trying the edge on Lambda, not for production.
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
