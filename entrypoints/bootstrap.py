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
from entrypoints.edge import make_store, proof_signer, webhook_edge
from pve.settings import GitHubAppSettings, Settings, env_int, env_number
from sandbox.backend import SandboxBackend
from sandbox.bwrap import BubblewrapSandbox
from statemachine.services import Services, Watcher
from store.base import Store
from store.sqlite import SQLiteStore

if TYPE_CHECKING:
    from fastapi import FastAPI

    from statemachine.github.runtime import AppRuntime
    from statemachine.worker import WorkerPool

__all__ = ["GitHubService", "Services", "github_runtime", "github_service", "make_store", "proof_signer",
           "sandbox_libraries", "services", "webhook_edge"]


def services(settings: Settings, *, models: BrainConfig | None = None, watchers: Iterable[Watcher] = (),
             store: Store | None = None, sandbox: SandboxBackend | None = None,
             env: Mapping[str, str] | None = None) -> Services:
    """What one verification uses: a bubblewrap sandbox with ``settings.slots`` slots, the
    SQLite store and proof key under ``settings.home``, and the model chain (off without keys)."""
    return Services(sandbox=sandbox or BubblewrapSandbox(settings.sandbox, slots=settings.slots),
                    store=store or SQLiteStore(settings.home), signer=proof_signer(settings, env or {}),
                    settings=settings, watchers=tuple(watchers), models=models or BrainConfig())


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
