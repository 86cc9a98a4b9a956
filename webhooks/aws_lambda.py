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

_handler = None


def _build():
    from mangum import Mangum

    from pve import config
    from pve.settings import GitHubAppSettings, Settings
    from store.sqlite import SQLiteStore
    from webhooks.app import create_app

    env = config.load()
    github = GitHubAppSettings.from_config(env)
    store = SQLiteStore(Settings.from_config(env).home)
    return Mangum(create_app(github.webhook_secret, store), lifespan="off",
                  api_gateway_base_path=env.get("PVE_API_BASE_PATH") or "/")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _handler
    if _handler is None:
        _handler = _build()
    return _handler(event, context)
