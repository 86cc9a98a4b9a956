"""What one verification is asked (``VerifyRequest``) and what it may use (``Services``).

Every dependency comes in here, so the CLI, the webhook worker, a Lambda handler or a test can
drive the same steps with real or local parts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from brain.providers import BrainConfig
from pve.events import Fanout
from pve.settings import Settings
from sandbox.backend import SandboxBackend
from statemachine.proof import ProofSigner
from store.base import Store

BRAIN_MODES = ("offline", "models", "auto")


@dataclass
class VerifyRequest:
    path: Path
    error_log: bytes | None = None
    test: str | None = None
    cmd: str | None = None
    trigger: str = "cli"
    brain: str = "auto"  # offline | models | auto (offline engine first, models when it finds nothing)
    issue_text: str | None = None  # the issue or comment the request came from: untrusted data
    cache: bool = True  # try (and store) the last verified fix for the same error signature
    session_id: str | None = None  # given by a retried job, so its branch and comment are found again
    suite: list[str] | None = None  # pytest arguments for the regression suite (default: all tests)
    protected: tuple[str, ...] = ()  # globs of paths no fix may touch
    timeout_s: float | None = None  # wall clock per sandboxed run, if tighter than the sandbox's


@dataclass
class Services:
    sandbox: SandboxBackend
    store: Store
    signer: ProofSigner
    settings: Settings
    events: Fanout = field(default_factory=Fanout)
    models: BrainConfig = field(default_factory=BrainConfig)  # no keys: the model brain is off
