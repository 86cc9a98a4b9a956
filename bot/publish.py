"""Publishing on GitHub, idempotently: a retried job finds what it already wrote and edits it.

- ``Reply``: the one comment per trigger (found again by its hidden marker and PVE's login).
- ``CheckRun``: the "PVE verification" check run (found again by ``external_id``).
- ``fix_pull_request``: branch ``pve/fix-<session>`` with one commit, then the PR (both found again).
- ``suggestion_review``: one COMMENT review with suggestion blocks (found again by its marker).
- ``apply_to_branch``: the "Apply fix" button: a fast-forward commit on the PR's branch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from bot import render
from bot.github import GitHubError, RepoAPI
from bot.suggestions import plan_review

log = logging.getLogger("pve.bot")
WORKFLOWS = ".github/workflows/"  # changing these needs the `workflows` permission: PVE never does


class Reply:
    """The comment PVE owns for one trigger on one issue or PR."""

    def __init__(self, api: RepoAPI, number: int, key: str, bot_login: str) -> None:
        self.api = api
        self.number = number
        self.key = key
        self.bot_login = bot_login
        self.comment_id: int | None = None
        self._looked = False
        self.body: str | None = None

    async def _find(self) -> None:
        self.adopt([c async for c in self.api.comments(self.number)])

    def adopt(self, comments: list[dict]) -> None:
        """Find PVE's comment in a listing the caller already has (saves listing them twice)."""
        tag = render.marker(self.key)
        for c in comments:
            if tag in (c.get("body") or "") and (c.get("user") or {}).get("login") == self.bot_login:
                self.comment_id = c["id"]
                self.body = c["body"]
        self._looked = True

    async def say(self, text: str) -> None:
        body = render.with_marker(self.key, text)
        if not self._looked:
            await self._find()
        if body == self.body:
            return
        if self.comment_id is None:
            self.comment_id = (await self.api.comment(self.number, body))["id"]
        else:
            await self.api.edit_comment(self.comment_id, body)
        self.body = body


class CheckRun:
    """PVE's check run for one trigger on one commit ("PVE verification"; a pull request's claim to
    fix an issue gets one per issue, named for it)."""

    def __init__(self, api: RepoAPI, sha: str, key: str, name: str = render.CHECK_NAME) -> None:
        self.api = api
        self.sha = sha
        self.key = key
        self.name = name
        self.id: int | None = None
        self._last_summary: str | None = None

    async def start(self, details_url: str | None) -> None:
        for run in await self.api.check_runs(self.sha, self.name):
            if run.get("external_id") == self.key:
                self.id = run["id"]
        fields: dict[str, Any] = {"status": "in_progress", "output": render.check_in_progress([])}
        if details_url:
            fields["details_url"] = details_url
        if self.id is None:
            run = await self.api.create_check(name=self.name, head_sha=self.sha, external_id=self.key, **fields)
            self.id = run["id"]
        else:
            await self.api.update_check(self.id, **fields)

    async def progress(self, lines: list[str]) -> None:
        output = render.check_in_progress(lines)
        if self.id is None or output["summary"] == self._last_summary:
            return
        await self.api.update_check(self.id, output=output)
        self._last_summary = output["summary"]

    async def finish(self, conclusion: str, output: dict[str, Any], *, apply_button: bool = False) -> None:
        assert self.id is not None
        notes = output.pop("annotations", [])
        first, rest = notes[: render.MAX_ANNOTATIONS], notes[render.MAX_ANNOTATIONS:]
        actions = [{"label": "Apply fix", "identifier": render.APPLY_ID,
                    "description": "Commit the verified fix to this branch"}] if apply_button else []
        await self.api.update_check(self.id, status="completed", conclusion=conclusion, actions=actions,
                                    output={**output, **({"annotations": first} if first else {})})
        while rest:  # GitHub takes 50 annotations per request; later PATCHes append
            chunk, rest = rest[: render.MAX_ANNOTATIONS], rest[render.MAX_ANNOTATIONS:]
            await self.api.update_check(self.id, output={"title": output["title"], "summary": output["summary"],
                                                         "annotations": chunk})


def publishable(files: dict[str, str]) -> str | None:
    """Why a fix cannot be published (None: it can)."""
    bad = [p for p in files if p.startswith(WORKFLOWS)]
    if bad:
        return f"the fix changes {bad[0]}, and PVE never edits workflow files"
    return None


@dataclass(frozen=True)
class FixPull:
    """A fix pull request to open: one commit of ``files`` on ``base_sha``, proposed to
    ``base_branch``. ``draft``: a fix that is plausible, not verified (only where the repository
    opted in)."""

    session_id: str
    base_sha: str
    base_branch: str
    files: dict[str, str]
    title: str
    body: str
    message: str
    draft: bool = False


async def fix_pull_request(api: RepoAPI, fix: FixPull) -> dict[str, Any]:
    """Branch ``pve/fix-<session>`` (one commit on ``base_sha``) and its PR; reused when they exist."""
    branch = f"pve/fix-{fix.session_id}"
    existing = await api.open_pull_for(branch)
    if existing is not None:
        return existing
    if await api.branch_sha(branch) is None:
        commit = await api.commit_files(fix.base_sha, fix.files, fix.message)
        try:
            await api.create_branch(branch, commit)
        except GitHubError as exc:
            if exc.status != 422:  # 422: it exists (a racing retry made it): use it
                raise
    return await api.create_pull(head=branch, base=fix.base_branch, title=fix.title, body=fix.body, draft=fix.draft)


async def suggestion_review(api: RepoAPI, *, number: int, head_sha: str, key: str, diff: str, body_for, note: str = "") -> dict[str, Any]:
    """One COMMENT review: suggestions inside the PR diff, the rest as a diff in the body.

    ``body_for(outside_hunks)`` renders the body. If GitHub still refuses a comment's lines (422),
    the whole fix goes into the body instead: the result is shown either way."""
    tag = render.marker(key)
    async for review in api.reviews(number):
        if tag in (review.get("body") or ""):
            return review
    patches = {f["filename"]: f.get("patch") or "" async for f in api.pull_files(number)}
    plan = plan_review(diff, patches, note)
    try:
        return await api.review(number, commit_id=head_sha, body=render.with_marker(key, body_for(plan.outside)),
                                comments=plan.comments)
    except GitHubError as exc:
        if exc.status != 422 or not plan.comments:
            raise
        log.warning("review with suggestions refused (%s); posting the fix as a diff", exc)
        whole = plan_review(diff, {}, note)
        return await api.review(number, commit_id=head_sha, body=render.with_marker(key, body_for(whole.outside)), comments=[])


async def apply_to_branch(api: RepoAPI, *, branch: str, head_sha: str, files: dict[str, str], message: str) -> str:
    """Commit the fix on top of ``head_sha`` and fast-forward ``branch`` to it; returns the commit sha.
    GitHub refuses (422) if the branch moved since: PVE never overwrites someone's push."""
    commit = await api.commit_files(head_sha, files, message)
    await api.move_branch(branch, commit)
    return commit
