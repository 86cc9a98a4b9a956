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
