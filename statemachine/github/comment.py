"""``/pve verify`` and ``/pve help`` in a comment on an issue or a pull request.

The conversation: read the command; check the repository allows it and the author may run it;
👀; check the quota; find the failure in the comment, the issue and the thread; verify at the
PR's head (or the default branch); publish a fix PR (issue) or suggestions (PR); reply once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot import render, repoconfig
from bot.checkout import checkout
from bot.commands import has_failure, input_text, parse_command
from bot.publish import FixPull, fix_pull_request
from bot.triggers import CommentCommand
from pve.errors import BadInput
from pve.models import Session, SessionStatus, VerifyRequest
from statemachine.analyze import holds_failure
from statemachine.github import check_run, pull_request
from statemachine.github.conversation import Conversation
from statemachine.github.runtime import AppRuntime
from store.base import Quota


@dataclass(frozen=True)
class CommentPlan:
    """What to do with a command: answer it (and stop), or verify (``answer`` is None)."""

    answer: str | None = None
    react: bool = False  # 👀: the command was accepted
    test: str | None = None  # `/pve verify <path or test id>`


def needs_config(cmd: CommentCommand) -> bool:
    """Help and malformed commands are answered without reading the repository's settings."""
    command = parse_command(cmd.body)
    return command.verb != "help" and not command.problem


def needs_permission(cmd: CommentCommand, config: repoconfig.RepoConfig) -> bool:
    """Only when the author's association does not allow it is their permission asked."""
    return not config.allow.by_association(cmd.association)


def plan_comment(cmd: CommentCommand, config: repoconfig.RepoConfig | repoconfig.ConfigError | None, *,
                 permission: str | None = None, quota: Quota | None = None) -> CommentPlan:
    """Pure: the command, the repository's config (None: not read, see ``needs_config``), the
    author's permission (None: not asked) and today's quota in; the intended action out."""
    command = parse_command(cmd.body)
    if command.verb == "help" and not command.problem:
        return CommentPlan(answer=render.HELP)
    if command.problem:
        return CommentPlan(answer=render.bad_command(command.problem))
    if config is None:
        raise ValueError("a verify command needs the repository's config")
    if isinstance(config, repoconfig.ConfigError):
        return CommentPlan(answer=render.config_error(str(config)))
    if not config.triggers.comment:
        return CommentPlan(answer=render.disabled("`/pve verify`"))
    if not config.allow.by_association(cmd.association) and not config.allow.by_permission(permission or "none"):
        return CommentPlan(answer=render.refusal(cmd.login))
    if quota is not None and quota.remaining <= 0:
        return CommentPlan(answer=render.quota_exhausted(quota), react=True)
    return CommentPlan(react=True, test=command.arg)


async def on_comment(rt: AppRuntime, cmd: CommentCommand, delivery: str, *, last_attempt: bool,
                     key: str | None = None) -> None:
    installation = cmd.repo.installation
    assert installation is not None  # dispatch passes on only deliveries from an installation
    api = rt.app.repo(installation, cmd.repo.full_name, private=cmd.repo.private)
    key = key or f"comment-{cmd.comment_id}"
    async with Conversation(api, cmd.number, key, await rt.me(), last_attempt=last_attempt) as talk:
        if not needs_config(cmd):
            return await talk.say(plan_comment(cmd, None).answer or "")
        default_branch = cmd.repo.default_branch or (await api.get())["default_branch"]
        config = await check_run.repo_config(api, default_branch)
        permission = None
        if isinstance(config, repoconfig.RepoConfig) and config.triggers.comment and needs_permission(cmd, config):
            permission = await api.permission(cmd.login)
        plan = plan_comment(cmd, config, permission=permission, quota=rt.store.quota(installation, rt.daily_credits))
        if plan.react:
            await api.react(cmd.comment_id, "eyes")
        if plan.answer is not None:
            return await talk.say(plan.answer)
        assert isinstance(config, repoconfig.RepoConfig)
        await _verify(rt, cmd, talk, config, plan, delivery, default_branch, key)


async def _verify(rt: AppRuntime, cmd: CommentCommand, talk: Conversation, config: repoconfig.RepoConfig,
                  plan: CommentPlan, delivery: str, default_branch: str, key: str) -> None:
    api, number, installation = talk.api, cmd.number, cmd.repo.installation
    assert installation is not None
    thread = [c async for c in api.comments(number)]
    talk.reply.adopt(thread)  # the same listing tells whether an earlier attempt already replied
    earlier = [c.get("body") or "" for c in thread
               if c["id"] != cmd.comment_id and (c.get("user") or {}).get("type") != "Bot"]
    body = cmd.body.split("\n", 1)[1] if "\n" in cmd.body else ""
    if cmd.is_pr and not plan.test and not has_failure(body):
        # No failure of its own in the command: a pull request that says it fixes issues is
        # checked against them (does it fix them?); otherwise its thread is read as usual.
        claim = await api.pull(number)
        links = await pull_request.linked(api, number, claim.get("body") or "")
        if links.numbers:
            head_repo = ((claim.get("head") or {}).get("repo") or {}).get("full_name") or ""
            trigger = check_run.Trigger(api, installation, number, is_pr=True, sha=claim["head"]["sha"],
                                        event="issue_comment", payload=cmd.payload)
            return await pull_request.verify_pull(
                rt, talk, config, pull_request.Claim(trigger, base_sha=claim["base"]["sha"],
                                                     fork=head_repo.lower() != api.full_name.lower(),
                                                     by=cmd.login or None), links, delivery)
    text = input_text(body, cmd.issue_body, earlier, title=cmd.issue_title, failure=holds_failure)
    if not text and not plan.test:
        return await talk.say(render.no_traceback())

    pull = await api.pull(number) if cmd.is_pr else None
    sha = pull["head"]["sha"] if pull else await api.branch_sha(default_branch)
    if sha is None:
        return await talk.say(render.failed_input(f"the default branch {default_branch!r} has no commits"))
    session_id = rt.session_id(delivery)
    header = render.working(sha, f"pull request #{number}" if cmd.is_pr else f"issue #{number}")
    await talk.say(header)
    check = await talk.open_check(sha, rt.link(session_id))
    origin = check_run.origin(api, sha, pull=number if cmd.is_pr else None, issue=None if cmd.is_pr else number,
                                 head_repo=((pull or {}).get("head") or {}).get("repo", {}).get("full_name") if pull else None)
    req = VerifyRequest(path=Path("."), error_log=text.encode("utf-8") if text else None, test=plan.test, origin=origin,
                        requested_by=cmd.login or None,
                        trigger="issue_comment", issue_text=text or None, session_id=session_id)
    lines: list[str] = []
    try:
        req.path = await checkout(api, sha, rt.settings.home)
        session = await check_run.run(rt, check, config, req, lines, talk.reply, header)
    except BadInput as exc:
        await check.finish("neutral", {"title": "Could not start", "summary": render.problem(exc)})
        return await talk.say(render.failed_input(render.problem(exc)))

    trigger = check_run.Trigger(api, installation, number, is_pr=cmd.is_pr, sha=sha, event="issue_comment",
                                payload=cmd.payload)
    pr_url = None
    if pull is not None:
        blocked, quota = await check_run.publish_suggestions(rt, trigger, session, key)
    else:
        blocked, quota = check_run.spend(rt, installation, session)
        pr_url = await _fix_pull_request(rt, trigger, session, config, default_branch) if blocked is None else None
    trigger.remember(rt, key, [session.id])
    link = rt.link(session.id)
    await check_run.finish_check(rt, check, session, lines, blocked=blocked, apply_button=pull is not None)
    await talk.say(render.result(session, link, quota=quota, pr_url=pr_url, review=pull is not None, blocked=blocked))


async def _fix_pull_request(rt: AppRuntime, trigger: check_run.Trigger, session: Session,
                            config: repoconfig.RepoConfig, default_branch: str) -> str | None:
    """An issue's verified fix as a pull request (or, where the repository opted in, a
    plausible one as a draft, titled as what it is: never "verified"); its address."""
    verified = session.status is SessionStatus.VERIFIED
    if not verified and not (session.status is SessionStatus.PLAUSIBLE and config.plausible_pull_request):
        return None
    number = trigger.number
    body = render.pr_body(session, number, check_run.proof_text(rt, session), rt.link(session.id))
    files = check_run.pull_request_files(rt, session, config)
    what = session.analysis.headline() if session.analysis else ("verified fix" if verified else "candidate")
    if verified:
        winner = session.winning_candidate()
        assert winner is not None
        fix = FixPull(session_id=session.id, base_sha=trigger.sha, base_branch=default_branch, files=files,
                      title=f"Fix #{number}: {what}"[:250], body=body,
                      message=f"Fix #{number}: verified by PVE (session {session.id})\n\n{winner.rationale}")
    else:
        fix = FixPull(session_id=session.id, base_sha=trigger.sha, base_branch=default_branch, files=files,
                      title=f"Plausible fix, not verified, for #{number}: {what}"[:250], body=body,
                      message=f"Plausible fix for #{number}, not verified by PVE (session {session.id})", draft=True)
    pr = await fix_pull_request(trigger.api, fix)
    return pr.get("html_url") or f"#{pr['number']}"
