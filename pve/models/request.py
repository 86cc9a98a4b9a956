"""What one verification is asked (``VerifyRequest``): where the code is and where it came from
(a GitHub ``Origin``), the failure, how to reproduce it, and someone else's fix to judge instead
of a search (``JudgeTree``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

BRAIN_MODES: tuple[str, ...] = ("offline", "models", "auto")


class JudgeTree(BaseModel):
    """Someone else's fix, judged as the one candidate instead of a search: a pull request's head.
    The request's ``path`` is its base."""

    path: Path
    label: str  # "pull request #7": the console and the proof name it so
    base_commit: str = ""
    head_commit: str = ""


class Origin(BaseModel):
    """Where a GitHub session's code came from, for its page's links."""

    repo: str  # "owner/name"
    sha: str  # the commit verified
    pull: int | None = None  # the pull request, when the session is about one
    issue: int | None = None  # the issue: the one commented on, or the one a pull request claims to fix
    web: str = "https://github.com"
    # Who may see the session's page: anyone when the repository is public; otherwise only a
    # signed-in user whose own token can read it. Unknown means private (zero trust).
    private: bool = True
    installation: int | None = None
    # the fork whose code this is (a fork's pull request or its CI run): its environments are
    # built and kept apart from the repository's own (sandbox/environments.py: tenant_of)
    fork: str | None = None


class VerifyRequest(BaseModel):
    """What one verification is asked: where the code is, the failure, how to reproduce it."""

    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")

    path: Path
    error_log: bytes | None = None
    test: str | None = None
    cmd: str | None = None
    trigger: str = "cli"
    brain: str = "auto"  # offline | models | auto (offline engine first, models when it finds nothing)
    issue_text: str | None = None  # the issue or comment the request came from: untrusted data
    cache: bool = True  # try (and store) the last verified fix for the same error signature
    session_id: str | None = None  # given by a retried job, so its branch and comment are found again
    suite: list[str] | None = None  # pytest arguments for the regression suite (default: all tests)
    protected: tuple[str, ...] = ()  # globs of paths no fix may touch
    timeout_s: float | None = None  # wall clock per sandboxed run, if tighter than the sandbox's
    install: dict[str, Any] | None = None  # the repository's own install section (.github/pve.yml)
    judge: JudgeTree | None = None  # judge someone else's fix instead of searching for one
    origin: Origin | None = None  # a GitHub session's repository, commit, pull request, issue
    requested_by: str | None = None  # the GitHub login that asked, for their history
    unlisted: bool = False  # a playground session (see Session.unlisted)
