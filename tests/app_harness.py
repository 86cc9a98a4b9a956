"""The GitHub App, end to end in one process: signed deliveries into the real webhook app, jobs
through the durable queue into the real handlers, real bubblewrap sandboxes, and githubkit talking
to the local GitHub server (``tests/github_api.py``), which checks every request against GitHub's
REST description."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from entrypoints import bootstrap
from statemachine.github.dispatch import handle
from statemachine.github.runtime import AppRuntime
from store.sqlite import SQLiteStore
from tests.github_api import GitHubAPI
from webhooks.signature import sign

APP_ID = 4242
INSTALLATION = 77
SECRET = b"webhook-secret-for-tests"
ROOT = Path(__file__).resolve().parent.parent


def files_of(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): p.read_text() for p in sorted(folder.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".log"}


@pytest.fixture(scope="session")
def app_key() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    pub = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return pem, pub


@pytest.fixture
def github(app_key):
    """The local GitHub. Any request GitHub's REST description rejects fails the test."""
    with GitHubAPI(APP_ID, app_key[1]) as api:
        yield api
        assert api.violations == []


@dataclass
class Harness:
    github: GitHubAPI
    store: SQLiteStore
    runtime: AppRuntime
    web: Any

    async def deliver(self, event: str, payload: dict[str, Any], delivery: str | None = None) -> httpx.Response:
        raw = json.dumps(payload).encode()
        headers = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
                   "Content-Type": "application/json", "X-Hub-Signature-256": sign(SECRET, raw)}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=self.web), base_url="http://pve") as client:
            return await client.post("/webhooks/github", content=raw, headers=headers)

    async def drain(self, *, crashes_ok: bool = False) -> list[str]:
        """Run queued jobs until none is left (retries at once, without the backoff); the statuses
        they ended in. A crash fails the test unless ``crashes_ok``."""
        statuses = []
        while (job := await asyncio.to_thread(self.store.claim_job, "test-worker", 600)) is not None:
            error = None
            try:
                await handle(job, self.runtime)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
            statuses.append(self.store.finish_job(job.id, error))
            if error and not crashes_ok:
                raise AssertionError(f"job {job.id} ({job.event}) crashed: {error}")
            self.store._conn().execute("UPDATE jobs SET run_after = 0 WHERE status = 'queued'")
        return statuses

    def run(self, event: str, payload: dict[str, Any], delivery: str | None = None, *,
            crashes_ok: bool = False) -> list[str]:
        """Deliver, then work the queue empty (each test runs its own event loop); job statuses."""
        async def go() -> list[str]:
            response = await self.deliver(event, payload, delivery)
            assert response.status_code in (200, 202), response.text
            return await self.drain(crashes_ok=crashes_ok)
        return asyncio.run(go())


def app_env(home: Path, github: GitHubAPI, pem: str, **more: str) -> dict[str, str]:
    """The settings ``pve serve`` would read, pointing at the local GitHub."""
    return {"PVE_HOME": str(home), "PVE_SLOTS": "2", "PVE_GITHUB_APP_ID": str(APP_ID), "PVE_GITHUB_PRIVATE_KEY": pem,
            "PVE_GITHUB_WEBHOOK_SECRET": SECRET.decode(), "PVE_GITHUB_API_URL": github.url,
            "PVE_PUBLIC_URL": "https://pve.example.com", **more}


@pytest.fixture
def harness(tmp_path, github, app_key) -> Harness:
    """The runtime ``pve serve`` builds (``entrypoints.bootstrap``), with live progress every 0.2 s."""
    service = bootstrap.github_service(app_env(tmp_path / "pve-home", github, app_key[0], PVE_PROGRESS_SECONDS="0.2"))
    service.runtime.bot_login = f"{github.slug}[bot]"  # saves asking the local GitHub
    return Harness(github, service.runtime.store, service.runtime, service.web)


def for_repo(payload: dict[str, Any], full_name: str, installation: int = INSTALLATION) -> dict[str, Any]:
    """Point a real example payload at a repository of the local GitHub (an app's deliveries
    always name the installation)."""
    owner, name = full_name.split("/")
    payload["repository"].update(full_name=full_name, name=name, default_branch="main")
    payload["repository"]["owner"]["login"] = owner
    payload["installation"] = {"id": installation, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNzc="}
    return payload
