"""The buttons on PVE's check run: "Apply fix" (``requested_action``) and "Re-run" (``rerequested``).

Both find what the original trigger produced by the check run's ``external_id`` (the trigger
key, ``Triggers`` store role).
"""

from __future__ import annotations

import logging
from typing import Any

from bot import render
from bot.github import GitHubError
from bot.publish import FixPull, Reply, apply_to_branch, fix_pull_request
from bot.triggers import CheckRunButton, CommentCommand, FailedWorkflowRun, PullRequestChange
from pve.models import Session, SessionStatus
from statemachine.github import check_run
from statemachine.github.comment import on_comment
from statemachine.github.pull_request import on_pull_request
from statemachine.github.runtime import AppRuntime
from statemachine.github.workflow_run import on_workflow_run

log = logging.getLogger("pve.app")


def plan_apply(sessions: list[Session]) -> tuple[dict[str, str], list[str]]:
    """Pure: the files to commit and the sessions they come from. Two fixes to one file: the
    first wins; the other stays a suggestion."""
    files: dict[str, str] = {}
    ids = []
    for session in sessions:
        if session.status is not SessionStatus.VERIFIED:
            continue
        new = check_run.fix_files(session)
        if set(new) & set(files):
            continue
        files.update(new)
        ids.append(session.id)
    return files, ids


async def on_button(rt: AppRuntime, button: CheckRunButton, delivery: str, *, last_attempt: bool) -> None:
    if button.action == "requested_action":
        await on_apply(rt, button)
    elif button.action == "rerequested":
        await on_rerun(rt, button, delivery, last_attempt=last_attempt)


async def on_apply(rt: AppRuntime, button: CheckRunButton) -> None:
    """"Apply fix": commit the verified fix to the PR's branch (same repository), else open a PR with it."""
    if button.identifier != render.APPLY_ID:
        return
    trigger = rt.store.get_trigger(button.external_id)
    if trigger is None or not trigger.get("is_pr"):
        log.info("apply: no record of check run %s (external id %r)", button.check_run_id, button.external_id)
        return
    api = rt.app.repo(trigger["installation"], trigger["repo"], private=trigger.get("private", True))
    reply = Reply(api, trigger["number"], f"{button.external_id}-apply", await rt.me())
    files, ids = plan_apply([s for sid in trigger["sessions"] if (s := rt.store.get_session(sid)) is not None])
    if not files:
        return await reply.say("There is no verified fix to apply for this check run.")
    pull = await api.pull(trigger["number"])
    if pull["head"]["sha"] != trigger["sha"]:
        return await reply.say(f"Not applied: the pull request moved on since PVE verified `{trigger['sha'][:7]}`. "
                               "Run `/pve verify` again on the new head.")
    message = f"Apply PVE's verified fix (session {', '.join(ids)})"
    if pull["head"]["repo"]["full_name"] == api.full_name:
        try:
            commit = await apply_to_branch(api, branch=pull["head"]["ref"], head_sha=trigger["sha"], files=files,
                                           message=message)
        except GitHubError as exc:
            if exc.status != 422:
                raise
            return await reply.say(f"Not applied: GitHub refused to move `{pull['head']['ref']}` ({exc}).")
        return await reply.say(f"Applied PVE's verified fix to `{pull['head']['ref']}` in {commit[:7]}.")
    pr = await fix_pull_request(api, FixPull(
        session_id=ids[0], base_sha=trigger["sha"], base_branch=pull["base"]["ref"], files=files,
        title=f"PVE's verified fix for #{trigger['number']}",
        body=f"The verified fix for #{trigger['number']}, on top of its head `{trigger['sha'][:7]}` "
             "(PVE cannot push to a fork's branch).", message=message))
    await reply.say(f"PVE cannot push to the fork's branch, so the fix is in {pr.get('html_url') or '#' + str(pr['number'])}.")


async def on_rerun(rt: AppRuntime, button: CheckRunButton, delivery: str, *, last_attempt: bool) -> None:
    """"Re-run": the original trigger again, as a new run (new session, new check run)."""
    trigger = rt.store.get_trigger(button.external_id)
    if trigger is None:
        log.info("rerun: no record of check run %s", button.check_run_id)
        return
    new_key = f"{button.external_id.split('~')[0]}~{delivery[:8]}"
    payload: dict[str, Any] = trigger["payload"]
    if trigger["event"] == "issue_comment":
        await on_comment(rt, CommentCommand.parse(payload), delivery, last_attempt=last_attempt, key=new_key)
    elif trigger["event"] == "workflow_run":
        await on_workflow_run(rt, FailedWorkflowRun.parse(payload), delivery, last_attempt=last_attempt, key=new_key)
    elif trigger["event"] == "pull_request":  # its one comment per pull request is edited, not repeated
        await on_pull_request(rt, PullRequestChange.parse(payload), delivery, last_attempt=last_attempt)
