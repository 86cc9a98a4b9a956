"""The AWS Lambda handlers: thin adapters from an event to one step (Powertools style: the
event parsed into a model, the step called, a model returned).

- ``handler``: the webhook app and the web view behind API Gateway (HTTP API) through Mangum
  (``aws_web.web_app``). ``lifespan="off"``:
  with "auto", Mangum would run start-up and shutdown on every invocation. With ``PVE_TABLE`` and
  ``PVE_BUCKET``, deliveries are deduplicated and queued in DynamoDB; with ``PVE_STATE_MACHINE``,
  each queued job starts its Step Functions execution.
- ``controller``, ``validate``, ``notifier``: the state machine's steps
  (``statemachine/verify.asl.json``, ``statemachine/stepfunctions``).
- ``console``: the live console's WebSocket routes (``$connect``, ``$disconnect``, ``$default``;
  ``web/live.py``): a page's reader admitted by its ticket, then the lines they missed.
- ``sandbox``: the sandbox function (``sandbox/function.py``; ``aws_lambda_sandbox`` in its image).

Configuration comes from the same sources as ``pve serve`` (environment, then Secrets Manager
via ``PVE_AWS_SECRET_ID`` and SSM via ``PVE_SSM_PATH``), read once per cold start.
"""

from __future__ import annotations

import asyncio
from typing import Any

from mangum import Mangum

from entrypoints import aws_web, bootstrap
from pve import config

_handler: Mangum | None = None
_engine: Any = None
_console: Any = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _handler
    if _handler is None:
        env = config.load()
        _handler = Mangum(aws_web.web_app(env), lifespan="off",
                          api_gateway_base_path=env.get("PVE_API_BASE_PATH") or "/")
    return _handler(event, context)


def _steps_engine() -> Any:
    global _engine
    if _engine is None:
        _engine = bootstrap.aws_engine(config.load())
    return _engine


def controller(event: dict[str, Any], context: Any, engine: Any = None) -> dict[str, Any]:
    from statemachine.stepfunctions import steps

    step = event.get("step")
    if step == "tally":
        return steps.tally(dict(event["flow"])).model_dump(mode="json")
    if step == "start":
        return asyncio.run(steps.start(engine or _steps_engine(), event)).model_dump(mode="json")
    if step == "models":
        return asyncio.run(steps.models(engine or _steps_engine(), dict(event["flow"]))).model_dump(mode="json")
    raise ValueError(f"the controller has no step {step!r}")


def validate(event: dict[str, Any], context: Any, engine: Any = None) -> dict[str, Any]:
    from statemachine.stepfunctions import steps

    return asyncio.run(steps.validate_rank(engine or _steps_engine(), event))


def notifier(event: dict[str, Any], context: Any, engine: Any = None) -> dict[str, Any]:
    from statemachine.stepfunctions import steps

    step = event.get("step")
    if step == "notify":
        return asyncio.run(steps.notify(engine or _steps_engine(), dict(event["flow"]))).model_dump(mode="json")
    if step == "failed":
        return asyncio.run(steps.failed(engine or _steps_engine(), dict(event["flow"])))
    raise ValueError(f"the notifier has no step {step!r}")


def console(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The live console's WebSocket routes (API Gateway, ``ConsoleApi`` in the template)."""
    global _console
    from web import live

    if _console is None:
        _console = aws_web.live_console(config.load())
    store, signer, broadcast = _console
    return live.handle(event, store, signer, broadcast)


def sandbox(event: dict[str, Any], context: Any, backend: Any = None) -> dict[str, Any]:
    """The sandbox function (its image uses ``entrypoints.aws_lambda_sandbox`` directly)."""
    from entrypoints import aws_lambda_sandbox

    return aws_lambda_sandbox.handler(event, context, backend)
