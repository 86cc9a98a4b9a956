"""The conversation one trigger owns on GitHub: its comment and (once verifying) its check run.

Used as an async context manager: if the job's last attempt crashes, the comment and the check
run say so before the error goes on to the worker (never stuck at "verifying").
"""

from __future__ import annotations

import contextlib
from types import TracebackType

from bot import render
from bot.github import GitHubError, RepoAPI
from bot.publish import CheckRun, Reply


class Conversation:
    def __init__(self, api: RepoAPI, number: int, key: str, bot_login: str, *, last_attempt: bool) -> None:
        self.api = api
        self.key = key
        self.reply = Reply(api, number, key, bot_login)
        self.check: CheckRun | None = None
        self.last_attempt = last_attempt

    async def say(self, text: str) -> None:
        await self.reply.say(text)

    async def open_check(self, sha: str, details_url: str | None) -> CheckRun:
        self.check = CheckRun(self.api, sha, self.key)
        await self.check.start(details_url)
        return self.check

    async def __aenter__(self) -> Conversation:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if exc is None or not isinstance(exc, Exception) or not self.last_attempt:
            return
        # GitHub's own answer is safe to quote; any other error's text may hold host details.
        said = f"{type(exc).__name__}: {exc}" if isinstance(exc, GitHubError) else type(exc).__name__
        with contextlib.suppress(Exception):  # best effort: GitHub itself may be what failed
            await self.reply.say(render.gave_up(said))
        if self.check is not None and self.check.id is not None:
            with contextlib.suppress(Exception):
                await self.check.finish("neutral", {"title": "PVE failed", "summary": render.gave_up(type(exc).__name__)})
