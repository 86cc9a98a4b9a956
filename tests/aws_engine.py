"""The AWS engine in one process: moto's server on localhost (real HTTP for every AWS call, so
presigned URLs work as on AWS), the real ASL executed by moto's Step Functions interpreter, and
the real Lambda handlers behind its invokes (``entrypoints.aws_steps``, ``aws_lambda_sandbox``), the sandbox function
running candidates in bubblewrap (its Lambda backend refuses to run outside Lambda).

moto has no hook for running a function's code without Docker: with ``use_docker`` off, an
invoke lands in ``LambdaSimpleBackend.invoke`` (moto 5.2.5, pinned), which this replaces with a
call of the handler the function's name maps to (PLATFORM.md). A handler's exception becomes a
function error (``x-amz-function-error``), as Lambda reports it; ``faults`` makes an invoke fail
as the Lambda *service* does (``TooManyRequestsException``), before the handler runs.
"""

from __future__ import annotations

import contextlib
import io
import json
import queue
import socket
import threading
import time
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from entrypoints import aws_lambda_sandbox, aws_steps
from sandbox.bwrap import BubblewrapSandbox
from store.dynamo import table_definition
from tests.aws import serialised_dynamodb

ROOT = Path(__file__).resolve().parent.parent
ASL = ROOT / "statemachine" / "verify.asl.json"
REGION = "us-east-1"
BUCKET = "pve-engine-test"
FUNCTIONS = ("controller", "validate", "notifier", "sandbox")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def moto_server(monkeypatch: Any) -> Iterator[str]:
    """moto's server on a free port, executing state machines; every boto3 client points at it."""
    from moto.core.config import default_user_config
    from moto.server import ThreadedMotoServer

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    for name, value in {"MOTO_PORT": str(port), "AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.setitem(default_user_config, "stepfunctions", {"execute_state_machine": True})
    monkeypatch.setitem(default_user_config, "lambda", {"use_docker": False})
    # Retry waits really sleep in moto's interpreter: a second at most here.
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    real_sleep = time.sleep
    monkeypatch.setattr(retrier_decl, "time", type("T", (), {"sleep": staticmethod(lambda s: real_sleep(min(s, 0.05)))}))
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    # moto's backends are global to the process: each test starts from an empty account.
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=10).close()
    try:
        with serialised_dynamodb():
            yield url
    finally:
        server.stop()


@dataclass
class Engine:
    """The deployed stack's pieces, created through the AWS APIs as SAM would."""

    env: dict[str, str]
    machine: str
    sfn: Any
    calls: list[tuple[str, str]] = field(default_factory=list)  # (function, step)
    faults: dict[str, list[str]] = field(default_factory=dict)  # function -> service errors to raise, in turn
    broken: dict[str, Callable[[dict[str, Any]], None]] = field(default_factory=dict)  # function -> raise in handler
    steps: Any = None  # the steps' Engine (runtime, remote sandbox, jobs)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def execute(self, job: int, name: str, timeout_s: float = 240) -> dict[str, Any]:
        arn = self.sfn.start_execution(stateMachineArn=self.machine, name=name, input=json.dumps({"job": job}))["executionArn"]
        return self.wait(arn, timeout_s)

    def wait(self, arn: str, timeout_s: float = 240) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while (d := self.sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
            if time.monotonic() > deadline:
                raise AssertionError(f"execution {arn} still running after {timeout_s} s")
            time.sleep(0.1)
        return dict(d)

    def history(self, arn: str) -> list[dict[str, Any]]:
        events, token = [], None
        while True:
            page = self.sfn.get_execution_history(executionArn=arn, maxResults=1000, **({"nextToken": token} if token else {}))
            events += page["events"]
            token = page.get("nextToken")
            if not token:
                return events


@contextlib.contextmanager
def deployed(monkeypatch: Any, env: dict[str, str], sandboxes: int = 3, bot_login: str | None = None) -> Iterator[Engine]:
    """Table, bucket, the four functions, the state machine; the handlers wired to the invokes.

    Like Lambda, each function instance serves one invocation at a time and is reused: a pool of
    step engines (``aws_steps.aws_engine``), one taken per invocation (their GitHub clients are
    bound to the event loop of the invocation that uses them)."""
    from moto.awslambda_simple import models as lambda_models
    from moto.core.exceptions import JsonRESTError

    with moto_server(monkeypatch) as url:
        # "{moto}" in a setting: this server (the live console's management endpoint, for one).
        env = {k: v.replace("{moto}", url) for k, v in env.items()}
        boto3.client("dynamodb").create_table(**table_definition())
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        role = boto3.client("iam").create_role(RoleName="pve-step", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as z:
            z.writestr("placeholder.py", "# moto stores code it never runs here; the handlers run in the test\n")
        lam = boto3.client("lambda")
        arns = {f: lam.create_function(FunctionName=f"pve-{f}", Runtime="python3.12", Role=role, Handler="x.handler",
                                       Code={"ZipFile": code.getvalue()})["FunctionArn"] for f in FUNCTIONS}
        definition = ASL.read_text()
        for key, f in (("ControllerFunctionArn", "controller"), ("ValidateFunctionArn", "validate"),
                       ("NotifierFunctionArn", "notifier")):
            definition = definition.replace("${%s}" % key, arns[f])
        sfn = boto3.client("stepfunctions")
        machine = sfn.create_state_machine(name="pve-verify", definition=definition, roleArn=role,
                                           type="STANDARD")["stateMachineArn"]
        full_env = {**env, "PVE_TABLE": table_definition()["TableName"], "PVE_BUCKET": BUCKET,
                    "PVE_SANDBOX_FUNCTION": arns["sandbox"], "PVE_STATE_MACHINE": machine}
        for k, v in full_env.items():
            monkeypatch.setenv(k, v)
        engine = Engine(env=full_env, machine=machine, sfn=sfn)
        instances: queue.Queue[Any] = queue.Queue()

        def new_instance() -> Any:
            built = aws_steps.aws_engine(full_env)
            built.runtime.bot_login = bot_login  # saves asking the local GitHub
            return built

        engine.steps = new_instance()
        instances.put(engine.steps)

        def step(handler: Callable[..., dict[str, Any]]) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
            def run(event: dict[str, Any], context: Any) -> dict[str, Any]:
                try:
                    instance = instances.get_nowait()
                except queue.Empty:
                    instance = new_instance()  # a cold start
                try:
                    return handler(event, context, engine=instance)
                finally:
                    instances.put(instance)
            return run
        # One bubblewrap backend per concurrent sandbox invocation, as each Lambda instance
        # serves one invocation at a time.
        pool: queue.Queue[BubblewrapSandbox] = queue.Queue()
        for _ in range(sandboxes):
            pool.put(BubblewrapSandbox(slots=1))

        def sandbox(event: dict[str, Any], context: Any) -> dict[str, Any]:
            backend = pool.get()
            try:
                return aws_lambda_sandbox.handler(event, context, backend)
            finally:
                pool.put(backend)

        handlers: dict[str, Callable[[dict[str, Any], Any], dict[str, Any]]] = {
            "controller": step(aws_steps.controller),
            "validate": step(aws_steps.validate),
            "notifier": step(aws_steps.notifier),
            "sandbox": sandbox,
        }

        def invoke(self: Any, function_name: str, qualifier: Any, body: Any, headers: Any, response_headers: Any) -> bytes:
            name = function_name.split(":")[6] if function_name.startswith("arn:") else function_name
            function = name.removeprefix("pve-")
            event = json.loads(body or b"{}")
            with engine._lock:
                engine.calls.append((function, str(event.get("step", "describe" if event.get("describe") else "run"))))
                fault = engine.faults.get(function, []).pop(0) if engine.faults.get(function) else None
            if fault:
                raise JsonRESTError(fault, f"injected: {fault}", code=429 if "TooMany" in fault else 500)
            try:
                if function in engine.broken:
                    engine.broken[function](event)
                return json.dumps(handlers[function](event, None)).encode()
            except Exception as exc:
                response_headers["x-amz-function-error"] = "Unhandled"
                return json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)}).encode()

        original = lambda_models.LambdaSimpleBackend.invoke
        lambda_models.LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign]
        try:
            yield engine
        finally:
            lambda_models.LambdaSimpleBackend.invoke = original  # type: ignore[method-assign]


def api_gateway_event(body: bytes, headers: dict[str, str], *, method: str = "POST",
                      path: str = "/webhooks/github", query: str = "") -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event, ``POST /webhooks/github`` unless told."""
    route = "POST /webhooks/github" if (method, path) == ("POST", "/webhooks/github") else "ANY /{proxy+}"
    return {
        "version": "2.0", "routeKey": route, "rawPath": path, "rawQueryString": query,
        "headers": {k.lower(): v for k, v in headers.items()},
        "requestContext": {"accountId": "123456789012", "apiId": "pve", "domainName": "pve.example.com",
                           "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                                    "sourceIp": "140.82.115.1", "userAgent": "GitHub-Hookshot/1"},
                           "requestId": "r1", "routeKey": route, "stage": "$default",
                           "time": "04/Dec/2026:05:00:00 +0000", "timeEpoch": 1796360400000},
        "body": body.decode(), "isBase64Encoded": False,
    }


def websocket_event(route: str, connection_id: str, *, query: dict[str, str] | None = None,
                    body: str | None = None) -> dict[str, Any]:
    """An API Gateway WebSocket API event for the console function, as API Gateway sends it:
    ``$connect`` with the query string, ``$default`` with the client's message."""
    context = {"routeKey": route, "eventType": {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route, "MESSAGE"),
               "connectionId": connection_id, "apiId": "pveconsole", "stage": "live",
               "domainName": "pveconsole.execute-api.us-east-1.amazonaws.com", "requestId": "w1",
               "connectedAt": 1796360400000, "requestTimeEpoch": 1796360400000,
               "identity": {"sourceIp": "203.0.113.7", "userAgent": "Mozilla/5.0"}, "messageDirection": "IN"}
    event: dict[str, Any] = {"requestContext": context, "isBase64Encoded": False}
    if route == "$connect":
        event["headers"] = {"Host": context["domainName"], "Sec-WebSocket-Version": "13"}
        event["queryStringParameters"] = query or {}
    if body is not None:
        event["body"] = body
    return event


