"""Which deliveries are work for PVE, parsed into small typed triggers. Pure: no I/O.

``ROUTES`` is the one routing table: the webhook edge asks ``intake`` (parse, then "is it for
us?") before queueing, so a busy repository's comments and green CI runs never reach the queue;
the worker's dispatch (``statemachine.github.dispatch``) parses the queued payload the same way
and picks the handler by the trigger's type. Payloads are read defensively: GitHub's real
examples do not all carry every field, and a missing field must mean "not for us", never a crash.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

COMMAND = "/pve"


def _get(payload: Any, *keys: str) -> Any:
    cur = payload
    for key in keys:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(key)
    return cur


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class Repo:
    """Where a trigger happened: the installation and repository it came through."""

    installation: int | None
    full_name: str
    default_branch: str | None
    private: bool = True  # unless the payload says it is public: the session pages' access rests on it

    @classmethod
    def of(cls, payload: dict[str, Any]) -> Repo:
        return cls(installation=_int(_get(payload, "installation", "id")),
                   full_name=_str(_get(payload, "repository", "full_name")) or "",
                   default_branch=_str(_get(payload, "repository", "default_branch")),
                   private=_get(payload, "repository", "private") is not False)


@dataclass(frozen=True)
class CommentCommand:
    """A ``/pve ...`` comment on an issue or a pull request (``issue_comment.created``)."""

    repo: Repo
    number: int
    is_pr: bool
    issue_body: str | None
    comment_id: int
    body: str
    login: str
    association: str | None
    by_bot: bool
    payload: dict[str, Any] = field(repr=False, compare=False)  # kept for "Re-run"
    issue_title: str | None = None

    @classmethod
    def parse(cls, payload: dict[str, Any]) -> CommentCommand:
        return cls(repo=Repo.of(payload), number=_int(_get(payload, "issue", "number")) or 0,
                   is_pr=bool(_get(payload, "issue", "pull_request")),
                   issue_body=_str(_get(payload, "issue", "body")),
                   issue_title=_str(_get(payload, "issue", "title")),
                   comment_id=_int(_get(payload, "comment", "id")) or 0,
                   body=_str(_get(payload, "comment", "body")) or "",
                   login=_str(_get(payload, "comment", "user", "login")) or "",
                   association=_str(_get(payload, "comment", "author_association")),
                   by_bot=_get(payload, "comment", "user", "type") == "Bot", payload=payload)

    def ignored(self) -> str | None:
        if not is_command(self.body):
            return "the comment is not a /pve command"
        if self.by_bot:
            return "comments by bots are ignored"
        return None


@dataclass(frozen=True)
class PullRef:
    number: int
    head_sha: str | None


@dataclass(frozen=True)
class FailedWorkflowRun:
    """A workflow run that completed (``workflow_run.completed``); work only when it failed."""

    repo: Repo
    run_id: int
    name: str
    head_sha: str
    conclusion: str | None
    pulls: tuple[PullRef, ...]  # as the payload lists them (a fork's PR is missing here)
    payload: dict[str, Any] = field(repr=False, compare=False)
    actor: str | None = None  # who started the run (the push or pull request behind it)
    head_repo: str = ""  # the repository the run's code came from (a fork's, for a fork's pull request)

    @classmethod
    def parse(cls, payload: dict[str, Any]) -> FailedWorkflowRun:
        run = _get(payload, "workflow_run") or {}
        pulls = tuple(PullRef(_int(_get(p, "number")) or 0, _str(_get(p, "head", "sha")))
                      for p in (_get(run, "pull_requests") or []) if isinstance(p, dict))
        return cls(repo=Repo.of(payload), run_id=_int(_get(run, "id")) or 0, name=_str(_get(run, "name")) or "CI",
                   head_sha=_str(_get(run, "head_sha")) or "", conclusion=_str(_get(run, "conclusion")),
                   pulls=pulls, payload=payload,
                   actor=_str(_get(run, "triggering_actor", "login")) or _str(_get(run, "actor", "login")),
                   head_repo=_str(_get(run, "head_repository", "full_name")) or "")

    @property
    def fork(self) -> str | None:
        """The fork the run's code came from, or None (the repository's own branches)."""
        return self.head_repo if self.head_repo and self.head_repo.lower() != self.repo.full_name.lower() else None

    def ignored(self) -> str | None:
        if self.conclusion != "failure":
            return f"the workflow run concluded {self.conclusion!r}, not 'failure'"
        return None


@dataclass(frozen=True)
class CheckRunButton:
    """A button on PVE's check run: "Apply fix" (``requested_action``) or "Re-run" (``rerequested``)."""

    action: str
    check_run_id: int
    external_id: str  # the trigger key PVE gave the check run
    identifier: str | None  # which requested action

    @classmethod
    def parse(cls, payload: dict[str, Any]) -> CheckRunButton:
        return cls(action=_str(payload.get("action")) or "", check_run_id=_int(_get(payload, "check_run", "id")) or 0,
                   external_id=_str(_get(payload, "check_run", "external_id")) or "",
                   identifier=_str(_get(payload, "requested_action", "identifier")))

    def ignored(self) -> str | None:
        return None


@dataclass(frozen=True)
class InstallationChange:
    """The app was installed on an account (``created``) or removed (``deleted``)."""

    action: str
    installation: int | None
    account: str

    @classmethod
    def parse(cls, payload: dict[str, Any]) -> InstallationChange:
        return cls(action=_str(payload.get("action")) or "", installation=_int(_get(payload, "installation", "id")),
                   account=_str(_get(payload, "installation", "account", "login")) or "")

    def ignored(self) -> str | None:
        return None


@dataclass(frozen=True)
class PullRequestChange:
    """A pull request opened, reopened, pushed to (``synchronize``) or with its body edited: work
    when it says it fixes an issue (its body or commits; the handler reads both)."""

    repo: Repo
    action: str
    number: int
    body: str
    head_sha: str
    base_sha: str
    head_repo: str  # the head's repository ("" when a fork was deleted)
    author: str
    by_bot: bool
    state: str | None
    body_changed: bool  # ``edited``: whether the body is what changed
    payload: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def parse(cls, payload: dict[str, Any]) -> PullRequestChange:
        pull = _get(payload, "pull_request") or {}
        return cls(repo=Repo.of(payload), action=_str(payload.get("action")) or "",
                   number=_int(_get(pull, "number")) or _int(payload.get("number")) or 0,
                   body=_str(_get(pull, "body")) or "", head_sha=_str(_get(pull, "head", "sha")) or "",
                   base_sha=_str(_get(pull, "base", "sha")) or "",
                   head_repo=_str(_get(pull, "head", "repo", "full_name")) or "",
                   author=_str(_get(pull, "user", "login")) or "", by_bot=_get(pull, "user", "type") == "Bot",
                   state=_str(_get(pull, "state")), body_changed=isinstance(_get(payload, "changes", "body"), dict),
                   payload=payload)

    @property
    def fork(self) -> bool:
        return self.head_repo.lower() != self.repo.full_name.lower()

    def ignored(self) -> str | None:
        if self.state not in (None, "open"):
            return f"the pull request is {self.state}"
        if self.by_bot:
            return "pull requests by bots are ignored"  # PVE's own fix PRs say "Fix #12" too
        if self.action == "edited" and not self.body_changed:
            return "the pull request was edited, but not its body"
        if not self.head_sha or not self.base_sha or not self.number:
            return "the payload has no pull request head, base or number"
        return None


Trigger = CommentCommand | FailedWorkflowRun | CheckRunButton | InstallationChange | PullRequestChange

# (event, action) -> how to read the payload. The one table: intake and dispatch both read it.
ROUTES: dict[tuple[str, str], Callable[[dict[str, Any]], Trigger]] = {
    ("issue_comment", "created"): CommentCommand.parse,
    ("workflow_run", "completed"): FailedWorkflowRun.parse,
    ("check_run", "requested_action"): CheckRunButton.parse,
    ("check_run", "rerequested"): CheckRunButton.parse,
    ("pull_request", "opened"): PullRequestChange.parse,
    ("pull_request", "reopened"): PullRequestChange.parse,
    ("pull_request", "synchronize"): PullRequestChange.parse,
    ("pull_request", "edited"): PullRequestChange.parse,
    ("installation", "created"): InstallationChange.parse,
    ("installation", "deleted"): InstallationChange.parse,
}


def is_command(body: object) -> bool:
    """Does a comment start with ``/pve`` (as a word: not ``/pvefoo``)?"""
    if not isinstance(body, str):
        return False
    first = body.lstrip().split(maxsplit=1)
    return bool(first) and first[0].lower() == COMMAND


def parse(event: str, payload: dict[str, Any]) -> Trigger | str:
    """The delivery's trigger, or why it is not work for PVE."""
    action = payload.get("action")
    reader = ROUTES.get((event, action)) if isinstance(action, str) else None
    if reader is None:
        what = f"{event}.{action}" if action else event
        return f"{what} is not an event PVE handles"
    trigger = reader(payload)
    return trigger.ignored() or trigger


def intake(event: str, payload: dict[str, Any]) -> tuple[bool, str]:
    """(queue it?, why) for one delivery."""
    got = parse(event, payload)
    return (False, got) if isinstance(got, str) else (True, "queued")
