"""The app was installed on an account, or removed: the installation's profile and daily budget."""

from __future__ import annotations

import logging

from bot.triggers import InstallationChange
from statemachine.github.runtime import AppRuntime

log = logging.getLogger("pve.app")


async def on_installation(rt: AppRuntime, change: InstallationChange, delivery: str, *, last_attempt: bool) -> None:
    if change.installation is None:
        log.info("installation %s without an id", change.action)
    elif change.action == "created":
        rt.store.put_installation(change.installation, change.account, rt.daily_credits)
    elif change.action == "deleted":
        rt.store.retire_installation(change.installation)
