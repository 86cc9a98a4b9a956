"""``pve serve``: the web app and the worker pool in one event loop (the embedded default).

The webhook app answers 202 from SQLite; the pool, in the same event loop, is woken for each
queued job and runs it. A stop signal ends intake first, then lets running jobs finish for
``drain_s`` seconds; a job still running then keeps its lease and is taken over by the next start.
(``entrypoints.bootstrap.github_service`` builds both from the configuration.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import uvicorn
from fastapi import FastAPI

from statemachine.worker import WorkerPool

log = logging.getLogger("pve.serve")


async def serve(web: FastAPI, pool: WorkerPool, host: str, port: int, *, drain_s: float = 30.0,
                forwarded_allow_ips: str = "") -> None:
    """``forwarded_allow_ips``: the proxies whose ``X-Forwarded-For`` names the client (the
    playground's limits are per client). None by default: uvicorn's own default trusts
    127.0.0.1, so anything on the host could claim to be any client."""
    config = uvicorn.Config(web, host=host, port=port, lifespan="off", log_level="info",
                            http="httptools", access_log=False, proxy_headers=bool(forwarded_allow_ips),
                            forwarded_allow_ips=forwarded_allow_ips or None)
    server = uvicorn.Server(config)
    stop = asyncio.Event()
    workers = asyncio.create_task(pool.run(stop))
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
