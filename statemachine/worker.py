"""The local runner's worker pool: jobs from the durable queue (``store``), a few at a time.

A job is leased when claimed. If its handler raises, the job goes back to the queue with a
backoff and, after ``MAX_ATTEMPTS``, stays ``failed`` with the error, where the operator sees it.
If the whole process dies mid-job, the lease runs out and another worker (or the restarted
one) takes the job over: work is at least once, so handlers must be idempotent on GitHub's side
(they find and edit their own comment, branch and PR instead of creating new ones).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable

from store.base import Job, JobQueue

log = logging.getLogger("pve.worker")
Handler = Callable[[Job], Awaitable[None]]


class WorkerPool:
    def __init__(self, store: JobQueue, handle: Handler, *, workers: int = 2, lease_s: float = 900.0,
                 poll_s: float = 2.0, name: str | None = None) -> None:
        self.store = store
        self.handle = handle
        self.workers = workers
        self.lease_s = lease_s  # longer than any verification: a live worker never loses its job
        self.poll_s = poll_s  # the fallback when a wake-up is missed (or comes from another process)
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    def wake(self) -> None:
        """A job was queued: look now rather than at the next poll. Safe from any thread."""
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def run(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        released = await asyncio.to_thread(self.store.release_jobs, _dead_local_worker)
        if released:
            log.info("took over job(s) %s from a worker process that is gone", released)
        await asyncio.gather(*(self._worker(f"{self.name}/{i}", stop) for i in range(self.workers)))

    async def _worker(self, worker: str, stop: asyncio.Event) -> None:
        assert self._wake is not None
        while not stop.is_set():
            self._wake.clear()
            job = await asyncio.to_thread(self.store.claim_job, worker, self.lease_s)
            if job is None:
                await _first(stop, self._wake, timeout=self.poll_s)
                continue
            error = None
            try:
                await self.handle(job)
            except Exception as exc:  # a crashing job must not take the worker down
                error = f"{type(exc).__name__}: {exc}"[:2000]
                log.exception("job %s (%s, delivery %s) crashed", job.id, job.event, job.delivery)
            status = await asyncio.to_thread(self.store.finish_job, job.id, error)
            log.info("job %s (%s, delivery %s, attempt %s): %s", job.id, job.event, job.delivery, job.attempts, status)


def _dead_local_worker(worker: str) -> bool:
    """Is ``worker`` ("host:pid/n") a process on this machine that no longer runs?"""
    host, _, rest = worker.partition(":")
    pid = rest.split("/")[0]
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return False


async def _first(*events: asyncio.Event, timeout: float) -> None:
    waits = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await w
