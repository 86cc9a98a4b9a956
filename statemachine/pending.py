"""The regression baseline while it is still running: the search does not wait for it.

Candidates run against the reproduction from the moment it has failed as reported; only a
candidate that passes the reproduction needs the baseline (to run the regression oracle
against), and it waits for it here. Once the baseline is in, every later candidate gets the
settled checks (a reproduction narrowed to its failing tests, the regression run and its
shards). A verdict is never given against an oracle that has not settled.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from pve.models import Checks, Reproduced

# What the baseline decides in Checks; everything else (declarations, a model's reproduction)
# stays as the caller has it.
_SETTLED_FIELDS = ("repro", "before", "baseline", "repro_spec", "regression_spec", "regression_shards", "oracle_note",
                   "others_failing")


class PendingOracle:
    def __init__(self, task: asyncio.Task[Reproduced], hurry: Callable[[], None] | None = None) -> None:
        self.task = task
        # The baseline runs as background work until someone waits for it: then at full speed.
        self._hurry = hurry or (lambda: None)

    def latest(self, checks: Checks) -> Checks:
        """``checks`` with the baseline's decisions when it has settled, else as they are."""
        if not self.task.done() or self.task.cancelled() or self.task.exception() is not None:
            return checks
        return _apply(checks, self.task.result())

    async def settled(self, checks: Checks) -> Checks:
        """Wait for the baseline (shielded: one candidate's cancellation does not stop it)."""
        if not self.task.done():
            self._hurry()
        return _apply(checks, await asyncio.shield(self.task))

    def done(self) -> bool:
        return self.task.done()

    async def result(self) -> Reproduced:
        if not self.task.done():
            self._hurry()
        return await asyncio.shield(self.task)

    async def cancel(self) -> None:
        if not self.task.done():
            self.task.cancel()
        with contextlib.suppress(BaseException):
            await self.task


def _apply(checks: Checks, final: Reproduced) -> Checks:
    if final.checks is None:
        return checks
    return checks.model_copy(update={name: getattr(final.checks, name) for name in _SETTLED_FIELDS})
