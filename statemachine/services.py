"""What a verification may use (``Services``): every dependency comes in here, so the CLI, the
webhook worker, a Lambda handler or a test can drive the same steps with real or local parts.
``entrypoints.bootstrap`` builds it from settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from brain.models.providers import BrainConfig
from pve.events import Event
from pve.settings import Settings
from sandbox.backend import SandboxBackend
from statemachine.proof.signing import ProofSigner
from store.base import Blobs, SessionLog, SolutionCache


class SessionStore(SessionLog, Blobs, SolutionCache, Protocol):
    """The roles a verification writes: its session and console, its proof and diff, the cache."""


Watcher = Callable[[Event], None]


class LiveConsole(Protocol):
    """Where a session's console goes as it happens when no process of ours holds the reader's
    connection (the AWS stack: API Gateway WebSockets, ``web/live.py``). ``pve serve`` streams
    from its own process and has none."""

    def post(self, session_id: str, event: Event) -> None: ...

    def done(self, session_id: str, status: str) -> None: ...


@dataclass
class Services:
    sandbox: SandboxBackend
    store: SessionStore
    signer: ProofSigner
    settings: Settings
    # who sees each session's console as it happens (the CLI, a check run); each verification
    # makes its own event stream from these, so nothing is shared between sessions
    watchers: tuple[Watcher, ...] = ()
    models: BrainConfig = field(default_factory=BrainConfig)  # no keys: the model brain is off
    live: LiveConsole | None = None
