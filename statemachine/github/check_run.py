"""One verification for a GitHub trigger and its check run: the repository's settings applied,
the verification run with its console going live into the check run, then the publish epilogue
every trigger shares (the credit spent, the suggestion review, the trigger remembered for the
check run's buttons), and the check run finished."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from dataclasses import dataclass
from typing import Any

from bot import render, repoconfig
from bot.github import GitHubError, RepoAPI
from bot.publish import CheckRun, Reply, publishable, suggestion_review
from bot.suggestions import change_blocks
from pve.events import Event
from pve.models import Origin, Session, SessionStatus, VerifyRequest
from statemachine.github.runtime import AppRuntime
from statemachine.proof.attestation import ATTESTATION, ATTESTATION_DIR
from store.base import Quota

MILESTONES = ("reproduce", "generate")  # the steps the trigger's comment reports while it runs


async def repo_config(api: RepoAPI, branch: str) -> repoconfig.RepoConfig | repoconfig.ConfigError:
    """The configuration on the default branch (a pull request cannot change who may run PVE),
    or what is wrong with it: the plans answer a broken file with a comment."""
    try:
        return repoconfig.parse(await api.file_text(repoconfig.PATH, branch))
    except repoconfig.ConfigError as exc:
        return exc


def console_line(e: Event) -> str:
    return f"{e.text} [{e.status}]" if e.status else e.text


async def run(rt: AppRuntime, check: CheckRun | None, config: repoconfig.RepoConfig, req: VerifyRequest,
              lines: list[str], reply: Reply | None = None, header: str = "") -> Session:
    """Verify under the repository's settings; ``lines`` collects the console (live into ``check``
    when there is one)."""
    milestones: list[str] = []

    def watch(e: Event) -> None:
        lines.append(console_line(e))
        if e.kind in MILESTONES:
            milestones.append(console_line(e))

    settings = dataclasses.replace(rt.settings, max_candidates=min(config.candidates, rt.settings.max_candidates))
    req = req.model_copy(update={"suite": list(config.tests) or None, "protected": tuple(config.ignore),
                                 "timeout_s": config.timeout,
                                 "install": config.install.model_dump() if config.install else None})
    services = dataclasses.replace(rt.services, settings=settings, watchers=(*rt.services.watchers, watch))
    ticker = asyncio.create_task(_tick(check, lines, rt.progress_every_s, reply, header, milestones)
                                 if check is not None else asyncio.sleep(0))
    try:
        return await rt.verify(req, services)
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker


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


def fix_files(session: Session) -> dict[str, str]:
    winner = session.winning_candidate()
    return {e.path: e.new_text for e in winner.edits} if winner else {}


def pull_request_files(rt: AppRuntime, session: Session, config: repoconfig.RepoConfig) -> dict[str, str]:
    """A fix pull request's files: the fix, and its attestation under ``.pve/attestations/``
    when the repository opted in (``attestations: true``), so it travels with the commit."""
    files = fix_files(session)
    envelope = rt.store.get_blob(session.id, ATTESTATION) if config.attestations else None
    if envelope is not None:
        files[f"{ATTESTATION_DIR}/{session.id}.intoto.json"] = envelope.decode("utf-8")
    return files


def proof_text(rt: AppRuntime, session: Session) -> str:
    data = rt.store.get_blob(session.id, "proof.txt")
    return data.decode("utf-8", errors="replace") if data else "(no proof stored)"


async def finish_check(rt: AppRuntime, check: CheckRun, session: Session, lines: list[str], *,
                       blocked: str | None, apply_button: bool) -> None:
    verified = session.status is SessionStatus.VERIFIED and blocked is None
    winner = session.winning_candidate()
    notes = render.fix_annotations(change_blocks(winner.diff)) if verified and winner else []
    output = render.check_done(session, lines, proof_text(rt, session), rt.link(session.id), notes, blocked=blocked)
    await check.finish("success" if verified else "neutral", output, apply_button=verified and apply_button)


def spend(rt: AppRuntime, installation: int, session: Session) -> tuple[str | None, Quota]:
    """Spend a credit for a verified fix; (why it may not be published, quota)."""
    if session.status is not SessionStatus.VERIFIED:
        return None, rt.store.quota(installation, rt.daily_credits)
    problem = publishable(fix_files(session))
    if problem:
        return f"PVE verified a fix but will not publish it: {problem}.", rt.store.quota(installation, rt.daily_credits)
    spent, quota = rt.store.spend_credit(installation, session.id, rt.daily_credits)
    return (None if spent else render.quota_exhausted(quota)), quota


def origin(api: RepoAPI, sha: str, *, pull: int | None = None, issue: int | None = None,
           head_repo: str | None = None) -> Origin:
    """Where a session's code came from, and who may see its page (the repository's visibility).
    ``head_repo``: the repository the code is from, when it may be a fork."""
    fork = head_repo if head_repo and head_repo.lower() != api.full_name.lower() else None
    return Origin(repo=api.full_name, sha=sha, pull=pull, issue=issue, private=api.private,
                  installation=api.installation, fork=fork)


@dataclass(frozen=True)
class Trigger:
    """Where a trigger asked for a verification, and what asked: the repository (as the
    installation sees it), the issue or pull request, the commit verified, the event and its
    payload (the check run's "Re-run" replays it)."""

    api: RepoAPI
    installation: int
    number: int
    is_pr: bool
    sha: str
    event: str
    payload: dict[str, Any]

    def record(self, sessions: list[str]) -> dict[str, Any]:
        """What the check run's buttons need later (``Triggers`` store role)."""
        return {"repo": self.api.full_name, "installation": self.installation, "private": self.api.private,
                "number": self.number, "is_pr": self.is_pr, "sha": self.sha, "sessions": sessions,
                "event": self.event, "payload": self.payload}

    def remember(self, rt: AppRuntime, key: str, sessions: list[str]) -> None:
        rt.store.put_trigger(key, self.record(sessions))


async def publish_suggestions(rt: AppRuntime, trigger: Trigger, session: Session, key: str) -> tuple[str | None, Quota]:
    """A session's fix on a pull request: a credit spent for a verified fix, which is then posted
    as one suggestion review on ``trigger.sha``. (Why it is not published, or None; the quota.)"""
    blocked, quota = spend(rt, trigger.installation, session)
    if session.status is SessionStatus.VERIFIED and blocked is None:
        winner = session.winning_candidate()
        assert winner is not None
        link = rt.link(session.id)
        await suggestion_review(trigger.api, number=trigger.number, head_sha=trigger.sha, key=key, diff=winner.diff,
                                body_for=lambda outside: render.review_body(session, outside, link))
    return blocked, quota
