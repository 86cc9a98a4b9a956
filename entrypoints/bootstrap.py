"""Build the runtime from settings: the one place that picks the real parts (bubblewrap,
SQLite, the proof key, the model providers, githubkit) and hands them to the steps.

Every way PVE runs goes through here: ``pve verify`` (``services``), ``pve serve``
(``github_service``), the Lambda webhook (``webhook_edge``) and the tests.

The GitHub and web parts are imported inside the functions that build them: ``pve verify``
starts a new process per verification, and FastAPI and githubkit would add about half a
second to each (``benchmarks/run.py`` measures PVE's own overhead).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from brain.models.providers import BrainConfig
from pve.settings import GitHubAppSettings, Settings, env_int, env_number
from sandbox.backend import SandboxBackend
from sandbox.bwrap import BubblewrapSandbox
from statemachine.proof.signing import ProofSigner
from statemachine.services import Services, Watcher
from store.base import Store
from store.sqlite import SQLiteStore

if TYPE_CHECKING:
    from fastapi import FastAPI

    from statemachine.github.runtime import AppRuntime
    from statemachine.stepfunctions.steps import Engine
    from statemachine.worker import WorkerPool

__all__ = ["GitHubService", "Services", "aws_engine", "github_runtime", "github_service", "make_store", "proof_signer",
           "sandbox_libraries", "services", "webhook_edge"]


def make_store(env: Mapping[str, str]) -> Store:
    """SQLite under ``PVE_HOME``; DynamoDB (``PVE_TABLE``) and S3 (``PVE_BUCKET``) when the
    table is named, as the AWS stack does: one store every instance of every function shares."""
    if env.get("PVE_TABLE"):
        from pve.errors import BadInput
        from store.dynamo import DynamoStore

        if not env.get("PVE_BUCKET"):
            raise BadInput("PVE_TABLE is set but PVE_BUCKET is not: the DynamoDB store keeps proofs and large "
                           "items in S3", code="bad-setting")
        return DynamoStore.from_env(env)
    return SQLiteStore(Settings.from_config(env).home)


def services(settings: Settings, *, models: BrainConfig | None = None, watchers: Iterable[Watcher] = (),
             store: Store | None = None, sandbox: SandboxBackend | None = None,
             env: Mapping[str, str] | None = None) -> Services:
    """What one verification uses: a bubblewrap sandbox with ``settings.slots`` slots, the
    SQLite store and proof key under ``settings.home``, and the model chain (off without keys)."""
    return Services(sandbox=sandbox or BubblewrapSandbox(settings.sandbox, slots=settings.slots),
                    store=store or SQLiteStore(settings.home), signer=proof_signer(settings, env or {}),
                    settings=settings, watchers=tuple(watchers), models=models or BrainConfig())


def proof_signer(settings: Settings, env: Mapping[str, str]) -> ProofSigner:
    """The proof key under ``settings.home``; with ``PVE_PROOF_KEY`` (an Ed25519 private key in
    PEM, from Secrets Manager on AWS), that key: every function instance signs with the one
    key whose public half people check proofs against, not a key of its own."""
    signer = ProofSigner(settings.home)
    pem = env.get("PVE_PROOF_KEY")
    if pem and not signer.key_path.exists():
        signer.install(pem.encode())
    return signer


@dataclass
class GitHubService:
    """``pve serve``: the web app (webhook edge and permalinks), the worker pool, and what its jobs use."""

    web: FastAPI
    pool: WorkerPool
    runtime: AppRuntime


def github_runtime(env: Mapping[str, str], store: Store | None = None,
                   sandbox: SandboxBackend | None = None) -> AppRuntime:
    """What the GitHub jobs use, from one merged configuration (``pve.config.load``). A missing
    or invalid setting raises ``BadInput`` with one clear line."""
    from bot.github import GitHubApp
    from statemachine.github.runtime import AppRuntime

    github = GitHubAppSettings.from_config(env)
    settings = Settings.from_config(env)
    return AppRuntime(
        app=GitHubApp(github), services=services(settings, models=BrainConfig.from_env(dict(env)), store=store,
                                                 sandbox=sandbox, env=env),
        secret=github.webhook_secret, public_url=(env.get("PVE_PUBLIC_URL") or "").rstrip("/") or None,
        daily_credits=env_int(env, "PVE_DAILY_VERIFICATIONS", 50, 0, 1_000_000),
        progress_every_s=env_number(env, "PVE_PROGRESS_SECONDS", 5.0, 0.05, 600))


def github_service(env: Mapping[str, str]) -> GitHubService:
    """Everything ``pve serve`` runs: the pool works the queue the webhook edge fills, and the
    same app serves the permalinks the App posts."""
    from statemachine.github.dispatch import handle
    from statemachine.runner import verify
    from statemachine.worker import WorkerPool
    from web import auth, site
    from webhooks.app import create_app

    store = make_store(env)  # one store plays every role: queue, sessions, quotas
    runtime = github_runtime(env, store)
    pool = WorkerPool(store, lambda job: handle(job, runtime), workers=env_int(env, "PVE_WORKERS", 2, 1, 32),
                      lease_s=float(env_int(env, "PVE_JOB_LEASE_SECONDS", 900, 5, 86_400)))
    web = create_app(runtime.secret, store, on_queued=lambda _job, _delivery: pool.wake())
    # The pages; sign-in with the App's OAuth client, cookies keyed from the webhook secret.
    settings = runtime.services.settings
    site.mount(web, store, secret=runtime.secret, oauth=auth.OAuthApp.from_config(env, runtime.app.settings.api_url),
               daily_credits=runtime.daily_credits,
               playground=site.PlaygroundSetup(
                   home=settings.home, libraries=sandbox_libraries(settings.sandbox.python),
                   verify=lambda req: verify(req, runtime.services),
                   per_hour=env_int(env, "PVE_PLAYGROUND_PER_HOUR", 20, 0, 100_000)),
               proof_keys=runtime.services.signer.published)
    return GitHubService(web=web, pool=pool, runtime=runtime)


def sandbox_libraries(python: str | None) -> Callable[[list[str]], list[dict[str, Any]]]:
    """What a sandboxed snippet can import, for the playground's badges: the standard library of
    the sandbox's interpreter (found once, on first use) and the runtime's distributions."""
    from dataclasses import asdict
    from functools import cache

    from sandbox.runtime import find_interpreter, provided_libraries

    interpreter = cache(lambda: find_interpreter(python))
    return lambda modules: [asdict(lib) for lib in provided_libraries(modules, interpreter())]


def webhook_edge(env: Mapping[str, str], sfn: Any = None, store: Store | None = None) -> FastAPI:
    """The webhook app alone (signature, dedup, queue), as the Lambda handler serves it. With
    ``PVE_STATE_MACHINE`` (the AWS stack sets it), each queued job starts its execution, named
    for the delivery: a delivery GitHub sends again cannot start a second one."""
    from webhooks.app import create_app

    github = GitHubAppSettings.from_config(env)
    machine = env.get("PVE_STATE_MACHINE")
    on_queued = None
    if machine:
        import json
        import re

        import boto3

        client = sfn or boto3.client("stepfunctions")

        def on_queued(job: int, delivery: str) -> None:
            name = re.sub(r"[^A-Za-z0-9_-]", "-", delivery)[:80] or f"job-{job}"
            client.start_execution(stateMachineArn=machine, name=name, input=json.dumps({"job": job}))
    return create_app(github.webhook_secret, store or make_store(env), on_queued=on_queued)


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
