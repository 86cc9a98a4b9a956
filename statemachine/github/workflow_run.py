"""A pull request's CI failed (``workflow_run`` completed with failure).

The conversation: find the PR (a fork's PR is not in the payload: ask which PRs have the
commit); check the repository allows it and the quota; download the failed jobs' logs; verify
each distinct failure (up to ``max_failures``); post the verified fixes as suggestions; one
check run and one comment list them all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot import render, repoconfig
from bot.checkout import checkout
from bot.triggers import FailedWorkflowRun
from brain.intake.logtext import decode_log
from brain.intake.traceback import ProjectIndex, parse_log
from pve.errors import BadInput
from pve.models import ParsedLog, Session, SessionStatus, VerifyRequest
from statemachine.github import check_run
from statemachine.github.conversation import Conversation
from statemachine.github.runtime import AppRuntime
from store.base import Quota

log = logging.getLogger("pve.app")


@dataclass(frozen=True)
class Target:
    """One distinct failure from the logs: the log it is in, its test id, how it is named."""

    log: bytes
    test_id: str | None
    ident: str


def plan_run(config: repoconfig.RepoConfig | repoconfig.ConfigError, quota: Quota) -> str | None:
    """Pure: the answer when PVE does not verify this run ("" = stay silent), else None."""
    if isinstance(config, repoconfig.ConfigError):
        return render.config_error(str(config))
    if not config.triggers.ci:
        return ""  # the repository turned it off: nothing to say on every red run
    if quota.remaining <= 0:
        return render.quota_exhausted(quota)
    return None


def plan_targets(logs: list[ParsedLog], max_failures: int) -> list[tuple[int, str | None, str]]:
    """Pure: the distinct failures to verify, as (which log, test id, name), at most ``max_failures``."""
    targets: list[tuple[int, str | None, str]] = []
    seen: set[str] = set()
    for n, parsed in enumerate(logs):
        for failure in parsed.failures:
            ident = failure.test_id or f"{failure.exception.type}: {failure.exception.message[:200]}"
            if ident not in seen:
                seen.add(ident)
                targets.append((n, failure.test_id, ident))
    return targets[:max_failures]


async def on_workflow_run(rt: AppRuntime, run: FailedWorkflowRun, delivery: str, *, last_attempt: bool,
                          key: str | None = None) -> None:
    installation = run.repo.installation
    assert installation is not None  # dispatch passes on only deliveries from an installation
    api = rt.app.repo(installation, run.repo.full_name, private=run.repo.private)
    sha = run.head_sha
    numbers = [p.number for p in run.pulls if p.head_sha == sha]
    if not numbers:  # a fork's PR is not in the payload: ask which PRs have this commit
        numbers = [p["number"] for p in await api.pulls_for_commit(sha)
                   if p.get("state") == "open" and p["head"]["sha"] == sha]
    if not numbers:
        log.info("workflow run %s: no open pull request has %s", run.run_id, sha[:7])
        return
    number = numbers[0]
    default_branch = run.repo.default_branch or (await api.get())["default_branch"]
    key = key or f"run-{run.run_id}"
    async with Conversation(api, number, key, await rt.me(), last_attempt=last_attempt) as talk:
        config = await check_run.repo_config(api, default_branch)
        answer = plan_run(config, rt.store.quota(installation, rt.daily_credits))
        if answer == "":
            log.info("workflow run %s: CI trigger off in %s", run.run_id, repoconfig.PATH)
            return
        if answer is not None:
            return await talk.say(answer)
        assert isinstance(config, repoconfig.RepoConfig)
        await _verify(rt, run, talk, config, installation, number, delivery, key)


async def _verify(rt: AppRuntime, run: FailedWorkflowRun, talk: Conversation, config: repoconfig.RepoConfig,
                  installation: int, number: int, delivery: str, key: str) -> None:
    api, sha = talk.api, run.head_sha
    jobs = [j async for j in api.run_jobs(run.run_id) if j.get("conclusion") == "failure"]
    raw_logs = [await api.job_log(j["id"]) for j in jobs]
    path = await checkout(api, sha, rt.settings.home)
    index = ProjectIndex(path)
    parsed: list[ParsedLog] = []
    for job, raw in zip(jobs, raw_logs, strict=True):
        try:
            parsed.append(parse_log(decode_log(raw, source=f"log of job {job.get('name', job['id'])!r}"), index=index))
        except BadInput as exc:
            log.info("workflow run %s: %s", run.run_id, exc)
            parsed.append(ParsedLog())
    targets = [Target(raw_logs[n], tid, ident) for n, tid, ident in plan_targets(parsed, config.max_failures)]
    if not targets:
        return await talk.say(render.no_failure_in_logs(run.name, len(jobs)))

    await talk.say(render.working(sha, f"{len(targets)} failure(s) from {run.name}"))
    check = await talk.open_check(sha, rt.link(rt.session_id(delivery, 0)))
    trigger = check_run.Trigger(api, installation, number, is_pr=True, sha=sha, event="workflow_run",
                                payload=run.payload)
    sessions: list[tuple[Session, str | None]] = []  # (session, why its fix is not published)
    lines: list[str] = []
    summaries = []
    for n, target in enumerate(targets):
        req = VerifyRequest(path=path, error_log=target.log, test=target.test_id, trigger="workflow_run",
                            origin=check_run.origin(api, sha, pull=number, head_repo=run.head_repo),
                            requested_by=run.actor,
                            session_id=rt.session_id(delivery, n))
        lines.append(f"Failure {n + 1} of {len(targets)}: {target.ident}")
        try:
            session = await check_run.run(rt, check, config, req, lines)
        except BadInput as exc:
            summaries.append(f"- `{target.ident}`: could not start: {render.problem(exc)}")
            continue
        blocked, _ = await check_run.publish_suggestions(rt, trigger, session, f"{key}-{n}")
        sessions.append((session, blocked))
        link = rt.link(session.id)
        summaries.append(f"- `{target.ident}`: " + render.result(session, link, review=True, blocked=blocked).split("\n")[0])
    trigger.remember(rt, key, [s.id for s, b in sessions if b is None])
    # The check run shows the first published fix (or the first result); the comment lists all.
    best = next(((s, b) for s, b in sessions if s.status is SessionStatus.VERIFIED and b is None),
                sessions[0] if sessions else None)
    if best is not None:
        await check_run.finish_check(rt, check, best[0], lines, blocked=best[1], apply_button=True)
    else:
        await check.finish("neutral", {"title": "Could not start", "summary": "\n".join(summaries)})
    await talk.say(render.ci_result(run.name, summaries, rt.store.quota(installation, rt.daily_credits)))
