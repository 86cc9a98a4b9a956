"""``pve action``: PVE as a step of the user's own workflow (``action.yml`` at the repository root).

Many maintainers cannot install a third-party App, or will not send their code to one. The same
engine runs where their tests already ran: a step after the failing test step, on the job's
checkout and runner. Nothing leaves the runner but calls to the repository's own GitHub API with
the token the workflow grants:

- on ``pull_request``: a review with suggestion blocks for a verified fix; a fork's pull request
  (a read-only token) gets the summary and the artifact only, said plainly;
- on ``push``: a fix branch and pull request for a verified fix, when ``post`` allows it;
- always: the job summary (the verdict in TRUTH.md's words, the diff, the oracle), the proof,
  its in-toto attestation and the diff in a folder the action uploads as an artifact, and the
  outputs ``verdict``, ``fix-diff``, ``proof``, ``attestation``, ``session``.

Only a verified fix is ever posted on GitHub; a plausible one is in the summary, named as such.
Everything is read from the variables Actions sets (``GITHUB_*``, ``RUNNER_TEMP``) and the
action's inputs (``INPUT_*``, as composite actions pass them here).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import secrets
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pve.errors import BadInput, PVEError

POSTS = ("suggestions", "pull-request", "summary")
WORDS = {"verified": "Verified fix", "plausible, not verified": "Plausible fix, not verified", "no fix": "No fix",
         "could not reproduce": "Could not reproduce", "could not install the dependencies":
         "Could not install the dependencies", "failed": "PVE failed"}


@dataclass
class ActionContext:
    """What the workflow gives the step."""

    event: str
    payload: dict[str, Any]
    repo: str
    sha: str
    ref: str
    workspace: Path
    token: str
    api_url: str
    run_url: str
    temp: Path
    summary: Path | None
    output: Path | None
    command: str | None
    log: Path | None
    post: frozenset[str]
    budget: float | None

    @classmethod
    def from_env(cls, env: dict[str, str]) -> ActionContext:
        def need(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                raise BadInput(f"{name} is not set: `pve action` runs as a step of a GitHub Actions job",
                               code="action-env")
            return value

        event_path = Path(need("GITHUB_EVENT_PATH"))
        try:
            payload = json.loads(event_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BadInput(f"cannot read the event payload {event_path}: {exc}", code="action-event") from None
        root = Path(need("GITHUB_WORKSPACE"))
        inside = env.get("INPUT_PATH", "").strip() or "."
        if Path(inside).is_absolute() or ".." in Path(inside).parts:
            raise BadInput(f"path must be a folder inside the workspace, got {inside!r}", code="action-input")
        workspace = (root / inside).resolve()
        if not workspace.is_dir():
            raise BadInput(f"path {inside!r} is not a folder of the workspace", code="action-input")
        log = env.get("INPUT_LOG", "").strip() or None
        post = frozenset(p.strip() for p in (env.get("INPUT_POST") or ",".join(POSTS)).split(",") if p.strip())
        unknown = sorted(post - set(POSTS))
        if unknown:
            raise BadInput(f"post: {', '.join(unknown)} is not one of {', '.join(POSTS)}", code="action-input")
        budget = env.get("INPUT_BUDGET", "").strip()
        try:
            seconds = float(budget) if budget else None
        except ValueError:
            raise BadInput(f"budget must be a number of seconds, got {budget!r}", code="action-input") from None
        command = env.get("INPUT_COMMAND", "").strip() or None
        if command is None and log is None:
            raise BadInput("give the failing test command (`command:`) or the log the failing step wrote (`log:`)",
                           code="action-input")
        server = env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
        repo = need("GITHUB_REPOSITORY")
        return cls(event=need("GITHUB_EVENT_NAME"), payload=payload, repo=repo, sha=need("GITHUB_SHA"),
                   ref=env.get("GITHUB_REF", ""), workspace=workspace, token=env.get("INPUT_TOKEN") or env.get("GITHUB_TOKEN", ""),
                   api_url=env.get("GITHUB_API_URL", "https://api.github.com").rstrip("/"),
                   run_url=f"{server}/{repo}/actions/runs/{env.get('GITHUB_RUN_ID', '')}",
                   temp=Path(env.get("RUNNER_TEMP") or "/tmp"), summary=_path(env.get("GITHUB_STEP_SUMMARY")),
                   output=_path(env.get("GITHUB_OUTPUT")), command=command,
                   log=(root / log) if log and not Path(log).is_absolute() else _path(log), post=post,
                   budget=seconds)

    @property
    def pull(self) -> dict[str, Any] | None:
        pull = self.payload.get("pull_request")
        return pull if self.event.startswith("pull_request") and isinstance(pull, dict) else None

    @property
    def fork(self) -> bool:
        """A fork's pull request: its workflow token cannot write to this repository."""
        pull = self.pull
        head = ((pull or {}).get("head") or {}).get("repo") or {}
        return pull is not None and (head.get("full_name") or "").lower() != self.repo.lower()


def _path(value: str | None) -> Path | None:
    return Path(value) if value and value.strip() else None


# --------------------------------------------------------------------------- the verification


def request(ctx: ActionContext, config: Any) -> Any:
    """The verification the step asks for, under ``.github/pve.yml`` as the App reads it."""
    from brain.intake import commandline
    from pve.models import VerifyRequest

    error_log = None
    if ctx.log is not None:
        try:
            error_log = ctx.log.read_bytes()
        except OSError as exc:
            raise BadInput(f"cannot read the log {ctx.log}: {exc.strerror}", code="action-input") from None
    test = cmd = None
    if ctx.command:
        argv = commandline.split(ctx.command)
        pytest_like = commandline.strip_prefix(argv, commandline.PYTEST_PREFIXES) is not None
        test, cmd = (ctx.command, None) if pytest_like else (None, ctx.command)
    return VerifyRequest(path=ctx.workspace, error_log=error_log, test=test, cmd=cmd, trigger="action",
                         suite=list(config.tests) or None, protected=tuple(config.ignore), timeout_s=config.timeout,
                         install=config.install.model_dump() if config.install else None)


def summary(ctx: ActionContext, session: Any, posted: str) -> str:
    """The job summary: the verdict in TRUTH.md's words, what was posted, the diff, the oracle."""
    status = session.status.value
    headline = session.analysis.headline() if session.analysis else "the failure"
    lines = [f"## PVE: {WORDS.get(status, status)}", "", f"For `{headline}`: {session.message}.", ""]
    winner = session.winning_candidate()
    if winner is not None:
        if status == "plausible, not verified":
            lines += ["This is **not a verified fix**: it passed the reproduction only. It is shown as a lead, and "
                      "nothing was posted on GitHub.", ""]
        lines += ["```diff", winner.diff.rstrip("\n"), "```", ""]
    if session.oracle_note:
        lines += [f"Regression oracle: {session.oracle_note}.", ""]
    lines += [f"Posted: {posted}.", "",
              f"The signed proof, its in-toto attestation and the diff are in this run's artifact "
              f"`pve-{session.id}` ({ctx.run_url}); `pve proof verify` checks them"
              + (f", with the key `{session.proof_key}`." if session.proof_key else "."), ""]
    return "\n".join(lines)


async def publish(ctx: ActionContext, session: Any) -> str:
    """Post a verified fix where the event allows it; returns what was done, in words."""
    from githubkit import GitHub, TokenAuthStrategy

    from bot import render
    from bot.github import RepoAPI
    from bot.publish import FixPull, fix_pull_request, publishable, suggestion_review
    from pve.models import SessionStatus

    winner = session.winning_candidate()
    if session.status is not SessionStatus.VERIFIED or winner is None:
        return "nothing: PVE posts only verified fixes"
    files = {e.path: e.new_text for e in winner.edits}
    problem = publishable(files)
    if problem:
        return f"nothing: {problem}"
    pull = ctx.pull
    if pull is not None and ctx.fork:
        return ("nothing on the pull request: it comes from a fork, and a fork's workflow token cannot write here; "
                "the fix is in this summary and the artifact")
    if pull is not None and "suggestions" not in ctx.post:
        return "nothing on the pull request (`post` leaves out suggestions)"
    if pull is None and (ctx.event != "push" or "pull-request" not in ctx.post):
        return f"nothing: on `{ctx.event}` the action posts only its summary" if ctx.event != "push" else \
            "nothing (`post` leaves out pull-request)"
    if not ctx.token:
        return "nothing: no token (give `token:`)"
    owner, _, name = ctx.repo.partition("/")
    gh = GitHub(TokenAuthStrategy(ctx.token), base_url=ctx.api_url + "/", user_agent="pve-truth-engine-action")
    api = RepoAPI(gh, owner, name)
    if pull is not None:
        head = pull["head"]["sha"]
        if ctx.sha != head:
            # The job checked out the merge commit (actions/checkout's default on pull_request):
            # the fix's line numbers are that commit's, which suggestions on the head could miss
            # by lines. The whole fix goes in the review's body as a diff instead.
            review = await api.review(int(pull["number"]), commit_id=head, comments=[], body=render.with_marker(
                f"action-{session.id}", render.review_body(session, [winner.diff], None)))
            return (f"a review on #{pull['number']} with the fix as a diff (verified on the merge commit "
                    f"{ctx.sha[:7]}, not the head: check out the head for suggestions)")
        review = await suggestion_review(api, number=int(pull["number"]), head_sha=head,
                                         key=f"action-{session.id}", diff=winner.diff,
                                         body_for=lambda outside: render.review_body(session, outside, None))
        return f"a review with suggestions on #{pull['number']}" + (f" ({review['html_url']})" if review.get("html_url") else "")
    branch = ctx.ref.removeprefix("refs/heads/") or ctx.payload.get("repository", {}).get("default_branch", "main")
    headline = session.analysis.headline() if session.analysis else "the failure"
    body = "\n".join([f"PVE reproduced `{headline}` in a sandbox on {branch} ({ctx.sha[:7]}) and verified this fix: "
                      f"candidate {winner.id} ({winner.rule}), oracle: {session.oracle.value if session.oracle else 'none'}.",
                      "", winner.rationale, "", f"The workflow run, its summary and the signed proof: {ctx.run_url}"])
    pr = await fix_pull_request(api, FixPull(
        session_id=session.id, base_sha=ctx.sha, base_branch=branch, files=files, title=f"Fix {headline}"[:250],
        body=body, message=f"Fix {headline}: verified by PVE (session {session.id})\n\n{winner.rationale}"))
    return f"fix pull request #{pr['number']}" + (f" ({pr['html_url']})" if pr.get("html_url") else "")


def job_environment(ctx: ActionContext, env: dict[str, str]) -> Path | None:
    """The virtualenv the job's test step built, reused instead of building the project's
    environment again: ``python-environment`` when given, else ``.venv`` or ``venv`` in the
    project's folder, else the one the job activated (``VIRTUAL_ENV``)."""
    given = env.get("INPUT_PYTHON_ENVIRONMENT", "").strip()
    root = Path(env.get("GITHUB_WORKSPACE", str(ctx.workspace))).resolve()
    options = [Path(given) if Path(given).is_absolute() else ctx.workspace / given] if given else \
        [ctx.workspace / ".venv", ctx.workspace / "venv", *([_path(env["VIRTUAL_ENV"])] if env.get("VIRTUAL_ENV") else [])]
    for candidate in options:
        if candidate is None or not (candidate / "pyvenv.cfg").is_file():
            continue
        # A virtualenv links to an interpreter the runner installed; one whose python is a file of
        # the repository (a committed .venv) would run on the runner when PVE probes it: never used.
        if (candidate / "bin" / "python").resolve().is_relative_to(root):
            print(f"pve: not using {candidate}: its bin/python is a file of the repository", file=sys.stderr)
            continue
        return candidate
    return None


def _write_outputs(ctx: ActionContext, values: dict[str, str]) -> None:
    if ctx.output is None:
        return
    with ctx.output.open("a", encoding="utf-8") as f:
        for key, value in values.items():
            # (a value may quote GitHub's or the report's words: a delimiter nobody can guess)
            end = f"PVE_{secrets.token_hex(8)}"
            f.write(f"{key}={value}\n" if "\n" not in value else f"{key}<<{end}\n{value}\n{end}\n")


def main(env: dict[str, str]) -> int:
    """One verification as a workflow step; 0 whatever the verdict (the outputs carry it), 2
    when the step is set up wrongly."""
    from bot import repoconfig
    from entrypoints import bootstrap
    from pve.settings import Settings
    from statemachine.runner import verify

    try:
        ctx = ActionContext.from_env(env)
        config_file = ctx.workspace / ".github" / "pve.yml"
        config = repoconfig.parse(config_file.read_text(encoding="utf-8") if config_file.is_file() else None)
        req = request(ctx, config)
    except (BadInput, repoconfig.ConfigError) as exc:
        print(f"pve: {exc}", file=sys.stderr)
        return 2
    home = ctx.temp / "pve-home"
    venv = job_environment(ctx, env)
    if venv is not None:  # the test step's own environment: not built again
        print(f"pve: using the job's virtualenv {venv}", file=sys.stderr)
    try:
        settings = dataclasses.replace(
            Settings.from_env({**env, "PVE_HOME": str(home), **({"PVE_ENV_FROM": str(venv)} if venv else {})}), home=home)
        settings = settings.with_limits(max_candidates=min(config.candidates, settings.max_candidates),
                                        search_seconds=ctx.budget, names={"search_seconds": "budget"})
    except PVEError as exc:
        print(f"pve: {exc}", file=sys.stderr)
        return 2
    services = bootstrap.services(settings)
    try:
        session = asyncio.run(verify(req, services))
    except PVEError as exc:
        print(f"pve: {exc}", file=sys.stderr)
        _write_outputs(ctx, {"verdict": "bad input"})
        if ctx.summary is not None:
            with ctx.summary.open("a", encoding="utf-8") as f:
                f.write(f"## PVE: nothing to verify\n\n{exc}\n")
        return 2
    out = ctx.temp / "pve-out"
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, str] = {}
    for key, source, name in (("proof", session.proof_path, "proof.txt"), ("fix-diff", session.diff_path, "fix.diff"),
                              ("attestation", session.attestation_path, "attestation.intoto.json")):
        if source:
            paths[key] = str(shutil.copyfile(source, out / name))
    try:
        posted = asyncio.run(publish(ctx, session))
    except Exception as exc:  # the verdict stands; what could not be posted is said
        posted = f"nothing: GitHub refused ({type(exc).__name__}: {str(exc)[:200]})"
    if ctx.summary is not None:
        with ctx.summary.open("a", encoding="utf-8") as f:
            f.write(summary(ctx, session, posted))
    _write_outputs(ctx, {"verdict": session.status.value, "session": session.id, "posted": posted,
                         "out": str(out), **paths})
    print(f"pve: {session.status.value}: {session.message} (posted: {posted})")
    return 0
