"""``pve serve``: the webhook endpoint and the worker pool in one process (the embedded default).

Start-up reads the configuration once and stops with one clear line if a setting is missing or
invalid (``BadInput``), before anything listens. The webhook app answers 202 from SQLite; the
pool, in the same event loop, is woken for each queued job and runs it with the real handlers.
A stop signal ends intake first, then lets running jobs finish for ``drain_s`` seconds; a job
still running then keeps its lease and is taken over by the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from fastapi import FastAPI

from bot.github import GitHubApp
from brain.providers import BrainConfig
from pve.settings import GitHubAppSettings, Settings, env_int
from sandbox.bwrap import BubblewrapSandbox
from statemachine.github_flow import AppRuntime, handle
from statemachine.proof import ProofSigner
from statemachine.worker import WorkerPool
from store.sqlite import SQLiteStore
from webhooks.app import create_app

log = logging.getLogger("pve.serve")


@dataclass
class Service:
    web: FastAPI
    pool: WorkerPool
    runtime: AppRuntime


def build(env: Mapping[str, str]) -> Service:
    """Everything ``pve serve`` runs, from one merged configuration (``pve.config.load``)."""
    github = GitHubAppSettings.from_config(env)
    settings = Settings.from_config(env)
    public_url = (env.get("PVE_PUBLIC_URL") or "").rstrip("/") or None
    store = SQLiteStore(settings.home)
    runtime = AppRuntime(
        app=GitHubApp(github), store=store, settings=settings,
        sandbox=BubblewrapSandbox(settings.sandbox, slots=settings.slots), signer=ProofSigner(settings.home),
        secret=github.webhook_secret, models=BrainConfig.from_env(dict(env)), public_url=public_url,
        daily_credits=env_int(env, "PVE_DAILY_VERIFICATIONS", 50, 0, 1_000_000))
    pool = WorkerPool(store, lambda job: handle(job, runtime), workers=env_int(env, "PVE_WORKERS", 2, 1, 32),
                      lease_s=float(env_int(env, "PVE_JOB_LEASE_SECONDS", 900, 5, 86_400)))
    web = create_app(github.webhook_secret, store, on_queued=lambda _job: pool.wake())
    return Service(web=web, pool=pool, runtime=runtime)


async def serve(service: Service, host: str, port: int, *, drain_s: float = 30.0) -> None:
    import uvicorn

    config = uvicorn.Config(service.web, host=host, port=port, lifespan="off", log_level="info",
                            http="httptools", access_log=False)
    server = uvicorn.Server(config)
    stop = asyncio.Event()
    workers = asyncio.create_task(service.pool.run(stop))
    try:
        await server.serve()  # returns on SIGINT / SIGTERM
    finally:
        stop.set()
        try:
            await asyncio.wait_for(asyncio.shield(workers), timeout=drain_s)
        except TimeoutError:
            log.warning("stopping with jobs still running; the next start takes them over")
            workers.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await workers
