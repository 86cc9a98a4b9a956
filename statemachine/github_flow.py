"""The GitHub App's jobs: one queued delivery in, the verification and its replies out.

Handlers are small and ordered like the conversation: decide (sans-I/O, ``bot.commands``,
``bot.repoconfig``), acknowledge, verify (``statemachine.pipeline``), publish (``bot.publish``).
A job may run more than once (a crash, a killed worker): the session id is derived from the
delivery, and every write finds what an earlier attempt wrote, so a retry adds nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot import render, repoconfig
from bot.checkout import checkout
from bot.commands import input_text, parse_command
from bot.github import GitHubApp, GitHubError, RepoAPI
from bot.publish import (
    CheckRun,
    Reply,
    apply_to_branch,
    fix_pull_request,
    publishable,
    suggestion_review,
)
from bot.suggestions import change_blocks
from brain.logtext import decode_log
from brain.providers import BrainConfig
from brain.traceback import ProjectIndex, parse_log
from pve.errors import BadInput
from pve.events import Event, Fanout
from pve.models import Session, SessionStatus
from pve.settings import Settings
from sandbox.backend import SandboxBackend
from statemachine.pipeline import verify
from statemachine.proof import ProofSigner
from statemachine.services import Services, VerifyRequest
from store.base import MAX_ATTEMPTS, Job, Store

log = logging.getLogger("pve.app")


@dataclass
class AppRuntime:
    """Everything a GitHub job may use (built once by ``pve serve``; tests build their own)."""

    app: GitHubApp
    store: Store
    settings: Settings
    sandbox: SandboxBackend
    signer: ProofSigner
    secret: bytes  # the webhook secret: keys session ids, so they are unguessable but stable per delivery
    bot_login: str | None = None  # "<app slug>[bot]": how PVE recognises its own comments (asked on first use)
    models: BrainConfig = dataclasses.field(default_factory=BrainConfig)
    public_url: str | None = None  # where permalinks point (the web view); None: no links
    daily_credits: int = 50
    progress_every_s: float = 5.0  # live console updates of the check run (content-creating limit: 80/min)
    # per running delivery: the comment and check run it opened, to close them if its last attempt crashes
    open_outputs: dict[str, list[Reply | CheckRun]] = dataclasses.field(default_factory=dict)

    async def me(self) -> str:
        if self.bot_login is None:
            self.bot_login = await self.app.bot_login()
        return self.bot_login

    def link(self, session_id: str) -> str | None:
        return f"{self.public_url.rstrip('/')}/s/{session_id}" if self.public_url else None


def session_id_for(secret: bytes, delivery: str, n: int = 0) -> str:
    return hmac.new(secret, f"{delivery}:{n}".encode(), hashlib.sha256).hexdigest()[:32]


async def handle(job: Job, rt: AppRuntime) -> None:
    """Run one job. If its last attempt crashes, its comment and check run say so (never stuck
    at "verifying"), then the error goes to the worker, which marks the job failed."""
    try:
        await _dispatch(job, rt)
    except Exception as exc:
        if job.attempts >= MAX_ATTEMPTS:
            await _report_failure(rt.open_outputs.get(job.delivery, []), exc)
        raise
    finally:
        rt.open_outputs.pop(job.delivery, None)


async def _report_failure(outputs: list[Reply | CheckRun], exc: Exception) -> None:
    for out in outputs:
        with contextlib.suppress(Exception):  # best effort: GitHub itself may be what failed
            if isinstance(out, Reply):
                await out.say(render.gave_up(f"{type(exc).__name__}: {exc}"))
            elif out.id is not None:
                await out.finish("neutral", {"title": "PVE failed", "summary": render.gave_up(type(exc).__name__)})


async def _dispatch(job: Job, rt: AppRuntime) -> None:
    payload = json.loads(job.payload)
    action = payload.get("action")
    if job.event == "installation":
        return _on_installation(rt, payload, action)
    if job.event == "issue_comment":
        return await on_comment(rt, payload, job.delivery)
    if job.event == "workflow_run":
        return await on_workflow_run(rt, payload, job.delivery)
    if job.event == "check_run" and action == "requested_action":
        return await on_apply(rt, payload, job.delivery)
    if job.event == "check_run" and action == "rerequested":
        return await on_rerun(rt, payload, job.delivery)
    log.info("job %s: %s.%s needs no work", job.id, job.event, action)


def _on_installation(rt: AppRuntime, payload: dict[str, Any], action: str | None) -> None:
    inst = payload["installation"]
    if action == "created":
        rt.store.put_installation(inst["id"], (inst.get("account") or {}).get("login", ""), rt.daily_credits)
    elif action == "deleted":
        rt.store.retire_installation(inst["id"])


# --------------------------------------------------------------------------- shared steps


async def _config(api: RepoAPI, branch: str) -> repoconfig.RepoConfig:
    """The configuration on the default branch: a pull request cannot change who may run PVE."""
    return repoconfig.parse(await api.file_text(repoconfig.PATH, branch))


def _line(e: Event) -> str:
    return f"{e.text} [{e.status}]" if e.status else e.text


MILESTONES = ("reproduce", "generate")  # the steps the trigger's comment reports while it runs


async def _tick(check: CheckRun, lines: list[str], every: float, reply: Reply | None, header: str,
                milestones: list[str]) -> None:
    """The live console into the check run; the milestones (reproduced? how many candidates?)
    into the comment. Only changes are sent: edits count against GitHub's content limits."""
    while True:
        await asyncio.sleep(every)
        with contextlib.suppress(GitHubError):  # progress is best effort; the result is not
            await check.progress(lines)
            if reply is not None and milestones:
                await reply.say(render.working_progress(header, milestones))


async def _verify(rt: AppRuntime, check: CheckRun, config: repoconfig.RepoConfig, req: VerifyRequest,
                  lines: list[str], reply: Reply | None = None, header: str = "") -> Session:
    events = Fanout()
    milestones: list[str] = []
    events.listen(lambda e: lines.append(_line(e)))
    events.listen(lambda e: milestones.append(_line(e)) if e.kind in MILESTONES else None)
    settings = dataclasses.replace(rt.settings, max_candidates=min(config.candidates, rt.settings.max_candidates))
    req.suite, req.protected, req.timeout_s = list(config.tests) or None, tuple(config.ignore), config.timeout
    svc = Services(sandbox=rt.sandbox, store=rt.store, signer=rt.signer, settings=settings, events=events, models=rt.models)
    ticker = asyncio.create_task(_tick(check, lines, rt.progress_every_s, reply, header, milestones))
    try:
        return await verify(req, svc)
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker


def _fix_files(session: Session) -> dict[str, str]:
    winner = session.winning_candidate()
    return {e.path: e.new_text for e in winner.edits} if winner else {}


def _proof(rt: AppRuntime, session: Session) -> str:
    data = rt.store.get_blob(session.id, "proof.txt")
    return data.decode("utf-8", errors="replace") if data else "(no proof stored)"


async def _finish_check(rt: AppRuntime, check: CheckRun, session: Session, lines: list[str], *,
                        blocked: str | None, apply_button: bool) -> None:
    verified = session.status is SessionStatus.VERIFIED and blocked is None
    winner = session.winning_candidate()
    notes = render.annotations(change_blocks(winner.diff)) if verified and winner else []
    output = render.check_done(session, lines, _proof(rt, session), rt.link(session.id), notes, blocked=blocked)
    await check.finish("success" if verified else "neutral", output, apply_button=verified and apply_button)


def _spend(rt: AppRuntime, installation: int, session: Session) -> tuple[str | None, Any]:
    """Spend a credit for a verified fix; (why it may not be published, quota)."""
    if session.status is not SessionStatus.VERIFIED:
        return None, rt.store.quota(installation, rt.daily_credits)
    problem = publishable(_fix_files(session))
    if problem:
        return f"PVE verified a fix but will not publish it: {problem}.", rt.store.quota(installation, rt.daily_credits)
    spent, quota = rt.store.spend_credit(installation, session.id, rt.daily_credits)
    return (None if spent else render.quota_exhausted(quota)), quota


# --------------------------------------------------------------------------- /pve verify


async def on_comment(rt: AppRuntime, payload: dict[str, Any], delivery: str, key: str | None = None) -> None:
    installation = payload["installation"]["id"]
    api = rt.app.repo(installation, payload["repository"]["full_name"])
    issue, comment = payload["issue"], payload["comment"]
    number, login = issue["number"], comment["user"]["login"]
    is_pr = bool(issue.get("pull_request"))
    key = key or f"comment-{comment['id']}"
    reply = Reply(api, number, key, await rt.me())
    rt.open_outputs.setdefault(delivery, []).append(reply)
    command = parse_command(comment.get("body") or "")
    if command.verb == "help" and not command.problem:
        return await reply.say(render.HELP)
    if command.problem:
        return await reply.say(render.bad_command(command.problem))

    default_branch = payload["repository"].get("default_branch") or (await api.get())["default_branch"]
    try:
        config = await _config(api, default_branch)
    except repoconfig.ConfigError as exc:
        return await reply.say(render.config_error(str(exc)))
    if not config.triggers.comment:
        return await reply.say(render.disabled("`/pve verify`"))
    if not config.allow.by_association(comment.get("author_association")):
        if not config.allow.by_permission(await api.permission(login)):
            return await reply.say(render.refusal(login))
    await api.react(comment["id"], "eyes")
    quota = rt.store.quota(installation, rt.daily_credits)
    if quota.remaining <= 0:
        return await reply.say(render.quota_exhausted(quota))

    thread = [c async for c in api.comments(number)]
    reply.adopt(thread)  # the same listing tells whether an earlier attempt already replied
    earlier = [c.get("body") or "" for c in thread
               if c["id"] != comment["id"] and (c.get("user") or {}).get("type") != "Bot"]
    body = (comment.get("body") or "").split("\n", 1)[1] if "\n" in (comment.get("body") or "") else ""
    text = input_text(body, issue.get("body"), earlier)
    if not text and not command.arg:
        return await reply.say(render.no_traceback())

    pull = await api.pull(number) if is_pr else None
    sha = pull["head"]["sha"] if pull else await api.branch_sha(default_branch)
    if sha is None:
        return await reply.say(render.failed_input(f"the default branch {default_branch!r} has no commits"))
    session_id = session_id_for(rt.secret, delivery)
    header = render.working(sha, f"pull request #{number}" if is_pr else f"issue #{number}")
    await reply.say(header)
    check = CheckRun(api, sha, key)
    rt.open_outputs.setdefault(delivery, []).append(check)
    await check.start(rt.link(session_id))
    req = VerifyRequest(path=Path("."), error_log=text.encode("utf-8") if text else None, test=command.arg,
                        trigger="issue_comment", issue_text=text or None, session_id=session_id)
    lines: list[str] = []
    try:
        req.path = await checkout(api, sha, rt.settings.home)
        session = await _verify(rt, check, config, req, lines, reply, header)
    except BadInput as exc:
        await check.finish("neutral", {"title": "Could not start", "summary": str(exc)})
        return await reply.say(render.failed_input(str(exc)))

    blocked, quota = _spend(rt, installation, session)
    pr_url = None
    link = rt.link(session.id)
    if session.status is SessionStatus.VERIFIED and blocked is None:
        winner = session.winning_candidate()
        assert winner is not None
        if pull is not None:
            await suggestion_review(api, number=number, head_sha=sha, key=key, diff=winner.diff,
                                    body_for=lambda outside: render.review_body(session, outside, link))
        else:
            pr = await fix_pull_request(
                api, session_id=session.id, base_sha=sha, base_branch=default_branch, files=_fix_files(session),
                title=f"Fix #{number}: {session.analysis.headline() if session.analysis else 'verified fix'}"[:250],
                body=render.pr_body(session, number, _proof(rt, session), link),
                message=f"Fix #{number}: verified by PVE (session {session.id})\n\n{winner.rationale}")
            pr_url = pr.get("html_url") or f"#{pr['number']}"
    rt.store.put_trigger(key, {"repo": api.full_name, "installation": installation, "number": number, "is_pr": is_pr,
                               "sha": sha, "sessions": [session.id], "event": "issue_comment", "payload": payload})
    await _finish_check(rt, check, session, lines, blocked=blocked, apply_button=pull is not None)
    await reply.say(render.result(session, link, quota=quota, pr_url=pr_url, review=pull is not None, blocked=blocked))


# --------------------------------------------------------------------------- failing CI on a pull request


async def on_workflow_run(rt: AppRuntime, payload: dict[str, Any], delivery: str, key: str | None = None) -> None:
    installation = payload["installation"]["id"]
    api = rt.app.repo(installation, payload["repository"]["full_name"])
    run = payload["workflow_run"]
    sha = run["head_sha"]
    pulls = [p for p in run.get("pull_requests") or [] if (p.get("head") or {}).get("sha") == sha]
    if not pulls:  # a fork's PR is not in the payload: ask which PRs have this commit
        pulls = [p for p in await api.pulls_for_commit(sha) if p.get("state") == "open" and p["head"]["sha"] == sha]
    if not pulls:
        log.info("workflow run %s: no open pull request has %s", run["id"], sha[:7])
        return
    number = pulls[0]["number"]
    default_branch = payload["repository"].get("default_branch") or (await api.get())["default_branch"]
    key = key or f"run-{run['id']}"
    reply = Reply(api, number, key, await rt.me())
    rt.open_outputs.setdefault(delivery, []).append(reply)
    try:
        config = await _config(api, default_branch)
    except repoconfig.ConfigError as exc:
        return await reply.say(render.config_error(str(exc)))
    if not config.triggers.ci:
        log.info("workflow run %s: CI trigger off in %s", run["id"], repoconfig.PATH)
        return
    quota = rt.store.quota(installation, rt.daily_credits)
    if quota.remaining <= 0:
        return await reply.say(render.quota_exhausted(quota))

    jobs = [j async for j in api.run_jobs(run["id"]) if j.get("conclusion") == "failure"]
    logs = [(j, await api.job_log(j["id"])) for j in jobs]
    path = await checkout(api, sha, rt.settings.home)
    index = ProjectIndex(path)
    targets: list[tuple[bytes, str | None, str]] = []  # (log, test id, what)
    seen: set[str] = set()
    for job, raw in logs:
        try:
            parsed = parse_log(decode_log(raw, source=f"log of job {job.get('name', job['id'])!r}"), index=index)
        except BadInput as exc:
            log.info("workflow run %s: %s", run["id"], exc)
            continue
        for failure in parsed.failures:
            ident = failure.test_id or f"{failure.exception.type}: {failure.exception.message[:200]}"
            if ident not in seen:
                seen.add(ident)
                targets.append((raw, failure.test_id, ident))
    if not targets:
        return await reply.say(render.no_failure_in_logs(run.get("name") or "the workflow", len(jobs)))
    targets = targets[: config.max_failures]

    await reply.say(render.working(sha, f"{len(targets)} failure(s) from {run.get('name') or 'CI'}"))
    check = CheckRun(api, sha, key)
    rt.open_outputs.setdefault(delivery, []).append(check)
    sessions: list[tuple[Session, str | None]] = []  # (session, why its fix is not published)
    await check.start(rt.link(session_id_for(rt.secret, delivery, 0)))
    lines: list[str] = []
    summaries = []
    for n, (raw, test_id, ident) in enumerate(targets):
        req = VerifyRequest(path=path, error_log=raw, test=test_id, trigger="workflow_run",
                            session_id=session_id_for(rt.secret, delivery, n))
        lines.append(f"Failure {n + 1} of {len(targets)}: {ident}")
        try:
            session = await _verify(rt, check, config, req, lines)
        except BadInput as exc:
            summaries.append(f"- `{ident}`: could not start: {exc}")
            continue
        blocked, quota = _spend(rt, installation, session)
        sessions.append((session, blocked))
        link = rt.link(session.id)
        if session.status is SessionStatus.VERIFIED and blocked is None:
            winner = session.winning_candidate()
            assert winner is not None
            await suggestion_review(api, number=number, head_sha=sha, key=f"{key}-{n}", diff=winner.diff,
                                    body_for=lambda outside, s=session, lk=link: render.review_body(s, outside, lk))
        summaries.append(f"- `{ident}`: " + render.result(session, link, review=True, blocked=blocked).split("\n")[0])
    rt.store.put_trigger(key, {"repo": api.full_name, "installation": installation, "number": number, "is_pr": True,
                               "sha": sha, "sessions": [s.id for s, b in sessions if b is None], "event": "workflow_run",
                               "payload": payload})
    # The check run shows the first published fix (or the first result); the comment lists all.
    best = next(((s, b) for s, b in sessions if s.status is SessionStatus.VERIFIED and b is None),
                sessions[0] if sessions else None)
    if best is not None:
        await _finish_check(rt, check, best[0], lines, blocked=best[1], apply_button=True)
    else:
        await check.finish("neutral", {"title": "Could not start", "summary": "\n".join(summaries)})
    quota = rt.store.quota(installation, rt.daily_credits)
    await reply.say(render.ci_result(run.get("name") or "CI", summaries, quota))


# --------------------------------------------------------------------------- check run buttons


async def on_apply(rt: AppRuntime, payload: dict[str, Any], delivery: str) -> None:
    """"Apply fix": commit the verified fix to the PR's branch (same repository), else open a PR with it."""
    if (payload.get("requested_action") or {}).get("identifier") != render.APPLY_ID:
        return
    key = payload["check_run"].get("external_id") or ""
    trigger = rt.store.get_trigger(key)
    if trigger is None or not trigger.get("is_pr"):
        log.info("apply: no record of check run %s (external id %r)", payload["check_run"]["id"], key)
        return
    api = rt.app.repo(trigger["installation"], trigger["repo"])
    reply = Reply(api, trigger["number"], f"{key}-apply", await rt.me())
    files: dict[str, str] = {}
    ids = []
    for sid in trigger["sessions"]:
        session = rt.store.get_session(sid)
        if session is None or session.status is not SessionStatus.VERIFIED:
            continue
        new = _fix_files(session)
        if set(new) & set(files):
            continue  # two fixes to one file: the first wins; the other stays a suggestion
        files.update(new)
        ids.append(sid)
    if not files:
        return await reply.say("There is no verified fix to apply for this check run.")
    pull = await api.pull(trigger["number"])
    if pull["head"]["sha"] != trigger["sha"]:
        return await reply.say(f"Not applied: the pull request moved on since PVE verified `{trigger['sha'][:7]}`. "
                               "Run `/pve verify` again on the new head.")
    message = f"Apply PVE's verified fix (session {', '.join(ids)})"
    if pull["head"]["repo"]["full_name"] == api.full_name:
        try:
            commit = await apply_to_branch(api, branch=pull["head"]["ref"], head_sha=trigger["sha"], files=files, message=message)
        except GitHubError as exc:
            if exc.status != 422:
                raise
            return await reply.say(f"Not applied: GitHub refused to move `{pull['head']['ref']}` ({exc}).")
        return await reply.say(f"Applied PVE's verified fix to `{pull['head']['ref']}` in {commit[:7]}.")
    pr = await fix_pull_request(api, session_id=ids[0], base_sha=trigger["sha"], base_branch=pull["base"]["ref"],
                                files=files, title=f"PVE's verified fix for #{trigger['number']}",
                                body=f"The verified fix for #{trigger['number']}, on top of its head `{trigger['sha'][:7]}` "
                                     "(PVE cannot push to a fork's branch).", message=message)
    await reply.say(f"PVE cannot push to the fork's branch, so the fix is in {pr.get('html_url') or '#' + str(pr['number'])}.")


async def on_rerun(rt: AppRuntime, payload: dict[str, Any], delivery: str) -> None:
    """"Re-run": the original trigger again, as a new run (new session, new check run)."""
    key = payload["check_run"].get("external_id") or ""
    trigger = rt.store.get_trigger(key)
    if trigger is None:
        log.info("rerun: no record of check run %s", payload["check_run"]["id"])
        return
    new_key = f"{key.split('~')[0]}~{delivery[:8]}"
    if trigger["event"] == "issue_comment":
        await on_comment(rt, trigger["payload"], delivery, key=new_key)
    elif trigger["event"] == "workflow_run":
        await on_workflow_run(rt, trigger["payload"], delivery, key=new_key)
