"""One queued delivery in, its trigger's handler run.

The delivery is parsed by the one routing table (``bot.triggers.ROUTES``, which intake reads
too) into a typed trigger; ``HANDLERS`` names the module that handles each kind. A job may run
more than once (a crash, a killed worker): session ids derive from the delivery, and every write
finds what an earlier attempt wrote, so a retry adds nothing twice. On the last attempt a crash is
also told to the user (``Conversation``) before the worker marks the job failed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot.triggers import (
    CheckRunButton,
    CommentCommand,
    FailedWorkflowRun,
    InstallationChange,
    PullRequestChange,
    parse,
)
from statemachine.github.buttons import on_button
from statemachine.github.comment import on_comment
from statemachine.github.installation import on_installation
from statemachine.github.pull_request import on_pull_request
from statemachine.github.runtime import AppRuntime
from statemachine.github.workflow_run import on_workflow_run
from store.base import MAX_ATTEMPTS, Job

log = logging.getLogger("pve.app")

# trigger kind -> handler(runtime, trigger, delivery id, last_attempt=...)
HANDLERS: dict[type, Callable[..., Awaitable[None]]] = {
    CommentCommand: on_comment,
    FailedWorkflowRun: on_workflow_run,
    CheckRunButton: on_button,
    InstallationChange: on_installation,
    PullRequestChange: on_pull_request,
}


async def handle(job: Job, rt: AppRuntime) -> None:
    trigger: Any = parse(job.event, json.loads(job.payload))
    if isinstance(trigger, str):
        log.info("job %s: %s", job.id, trigger)
        return
    if isinstance(trigger, CommentCommand | FailedWorkflowRun | PullRequestChange) and trigger.repo.installation is None:
        log.info("job %s: %s not from an installation of the app", job.id, job.event)
        return
    await HANDLERS[type(trigger)](rt, trigger, job.delivery, last_attempt=job.attempts >= MAX_ATTEMPTS)
