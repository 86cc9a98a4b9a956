"""One queued delivery in, its trigger's handler run: the routing table is ``bot.triggers.ROUTES``.

A job may run more than once (a crash, a killed worker): session ids derive from the delivery,
and every write finds what an earlier attempt wrote, so a retry adds nothing twice. On the last
attempt a crash is also told to the user (``Conversation``) before the worker marks it failed.
"""

from __future__ import annotations

import json
import logging

from bot.triggers import (
    CheckRunButton,
    CommentCommand,
    FailedWorkflowRun,
    InstallationChange,
    parse,
)
from statemachine.github.buttons import on_button
from statemachine.github.comment import on_comment
from statemachine.github.installation import on_installation
from statemachine.github.runtime import AppRuntime
from statemachine.github.workflow_run import on_workflow_run
from store.base import MAX_ATTEMPTS, Job

log = logging.getLogger("pve.app")


async def handle(job: Job, rt: AppRuntime) -> None:
    trigger = parse(job.event, json.loads(job.payload))
    last = job.attempts >= MAX_ATTEMPTS
    if isinstance(trigger, str):
        log.info("job %s: %s", job.id, trigger)
    elif isinstance(trigger, CommentCommand):
        await on_comment(rt, trigger, job.delivery, last_attempt=last)
    elif isinstance(trigger, FailedWorkflowRun):
        await on_workflow_run(rt, trigger, job.delivery, last_attempt=last)
    elif isinstance(trigger, CheckRunButton):
        await on_button(rt, trigger, job.delivery, last_attempt=last)
    elif isinstance(trigger, InstallationChange):
        on_installation(rt, trigger)
