"""The webhook function's handler: the webhook app and the web view behind API Gateway (HTTP
API) through Mangum (``aws_web.web_app``). A thin adapter, Powertools style: the event in, the
app called, the answer out. ``lifespan="off"``: with "auto", Mangum would run start-up and
shutdown on every invocation. With ``PVE_TABLE`` and ``PVE_BUCKET``, deliveries are deduplicated
and queued in DynamoDB; with ``PVE_STATE_MACHINE``, each queued job starts its Step Functions
execution.

The AWS functions' handlers, one module each, so each function's artifact holds what its handler
imports (``infra/functions.py``): this one; ``aws_steps`` (controller, validate, notifier: the
state machine's steps); ``aws_console`` (the live console's WebSocket routes);
``aws_lambda_sandbox`` (the sandbox function, in its image). Configuration comes from the same
sources as ``pve serve`` (environment, then Secrets Manager via ``PVE_AWS_SECRET_ID`` and SSM via
``PVE_SSM_PATH``), read once per cold start.
"""

from __future__ import annotations

from typing import Any

from mangum import Mangum

from entrypoints import aws_web
from pve import config

_handler: Mangum | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _handler
    if _handler is None:
        env = config.load()
        _handler = Mangum(aws_web.web_app(env), lifespan="off",
                          api_gateway_base_path=env.get("PVE_API_BASE_PATH") or "/")
    return _handler(event, context)
