"""A pull request that says it fixes an issue ("Fixes #12"): does it? (``pull_request`` opened,
reopened, synchronize, body edited; and ``/pve verify`` on such a pull request).

The conversation: read the issues it links (body and commit messages); check the repository
allows it and the quota; for each issue (up to ``max_failures``), build the reproduction from
the issue as intake does, run it on the base (it must fail as reported) and judge the head as
the one candidate (statemachine/given_fix.py: reproduction, regression oracle, the PR's own tests).
One check run per issue on the head commit, named for the issue; one comment on the pull
request, edited in place on every push. When the head does not fix it and PVE finds a verified
fix on top of the head, it is offered as suggestions.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from bot import render, repoconfig
from bot.checkout import checkout
from bot.commands import input_text
from bot.github import RepoAPI
from bot.links import Linked, linked_issues
from bot.publish import CheckRun
from bot.triggers import PullRequestChange
from pve.errors import BadInput
from pve.models import JudgeTree, Session, SessionStatus, VerifyRequest
from statemachine.analyze import holds_failure
from statemachine.github import check_run
from statemachine.github.conversation import Conversation
from statemachine.github.runtime import AppRuntime

log = logging.getLogger("pve.app")


class Kind(StrEnum):
    FIXES = "fixes"
    PLAUSIBLE = "plausible, not verified"  # passes the reproduction, but no test that ran the change checks it
    BREAKS = "fixes, but breaks tests"
    DOES_NOT_FIX = "does not fix"
    NOT_REPRODUCED = "could not reproduce"
    UNVERIFIED = "could not verify"


@dataclass(frozen=True)
class PullVerdict:
    issue: int
    kind: Kind
    detail: str  # how it still fails, which tests break, why it was not reproduced
    session: Session | None = None
    offered: str | None = None  # the session whose verified fix on top of the head was offered as suggestions

    @property
    def conclusion(self) -> str:
        """The check run's conclusion: only "fixes" is a success; "could not" is neither."""
        return {Kind.FIXES: "success", Kind.BREAKS: "failure", Kind.DOES_NOT_FIX: "failure"}.get(self.kind, "neutral")


def verdict_of(issue: int, session: Session) -> PullVerdict:
    """Pure: what a judged session says about the pull request and one issue."""
    if session.status is SessionStatus.VERIFIED:
        return PullVerdict(issue, Kind.FIXES, f"oracle: {session.oracle.value if session.oracle else 'none'}", session)
    if session.status is SessionStatus.PLAUSIBLE:
        return PullVerdict(issue, Kind.PLAUSIBLE, session.message.split("plausible, not verified: ", 1)[-1], session)
    if session.status is SessionStatus.NOT_REPRODUCED:
        return PullVerdict(issue, Kind.NOT_REPRODUCED, session.message.removeprefix("could not reproduce: "), session)
    judged = session.verdicts[0] if session.verdicts else None
    if judged is None or judged.run is None:
        return PullVerdict(issue, Kind.UNVERIFIED, session.message or session.status.value, session)
    if judged.regressions:
        return PullVerdict(issue, Kind.BREAKS, f"breaks {len(judged.regressions)} test(s): "
                                               + ", ".join(judged.regressions[:10]), session)
    return PullVerdict(issue, Kind.DOES_NOT_FIX, judged.reason, session)


async def linked(api: RepoAPI, number: int, body: str) -> Linked:
    messages = [(c.get("commit") or {}).get("message") or "" async for c in api.pull_commits(number)]
    return linked_issues([body, *messages], api.full_name)


async def on_pull_request(rt: AppRuntime, pr: PullRequestChange, delivery: str, *, last_attempt: bool,
                          key: str | None = None) -> None:
    installation = pr.repo.installation
    assert installation is not None  # dispatch passes on only deliveries from an installation
    api = rt.app.repo(installation, pr.repo.full_name, private=pr.repo.private)
    links = await linked(api, pr.number, pr.body)
    if not links.numbers:
        log.info("pull request #%s links no issue of %s", pr.number, pr.repo.full_name)
        return
    default_branch = pr.repo.default_branch or (await api.get())["default_branch"]
    async with Conversation(api, pr.number, key or pull_key(pr.number), await rt.me(), last_attempt=last_attempt) as talk:
        config = await check_run.repo_config(api, default_branch)
        if isinstance(config, repoconfig.ConfigError):
            return await talk.say(render.config_error(str(config)))
        if not config.triggers.pull_request:
            log.info("pull request #%s: the pull_request trigger is off in %s", pr.number, repoconfig.PATH)
            return
        claim = Claim(check_run.Trigger(api, installation, pr.number, is_pr=True, sha=pr.head_sha,
                                        event="pull_request", payload=pr.payload),
                      base_sha=pr.base_sha, fork=pr.fork, by=pr.author or None)
        await verify_pull(rt, talk, config, claim, links, delivery)


def _derived(session_id: str, what: str) -> str:
    """Another session id from one (stable on a retry, unguessable like the first)."""
    return hashlib.sha256(f"{session_id}:{what}".encode()).hexdigest()[:32]


def pull_key(number: int) -> str:
    """One comment per pull request, whatever its pushes: found again and edited in place."""
    return f"pull-{number}"


@dataclass(frozen=True)
class Claim:
    """A pull request that says it fixes issues, at one push: the trigger on its head commit,
    its base, whether it comes from a fork, who asked (its author, or the commenter, for their
    history), and the two trees once checked out."""

    trigger: check_run.Trigger  # its ``sha`` is the head's
    base_sha: str
    fork: bool
    by: str | None = None
    base: Path | None = None
    head: Path | None = None

    @property
    def number(self) -> int:
        return self.trigger.number

    @property
    def head_sha(self) -> str:
        return self.trigger.sha

    def check_key(self, issue: int) -> str:
        """The check run (and its suggestion review) for one issue at this push."""
        return f"{pull_key(self.number)}-{issue}-{self.head_sha[:12]}"


async def verify_pull(rt: AppRuntime, talk: Conversation, config: repoconfig.RepoConfig, claim: Claim, links: Linked,
                      delivery: str) -> None:
    """Each linked issue reproduced on the base and the head judged against it, one check run each."""
    api, installation, number = talk.api, claim.trigger.installation, claim.number
    quota = rt.store.quota(installation, rt.daily_credits)
    if quota.remaining <= 0:
        return await talk.say(render.quota_exhausted(quota))
    issues = links.numbers[: config.max_failures]
    await talk.say(render.pull_working(number, claim.head_sha, issues))
    claim = dataclasses.replace(claim, base=await checkout(api, claim.base_sha, rt.settings.home),
                                head=await checkout(api, claim.head_sha, rt.settings.home))
    verdicts: list[PullVerdict] = []
    for n, issue in enumerate(issues):
        check = CheckRun(api, claim.head_sha, claim.check_key(issue), name=render.pull_check_name(issue))
        await check.start(rt.link(rt.session_id(delivery, n)))
        verdict = await _one(rt, check, config, claim, issue, rt.session_id(delivery, n))
        verdicts.append(verdict)
        claim.trigger.remember(rt, check.key, [verdict.offered] if verdict.offered else [])
    left = [f"#{i}" for i in links.numbers[len(issues):]] + list(links.elsewhere)
    await talk.say(render.pull_result(number, claim.head_sha, [(v.issue, v.kind.value, v.detail, v.conclusion,
                                                                bool(v.offered),
                                                                rt.link(v.session.id) if v.session else None)
                                                               for v in verdicts],
                                      left, rt.store.quota(installation, rt.daily_credits)))


async def _one(rt: AppRuntime, check: CheckRun, config: repoconfig.RepoConfig, claim: Claim, issue: int,
               session_id: str) -> PullVerdict:
    api, number = claim.trigger.api, claim.number
    assert claim.base is not None and claim.head is not None
    data = await api.issue(issue)
    if data.get("pull_request"):
        verdict = PullVerdict(issue, Kind.UNVERIFIED, f"#{issue} is a pull request, not an issue")
        return await _unjudged(check, verdict)
    thread = [c.get("body") or "" async for c in api.comments(issue) if (c.get("user") or {}).get("type") != "Bot"]
    text = input_text("", data.get("body"), thread, title=data.get("title"), failure=holds_failure)
    if not text:
        verdict = PullVerdict(issue, Kind.NOT_REPRODUCED, f"#{issue} holds no traceback or failing test to reproduce")
        return await _unjudged(check, verdict)
    req = VerifyRequest(path=claim.base, error_log=text.encode("utf-8"), issue_text=text, trigger="pull_request",
                        session_id=session_id, cache=False,
                        origin=check_run.origin(api, claim.base_sha, pull=number, issue=issue), requested_by=claim.by,
                        judge=JudgeTree(path=claim.head, label=f"pull request #{number}", base_commit=claim.base_sha,
                                        head_commit=claim.head_sha))
    lines: list[str] = []
    try:
        session = await check_run.run(rt, check, config, req, lines)
    except BadInput as exc:
        verdict = PullVerdict(issue, Kind.UNVERIFIED, render.problem(exc))
        return await _unjudged(check, verdict)
    verdict = verdict_of(issue, session)
    if verdict.kind is Kind.FIXES:  # one credit per verified verdict (given even when the quota ran out meanwhile)
        rt.store.spend_credit(claim.trigger.installation, session.id, rt.daily_credits)
    elif verdict.kind is Kind.DOES_NOT_FIX:
        verdict = await _offer(rt, config, claim, text, _derived(session_id, "offer"), verdict)
    await check.finish(verdict.conclusion, render.pull_check(verdict.kind.value, issue, verdict.detail, session, lines,
                                                             rt.link(session.id),
                                                             proof=check_run.proof_text(rt, session)),
                       apply_button=verdict.offered is not None)  # "Apply fix" commits the offered fix
    return verdict


async def _unjudged(check: CheckRun, verdict: PullVerdict) -> PullVerdict:
    """A verdict given before any run (nothing to reproduce, not an issue, bad input): neutral."""
    await check.finish("neutral", render.pull_check(verdict.kind.value, verdict.issue, verdict.detail, None, [], None))
    return verdict


async def _offer(rt: AppRuntime, config: repoconfig.RepoConfig, claim: Claim, text: str, session_id: str,
                 verdict: PullVerdict) -> PullVerdict:
    """The head does not fix it: search for a fix on top of the head, and offer a verified one.
    A fork's pull request gets the offline engine only: its code never goes to a model provider
    on the repository's keys."""
    api, issue = claim.trigger.api, verdict.issue
    assert claim.head is not None
    req = VerifyRequest(path=claim.head, error_log=text.encode("utf-8"), issue_text=text, trigger="pull_request",
                        session_id=session_id, cache=False, brain="offline" if claim.fork else "auto",
                        origin=check_run.origin(api, claim.head_sha, pull=claim.number, issue=issue,
                                                head_repo=f"fork-of/{api.full_name}" if claim.fork else None),
                        requested_by=claim.by)
    session = await check_run.run(rt, None, config, req, [])
    blocked, _ = await check_run.publish_suggestions(rt, claim.trigger, session, claim.check_key(issue))
    if session.status is not SessionStatus.VERIFIED or blocked is not None:
        return verdict
    return PullVerdict(verdict.issue, verdict.kind, verdict.detail, verdict.session, offered=session.id)
