"""The state machine's steps as Lambda handlers (``statemachine/verify.asl.json``,
``statemachine/stepfunctions``): thin adapters from a state's input to one step and back. The
controller runs Start, Tally and Models; the validate function one candidate (a Map iteration);
the notifier Notify and Failed. They share one composition (``aws_engine``): the DynamoDB + S3
store, the sandbox function behind ``RemoteSandbox``, the GitHub runtime, the live console's
broadcast."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from entrypoints.bootstrap import github_runtime
from pve import config

if TYPE_CHECKING:
    from statemachine.stepfunctions.steps import Engine

_engine: Any = None


def aws_engine(env: Mapping[str, str]) -> Engine:
    """What the AWS engine's steps use (controller, validate, notifier): the DynamoDB + S3
    store, the sandbox function behind ``RemoteSandbox`` (``PVE_SANDBOX_FUNCTION``), and the
    GitHub runtime over both."""
    import tempfile
    from pathlib import Path

    import boto3
    from botocore.config import Config

    from pve.errors import BadInput
    from sandbox.remote import RemoteSandbox, lambda_invoker
    from statemachine.stepfunctions.limits import INVOKE_READ_TIMEOUT_S
    from statemachine.stepfunctions.steps import Engine
    from store.dynamo import DynamoStore

    function = env.get("PVE_SANDBOX_FUNCTION")
    if not env.get("PVE_TABLE") or not env.get("PVE_BUCKET") or not function:
        raise BadInput("the AWS engine needs PVE_TABLE, PVE_BUCKET and PVE_SANDBOX_FUNCTION", code="bad-setting")
    store = DynamoStore.from_env(env)
    # A run may last the sandbox function's whole Timeout: botocore's default 60 s read timeout
    # would cut it short and invoke it again.
    client = boto3.client("lambda", config=Config(read_timeout=INVOKE_READ_TIMEOUT_S, tcp_keepalive=True))
    sandbox = RemoteSandbox(lambda_invoker(client, function), depot=store,
                            root=Path(tempfile.gettempdir()) / "pve-staging")
    runtime = github_runtime(env, store, sandbox=sandbox)
    if env.get("PVE_CONSOLE_ENDPOINT"):  # the live console's readers, over API Gateway WebSockets
        from entrypoints.aws_web import broadcast

        runtime.services.live = broadcast(env, store)
    return Engine(runtime=runtime, sandbox=sandbox, jobs=store)


def _steps_engine() -> Any:
    global _engine
    if _engine is None:
        _engine = aws_engine(config.load())
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
