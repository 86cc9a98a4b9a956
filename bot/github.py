"""GitHub I/O through githubkit: app auth, and the calls PVE makes on one repository.

Results are the raw JSON dicts: githubkit's strict response models reject some real payloads
(PLATFORM.md), and PVE reads only a few fields. Request bodies still go through githubkit's
models, so a malformed body fails here rather than at GitHub.

Retries: a rate limit waits out ``retry-after`` (bounded); a 5xx is retried twice. Everything
else surfaces as ``GitHubError`` with the status and GitHub's message.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from pve.errors import PVEError
from pve.settings import GitHubAppSettings

PER_PAGE = 100
MAX_PAGES = 20  # 2,000 comments / files / jobs: more is not a conversation PVE should read


class GitHubError(PVEError):
    """A GitHub request failed (after retries)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def _retry_policy(max_wait_s: float):
    from githubkit.exception import RateLimitExceeded, RequestFailed
    from githubkit.typing import RetryOption

    def decide(exc: Exception, count: int) -> RetryOption:
        if isinstance(exc, RateLimitExceeded) and count < 2:
            wait = exc.retry_after.total_seconds()
            if wait <= max_wait_s:
                return RetryOption(True, exc.retry_after)
        if isinstance(exc, RequestFailed) and exc.response.status_code >= 500 and count < 2:
            return RetryOption(True, timedelta(seconds=0.5 * (count + 1)))
        return RetryOption(False)

    return decide


class GitHubApp:
    """The app: a JWT-authenticated client that hands out installation clients (tokens cached)."""

    def __init__(self, settings: GitHubAppSettings, *, timeout_s: float = 30.0, max_rate_wait_s: float = 60.0) -> None:
        from githubkit import AppAuthStrategy, GitHub
        from githubkit.cache import MemCacheStrategy

        self.settings = settings
        # Its own token cache: githubkit's default is process-wide, keyed by app and installation
        # id only, so two apps (or a test's fresh server) would be handed each other's tokens.
        self._gh = GitHub(AppAuthStrategy(settings.app_id, settings.private_key_pem),
                          base_url=settings.api_url + "/", timeout=timeout_s, cache_strategy=MemCacheStrategy(),
                          auto_retry=_retry_policy(max_rate_wait_s), user_agent="pve-truth-engine")

    async def bot_login(self) -> str:
        """The login PVE's comments carry (``<app slug>[bot]``), from ``GET /app``."""
        data = await _json(self._gh.rest.apps.async_get_authenticated())
        return f"{data['slug']}[bot]"

    def repo(self, installation_id: int, full_name: str, *, private: bool = True) -> RepoAPI:
        owner, _, name = full_name.partition("/")
        return RepoAPI(self._gh.with_auth(self._gh.auth.as_installation(installation_id)), owner, name,
                       installation=installation_id, private=private)


async def _call(coro) -> Any:
    """Await a githubkit call; turn its failures into one ``GitHubError``."""
    from githubkit.exception import GitHubException, RequestFailed

    try:
        return await coro
    except RequestFailed as exc:
        status = exc.response.status_code
        try:
            message = exc.response.json().get("message", "")
        except ValueError:
            message = exc.response.text[:200]
        raise GitHubError(f"GitHub answered {status} for {exc.request.method} {exc.request.url.path}: {message}",
                          status) from None
    except GitHubException as exc:
        raise GitHubError(f"GitHub request failed: {exc}") from None


async def _json(coro) -> Any:
    return (await _call(coro)).json()


async def manifest_conversion(api_url: str, code: str) -> dict[str, Any]:
    """``POST /app-manifests/{code}/conversions``: the new app's id, slug, key and webhook secret.
    The code is single-use and valid for an hour; it is the only credential this call needs."""
    from githubkit import GitHub, UnauthAuthStrategy

    gh = GitHub(UnauthAuthStrategy(), base_url=api_url.rstrip("/") + "/", timeout=30)
    return await _json(gh.rest.apps.async_create_from_manifest(code))


class RepoAPI:
    """The calls PVE makes on one repository, as one installation."""

    def __init__(self, gh: Any, owner: str, name: str, *, installation: int | None = None,
                 private: bool = True) -> None:
        self.gh = gh
        self.owner = owner
        self.name = name
        self.installation = installation
        self.private = private  # as the delivery said (unknown = private): who may see its sessions' pages
        self.rest = gh.rest

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    async def _pages(self, fn, *args: Any, key: str | None = None, **kwargs: Any) -> AsyncIterator[dict[str, Any]]:
        for page in range(1, MAX_PAGES + 1):
            data = await _json(fn(self.owner, self.name, *args, per_page=PER_PAGE, page=page, **kwargs))
            items = data[key] if key else data
            for item in items:
                yield item
            if len(items) < PER_PAGE:
                return

    # repository, permissions, files

    async def get(self) -> dict[str, Any]:
        return await _json(self.rest.repos.async_get(self.owner, self.name))

    async def permission(self, login: str) -> str:
        """admin | maintain | write | triage | read | none (the role, where GitHub gives one)."""
        data = await _json(self.rest.repos.async_get_collaborator_permission_level(self.owner, self.name, login))
        return data.get("role_name") or data.get("permission") or "none"

    async def branch_sha(self, branch: str) -> str | None:
        try:
            data = await _json(self.rest.git.async_get_ref(self.owner, self.name, f"heads/{branch}"))
        except GitHubError as exc:
            if exc.status == 404:
                return None
            raise
        return data["object"]["sha"]

    async def file_text(self, path: str, ref: str) -> str | None:
        """A file's text at a ref, or None when it does not exist."""
        try:
            data = await _json(self.rest.repos.async_get_content(self.owner, self.name, path, ref=ref))
        except GitHubError as exc:
            if exc.status == 404:
                return None
            raise
        if not isinstance(data, dict) or data.get("type") != "file":
            return None
        return base64.b64decode(data.get("content") or "").decode("utf-8", errors="replace")

    async def tarball(self, sha: str) -> bytes:
        """The repository at ``sha`` as .tar.gz (GitHub answers 302 to a short-lived URL)."""
        return (await _call(self.rest.repos.async_download_tarball_archive(self.owner, self.name, sha))).content

    # issues and comments

    def comments(self, number: int) -> AsyncIterator[dict[str, Any]]:
        return self._pages(self.rest.issues.async_list_comments, number)

    async def comment(self, number: int, body: str) -> dict[str, Any]:
        return await _json(self.rest.issues.async_create_comment(self.owner, self.name, number, body=body))

    async def edit_comment(self, comment_id: int, body: str) -> dict[str, Any]:
        return await _json(self.rest.issues.async_update_comment(self.owner, self.name, comment_id, body=body))

    async def react(self, comment_id: int, content: str) -> None:
        await _call(self.rest.reactions.async_create_for_issue_comment(self.owner, self.name, comment_id, content=content))

    async def issue(self, number: int) -> dict[str, Any]:
        return await _json(self.rest.issues.async_get(self.owner, self.name, number))

    # pull requests and reviews

    def pull_commits(self, number: int) -> AsyncIterator[dict[str, Any]]:
        return self._pages(self.rest.pulls.async_list_commits, number)

    async def pull(self, number: int) -> dict[str, Any]:
        return await _json(self.rest.pulls.async_get(self.owner, self.name, number))

    def pull_files(self, number: int) -> AsyncIterator[dict[str, Any]]:
        return self._pages(self.rest.pulls.async_list_files, number)

    def reviews(self, number: int) -> AsyncIterator[dict[str, Any]]:
        return self._pages(self.rest.pulls.async_list_reviews, number)

    async def review(self, number: int, *, commit_id: str, body: str, comments: list[dict[str, Any]]) -> dict[str, Any]:
        return await _json(self.rest.pulls.async_create_review(
            self.owner, self.name, number, commit_id=commit_id, body=body, event="COMMENT", comments=comments))

    async def open_pull_for(self, branch: str) -> dict[str, Any] | None:
        data = await _json(self.rest.pulls.async_list(self.owner, self.name, head=f"{self.owner}:{branch}", state="all"))
        return data[0] if data else None

    async def pulls_for_commit(self, sha: str) -> list[dict[str, Any]]:
        return await _json(self.rest.repos.async_list_pull_requests_associated_with_commit(self.owner, self.name, sha))

    async def create_pull(self, *, head: str, base: str, title: str, body: str, draft: bool = False) -> dict[str, Any]:
        return await _json(self.rest.pulls.async_create(self.owner, self.name, head=head, base=base, title=title, body=body,
                                                        draft=draft))

    # git data: one commit on top of a parent

    async def commit_files(self, parent_sha: str, files: dict[str, str], message: str) -> str:
        """A new commit whose tree is the parent's with ``files`` replaced; returns its sha."""
        parent = await _json(self.rest.git.async_get_commit(self.owner, self.name, parent_sha))
        tree = await _json(self.rest.git.async_create_tree(
            self.owner, self.name, base_tree=parent["tree"]["sha"],
            tree=[{"path": p, "mode": "100644", "type": "blob", "content": text} for p, text in sorted(files.items())]))
        commit = await _json(self.rest.git.async_create_commit(
            self.owner, self.name, message=message, tree=tree["sha"], parents=[parent_sha]))
        return commit["sha"]

    async def create_branch(self, branch: str, sha: str) -> None:
        await _call(self.rest.git.async_create_ref(self.owner, self.name, ref=f"refs/heads/{branch}", sha=sha))

    async def move_branch(self, branch: str, sha: str) -> None:
        """Fast-forward only: GitHub refuses (422) if someone pushed in between."""
        await _call(self.rest.git.async_update_ref(self.owner, self.name, f"heads/{branch}", sha=sha, force=False))

    # check runs

    async def check_runs(self, sha: str, name: str) -> list[dict[str, Any]]:
        data = await _json(self.rest.checks.async_list_for_ref(self.owner, self.name, sha, check_name=name, per_page=PER_PAGE))
        return data["check_runs"]

    async def create_check(self, **fields: Any) -> dict[str, Any]:
        return await _json(self.rest.checks.async_create(self.owner, self.name, data=fields))

    async def update_check(self, check_run_id: int, **fields: Any) -> dict[str, Any]:
        return await _json(self.rest.checks.async_update(self.owner, self.name, check_run_id, data=fields))

    # actions

    def run_jobs(self, run_id: int) -> AsyncIterator[dict[str, Any]]:
        return self._pages(self.rest.actions.async_list_jobs_for_workflow_run, run_id, key="jobs", filter_="latest")

    async def job_log(self, job_id: int) -> bytes:
        """A job's log (GitHub answers 302 to a plain-text blob valid for a minute)."""
        return (await _call(self.rest.actions.async_download_job_logs_for_workflow_run(self.owner, self.name, job_id))).content
