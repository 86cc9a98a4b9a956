"""What every GitHub job may use, built once (``entrypoints.bootstrap.github_runtime``)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol, cast

from bot.github import GitHubApp
from pve.models import Session, VerifyRequest
from pve.settings import Settings
from statemachine.runner import verify
from statemachine.services import Services
from store.base import Blobs, Quotas, SessionLog, Triggers


class GitHubStore(Quotas, Triggers, SessionLog, Blobs, Protocol):
    """The roles the GitHub jobs use: quotas, what each trigger produced, sessions and proofs."""


@dataclass
class AppRuntime:
    app: GitHubApp
    services: Services  # what each verification uses (sandbox, store, signer, settings, models)
    secret: bytes  # the webhook secret: keys session ids, so they are unguessable but stable per delivery
    bot_login: str | None = None  # "<app slug>[bot]": how PVE recognises its own comments (asked on first use)
    public_url: str | None = None  # where permalinks point (the web view); None: no links
    daily_credits: int = 50
    progress_every_s: float = 5.0  # live console updates of the check run (content-creating limit: 80/min)
    # How a verification runs: here, in this process (the local runner); on AWS, the Step
    # Functions engine's replay verifier (statemachine/stepfunctions/replay.py).
    verify: Callable[[VerifyRequest, Services], Awaitable[Session]] = field(default=verify)

    @property
    def store(self) -> GitHubStore:
        # bootstrap gives one store that plays every role (SQLiteStore, or DynamoDB + S3 later)
        return cast(GitHubStore, self.services.store)

    @property
    def settings(self) -> Settings:
        return self.services.settings

    async def me(self) -> str:
        if self.bot_login is None:
            self.bot_login = await self.app.bot_login()
        return self.bot_login

    def link(self, session_id: str) -> str | None:
        return f"{self.public_url.rstrip('/')}/s/{session_id}" if self.public_url else None

    def session_id(self, delivery: str, n: int = 0) -> str:
        """The session id of a delivery's ``n``-th verification: the same on every retry."""
        return hmac.new(self.secret, f"{delivery}:{n}".encode(), hashlib.sha256).hexdigest()[:32]
