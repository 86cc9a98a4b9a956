"""The worker pool over the durable SQLite queue: each job once, crashes retried then failed
visibly, and a worker killed mid-job replaced by another that finishes it once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import store.backend as backend_mod
from statemachine.worker import WorkerPool
from store.base import MAX_ATTEMPTS
from store.sqlite import SQLiteStore

from ..conftest import ROOT


def _drive(pool: WorkerPool, until, timeout: float = 10.0) -> None:
    async def main():
        stop = asyncio.Event()
        task = asyncio.create_task(pool.run(stop))
        t0 = time.monotonic()
        while not until() and time.monotonic() - t0 < timeout:
            await asyncio.sleep(0.02)
        stop.set()
        await task
    asyncio.run(main())


def test_every_job_is_handled_once_by_a_pool(tmp_path):
    store = SQLiteStore(tmp_path)
    ids = [store.enqueue_delivery(f"g{i}", "issue_comment", "{}") for i in range(20)]
    seen: list[int] = []

    async def handle(job):
        await asyncio.sleep(0.01)
        seen.append(job.id)

    _drive(WorkerPool(store, handle, workers=3, poll_s=0.05), lambda: len(seen) >= 20)
    assert sorted(seen) == ids
    assert [j.status for j in store.jobs()] == ["done"] * 20


def test_a_wake_up_starts_a_job_before_the_next_poll(tmp_path):
    store = SQLiteStore(tmp_path)
    seen: list[float] = []

    async def handle(job):
        seen.append(time.monotonic())

    waiting = threading.Event()  # set when the worker found the queue empty: it now waits up to 30 s
    claim = store.claim_job

    def watched_claim(worker, lease_s):
        job = claim(worker, lease_s)
        if job is None:
            waiting.set()
        return job

    store.claim_job = watched_claim
    pool = WorkerPool(store, handle, workers=1, poll_s=30)

    async def main():
        stop = asyncio.Event()
        task = asyncio.create_task(pool.run(stop))
        assert await asyncio.to_thread(waiting.wait, 10), "the worker never looked at the queue"
        queued = time.monotonic()
        await asyncio.to_thread(store.enqueue_delivery, "g1", "ping", "{}")
        pool.wake()
        while not seen and time.monotonic() - queued < 5:
            await asyncio.sleep(0.01)
        stop.set()
        await task
        return seen[0] - queued

    assert asyncio.run(main()) < 1.0


def test_a_crashing_job_is_retried_with_backoff_then_fails_visibly(tmp_path, monkeypatch):
    monkeypatch.setattr(backend_mod, "backoff_s", lambda attempts: 0.01 * attempts)
    store = SQLiteStore(tmp_path)
    job_id = store.enqueue_delivery("g1", "issue_comment", "{}")
    calls: list[int] = []

    async def handle(job):
        calls.append(job.attempts)
        raise RuntimeError("GitHub said 502")

    _drive(WorkerPool(store, handle, workers=2, poll_s=0.02), lambda: store.get_job(job_id).status == "failed")
    job = store.get_job(job_id)
    assert job.status == "failed" and job.error == "RuntimeError: GitHub said 502"
    assert calls == list(range(1, MAX_ATTEMPTS + 1))


WORKER = textwrap.dedent("""
    import asyncio, sys
    sys.path.insert(0, {root!r})
    from statemachine.worker import WorkerPool
    from store.sqlite import SQLiteStore
    home, mode, log = sys.argv[1], sys.argv[2], sys.argv[3]

    async def handle(job):
        with open(log, "a") as f:
            f.write(f"{{mode}} {{job.id}} {{job.attempts}}\\n")
        if mode == "hang":
            await asyncio.sleep(3600)  # killed here, mid-job

    async def main():
        stop = asyncio.Event()
        await WorkerPool(SQLiteStore(__import__("pathlib").Path(home)), handle, workers=1, lease_s=1.0,
                         poll_s=0.05).run(stop)

    asyncio.run(main())
""")


def test_a_worker_killed_mid_job_is_replaced_and_the_job_completes_once(tmp_path):
    store = SQLiteStore(tmp_path / "home")
    job_id = store.enqueue_delivery("g1", "issue_comment", "{}")
    script, log = tmp_path / "worker.py", tmp_path / "log.txt"
    script.write_text(WORKER.format(root=str(ROOT)))
    first = subprocess.Popen([sys.executable, str(script), str(tmp_path / "home"), "hang", str(log)])
    try:
        t0 = time.monotonic()
        while not (log.exists() and log.read_text()) and time.monotonic() - t0 < 20:
            time.sleep(0.05)
        assert log.read_text() == f"hang {job_id} 1\n"
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    assert store.get_job(job_id).status == "running"  # leased by a dead worker
    second = subprocess.Popen([sys.executable, str(script), str(tmp_path / "home"), "work", str(log)])
    try:
        t0 = time.monotonic()
        while store.get_job(job_id).status != "done" and time.monotonic() - t0 < 20:
            time.sleep(0.05)
    finally:
        second.terminate()
        second.wait()
    job = store.get_job(job_id)  # a second run of a done job would have counted an attempt
    assert (job.status, job.attempts) == ("done", 2)
    assert log.read_text().splitlines() == [f"hang {job_id} 1", f"work {job_id} 2"]
