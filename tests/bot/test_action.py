"""The GitHub Action's entry script run as Actions runs it: the ``GITHUB_*`` variables, a real
event payload from ``@octokit/webhooks-examples`` in ``GITHUB_EVENT_PATH``, ``GITHUB_STEP_SUMMARY``
and ``GITHUB_OUTPUT`` files, the workflow's token, against the local GitHub (real githubkit,
requests checked against GitHub's REST description), real sandboxes. And ``action.yml`` against
the action-metadata schema (SchemaStore's, vendored by check-jsonschema); the workflows that use
it pass actionlint (``tests/test_workflows.py``)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.app_harness import INSTALLATION, ROOT, files_of, for_repo
from tests.github_payloads import example

pytestmark = pytest.mark.sandbox
STATS = ROOT / "examples" / "stats"
LOG = (STATS / "ci.log").read_text(encoding="utf-8-sig")
GUARDED = (STATS / "stats" / "core.py").read_text().replace(
    "    return total(values) / len(values)", "    if not values:\n        return 0.0\n    return total(values) / len(values)")
TOKEN = "ghs_workflowtoken"  # the workflow's GITHUB_TOKEN: an installation token of GitHub's Actions app


def run_action(tmp_path: Path, github, event: str, payload: dict, workspace: Path, *, sha: str, ref: str,
               inputs: dict[str, str]) -> tuple[subprocess.CompletedProcess, dict[str, str], str]:
    """``pve action`` as the composite step runs it; (the process, its outputs, the summary)."""
    github.tokens[TOKEN] = INSTALLATION
    event_path = tmp_path / "event.json"
    event_path.write_text(json.dumps(payload))
    summary, output, temp = tmp_path / "summary.md", tmp_path / "output.txt", tmp_path / "runner-temp"
    temp.mkdir(exist_ok=True)
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": event,
           "GITHUB_EVENT_PATH": str(event_path), "GITHUB_REPOSITORY": payload["repository"]["full_name"],
           "GITHUB_SHA": sha, "GITHUB_REF": ref, "GITHUB_WORKSPACE": str(workspace), "GITHUB_API_URL": github.url,
           "GITHUB_SERVER_URL": "https://github.example", "GITHUB_RUN_ID": "4242", "RUNNER_TEMP": str(temp),
           "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(output), "INPUT_TOKEN": TOKEN,
           **{f"INPUT_{k.upper()}": v for k, v in inputs.items()}}
    done = subprocess.run([sys.executable, "-m", "entrypoints.cli", "action"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line) \
        if output.exists() else {}
    return done, outputs, summary.read_text() if summary.exists() else ""


def checkout(tmp_path: Path, files: dict[str, str], log: str | None = None) -> Path:
    """The job's checkout, as actions/checkout leaves it, with the failing step's log (tee)."""
    root = tmp_path / "workspace"
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    if log is not None:
        (root / "pytest.log").write_text(log)
    return root


def pull_request_event(repo, pull) -> dict:
    payload = for_repo(example("pull_request", "opened"), repo.full_name)
    payload["pull_request"].update(number=pull["number"])
    payload["pull_request"]["head"].update(sha=pull["head"]["sha"], ref=pull["head"]["ref"])
    payload["pull_request"]["head"]["repo"].update(full_name=pull["head"]["repo"]["full_name"])
    payload["pull_request"]["base"].update(sha=pull["base"]["sha"], ref="main")
    payload["pull_request"]["base"]["repo"].update(full_name=repo.full_name)
    payload["number"] = pull["number"]
    return payload


def writes(github) -> list[tuple[str, str]]:
    return [(m, p) for m, p, _ in github.calls if m in ("POST", "PATCH", "PUT", "DELETE")
            and not p.startswith("/app/installations/")]


def test_a_pull_request_with_a_verified_fix_gets_suggestions_a_summary_outputs_and_the_proof(tmp_path, github):
    repo = github.add_repo("octo/stats", {**files_of(STATS), "stats/core.py": GUARDED}, installation=INSTALLATION)
    pull = github.add_pull(repo, "Simplify mean", files_of(STATS), branch="simplify")
    workspace = checkout(tmp_path, files_of(STATS), LOG)  # the PR's head, checked out by the job
    started = time.monotonic()
    done, outputs, summary = run_action(tmp_path, github, "pull_request", pull_request_event(repo, pull), workspace,
                                        sha=pull["head"]["sha"], ref=f"refs/pull/{pull['number']}/merge",
                                        inputs={"log": "pytest.log"})
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 120
    (review,) = [r for r in repo.reviews if r["pull_number"] == pull["number"]]
    assert review["comments"] and "```suggestion" in review["comments"][0]["body"]
    assert "PVE verified a fix" in review["body"]
    assert outputs["verdict"] == "verified" and outputs["posted"].startswith(f"a review with suggestions on #{pull['number']}")
    assert summary.startswith("## PVE: Verified fix") and "```diff" in summary and "Regression oracle:" in summary
    # the proof, its attestation and the diff, in the folder the action uploads as an artifact
    out = Path(outputs["out"])
    assert {p.name for p in out.iterdir()} == {"proof.txt", "attestation.intoto.json", "fix.diff"}
    assert Path(outputs["proof"]).read_text().startswith("PVE EXECUTION PROOF")
    statement = json.loads(base64.b64decode(json.loads(Path(outputs["attestation"]).read_text())["payload"]))
    assert statement["predicate"]["session"] == outputs["session"]
    # nothing but the review was written on GitHub
    assert {p.rsplit("/", 1)[-1] for _, p in writes(github)} == {"reviews"}


def test_no_fix_posts_nothing_and_says_so_in_the_summary(tmp_path, github):
    repo = github.add_repo("octo/stats", files_of(STATS), installation=INSTALLATION)
    pull = github.add_pull(repo, "Docs", {**files_of(STATS), "README.md": "# stats\n"}, branch="docs")
    passing = LOG.replace("ZeroDivisionError", "KeyError")  # a failure that does not happen here
    workspace = checkout(tmp_path, {**files_of(STATS), "stats/core.py": GUARDED}, passing)
    done, outputs, summary = run_action(tmp_path, github, "pull_request", pull_request_event(repo, pull), workspace,
                                        sha=pull["head"]["sha"], ref="refs/pull/1/merge", inputs={"log": "pytest.log"})
    assert done.returncode == 0, done.stderr
    assert outputs["verdict"] == "could not reproduce" and outputs["posted"] == "nothing: PVE posts only verified fixes"
    assert summary.startswith("## PVE: Could not reproduce") and "fix-diff" not in outputs
    assert writes(github) == [] and not repo.reviews


def test_a_fork_s_pull_request_gets_the_summary_and_the_artifact_only(tmp_path, github):
    repo = github.add_repo("octo/stats", {**files_of(STATS), "stats/core.py": GUARDED}, installation=INSTALLATION)
    pull = github.add_pull(repo, "Simplify mean", files_of(STATS), branch="simplify", fork="drive-by/stats")
    workspace = checkout(tmp_path, files_of(STATS), LOG)
    done, outputs, summary = run_action(tmp_path, github, "pull_request", pull_request_event(repo, pull), workspace,
                                        sha=pull["head"]["sha"], ref="refs/pull/1/merge", inputs={"log": "pytest.log"})
    assert done.returncode == 0, done.stderr
    assert outputs["verdict"] == "verified" and "comes from a fork" in outputs["posted"]
    assert "a fork's workflow token cannot write here" in summary and "```diff" in summary
    assert writes(github) == [] and Path(outputs["attestation"]).is_file()


def test_a_push_gets_a_fix_branch_and_pull_request(tmp_path, github):
    repo = github.add_repo("octo/stats", files_of(STATS), installation=INSTALLATION)
    sha = repo.refs["heads/main"]
    payload = for_repo(example("push"), repo.full_name)
    payload.update(ref="refs/heads/main", after=sha)
    workspace = checkout(tmp_path, files_of(STATS))
    done, outputs, _ = run_action(tmp_path, github, "push", payload, workspace, sha=sha, ref="refs/heads/main",
                                        inputs={"command": "pytest tests/test_core.py"})
    assert done.returncode == 0, done.stderr
    (pr,) = [p for p in repo.pulls.values() if p["head"]["ref"].startswith("pve/fix-")]
    assert pr["base"]["ref"] == "main" and "https://github.example/octo/stats/actions/runs/4242" in pr["body"]
    assert "if not values" in repo.files_at(pr["head"]["ref"])["stats/core.py"]
    assert outputs["verdict"] == "verified" and outputs["posted"].startswith(f"fix pull request #{pr['number']}")
    # post: summary alone posts nothing
    github.calls.clear()
    done, outputs, _ = run_action(tmp_path, github, "push", payload, workspace, sha=sha, ref="refs/heads/main",
                                  inputs={"command": "pytest tests/test_core.py", "post": "summary"})
    assert outputs["posted"] == "nothing (`post` leaves out pull-request)" and writes(github) == []


def test_a_step_set_up_wrongly_is_told_what_to_give(tmp_path, github):
    repo = github.add_repo("octo/stats", files_of(STATS), installation=INSTALLATION)
    payload = for_repo(example("push"), repo.full_name)
    workspace = checkout(tmp_path, files_of(STATS))
    done, _, _ = run_action(tmp_path, github, "push", payload, workspace, sha="0" * 40, ref="refs/heads/main",
                                  inputs={})
    assert done.returncode == 2 and "give the failing test command (`command:`) or the log" in done.stderr
    done, _, _ = run_action(tmp_path, github, "push", payload, workspace, sha="0" * 40, ref="refs/heads/main",
                            inputs={"log": "pytest.log", "post": "tweet"})
    assert done.returncode == 2 and "post: tweet is not one of suggestions, pull-request, summary" in done.stderr


def test_action_yml_is_valid_action_metadata_and_its_inputs_reach_the_script():
    check = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    assert check, "check-jsonschema is a dev dependency"
    done = subprocess.run([check, "--builtin-schema", "vendor.github-actions", str(ROOT / "action.yml")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    broken = ROOT / "tests" / "fixtures-broken-action.yml"
    try:  # the check can fail: a composite step without its shell is refused
        broken.write_text("name: x\ndescription: y\nruns:\n  using: composite\n  steps:\n    - run: echo\n")
        assert subprocess.run([check, "--builtin-schema", "vendor.github-actions", str(broken)],
                              capture_output=True, timeout=60).returncode == 1
    finally:
        broken.unlink()
    import yaml
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    step_env = next(s for s in action["runs"]["steps"] if s.get("id") == "pve")["env"]
    for name in ("command", "log", "path", "token", "post", "budget"):  # every input the script reads
        assert name in action["inputs"] and step_env[f"INPUT_{name.upper()}"] == f"${{{{ inputs.{name} }}}}"
    assert set(action["outputs"]) == {"verdict", "fix-diff", "proof", "attestation", "session"}
    upload = next(s for s in action["runs"]["steps"] if "upload-artifact" in s.get("uses", ""))
    assert len(upload["uses"].split("@")[1]) == 40  # pinned by commit, not by tag
    assert os.access(ROOT / "scripts" / "action-setup.sh", os.X_OK)


def test_the_job_s_own_virtualenv_is_used_not_built_again(tmp_path, github, wheel_store):
    """The test step made ``.venv`` (here with uv, from the local wheels): the action binds it
    read-only into every sandboxed run instead of building the project's environment."""
    repo = github.add_repo("octo/stats", {**files_of(STATS), "stats/core.py": GUARDED}, installation=INSTALLATION)
    pull = github.add_pull(repo, "Simplify mean", files_of(STATS), branch="simplify")
    workspace = wheel_store[0] / "job-workspace"  # where the sandbox users can reach it, as a runner's
    for rel, text in {**files_of(STATS), "pytest.log": LOG}.items():
        (workspace / rel).parent.mkdir(parents=True, exist_ok=True)
        (workspace / rel).write_text(text)
    uv = shutil.which("uv", path=str(Path(sys.executable).parent))
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    subprocess.run([uv, "venv", "-q", "--python", "/usr/bin/python3", str(workspace / ".venv")], check=True, env=env)
    subprocess.run([uv, "pip", "install", "-q", "--python", str(workspace / ".venv" / "bin" / "python"), "--no-index",
                    "--find-links", str(wheel_store[1]), "pytest"], check=True, env=env)
    for folder, _dirs, files in os.walk(workspace):
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), os.stat(os.path.join(folder, name)).st_mode | 0o444)
    done, outputs, _ = run_action(tmp_path, github, "pull_request", pull_request_event(repo, pull), workspace,
                                  sha=pull["head"]["sha"], ref="refs/pull/1/merge", inputs={"log": "pytest.log"})
    assert done.returncode == 0, done.stderr
    assert f"using the job's virtualenv {workspace / '.venv'}" in done.stderr
    assert outputs["verdict"] == "verified"
    proof = Path(outputs["proof"]).read_text()
    assert "declared by: the caller's virtualenv (PVE_ENV_FROM)" in proof and "  pytest==" in proof


def test_a_merge_commit_s_fix_is_a_diff_in_the_review_not_suggestions_on_the_head(tmp_path, github):
    """actions/checkout's default on pull_request is the merge commit: its line numbers are not
    the head's, so the verified fix is posted as a diff, not as suggestions that could land on
    other lines."""
    repo = github.add_repo("octo/stats", {**files_of(STATS), "stats/core.py": GUARDED}, installation=INSTALLATION)
    pull = github.add_pull(repo, "Simplify mean", files_of(STATS), branch="simplify")
    workspace = checkout(tmp_path, files_of(STATS), LOG)
    done, outputs, _ = run_action(tmp_path, github, "pull_request", pull_request_event(repo, pull), workspace,
                                  sha="f" * 40, ref="refs/pull/1/merge", inputs={"log": "pytest.log"})
    assert done.returncode == 0, done.stderr
    (review,) = [r for r in repo.reviews if r["pull_number"] == pull["number"]]
    assert review["comments"] == [] and "```diff" in review["body"] and review["commit_id"] == pull["head"]["sha"]
    assert "verified on the merge commit fffffff, not the head" in outputs["posted"]


def test_a_committed_virtualenv_is_never_run_on_the_runner(tmp_path, github):
    """A repository (or a pull request) that commits ``.venv/bin/python`` as a script of its own
    must not get it run on the runner when PVE looks for the job's environment."""
    repo = github.add_repo("octo/stats", files_of(STATS), installation=INSTALLATION)
    marker = tmp_path / "ran-on-the-runner"
    evil = f"#!/bin/sh\ntouch {marker}\nexec /usr/bin/python3 \"$@\"\n"
    workspace = checkout(tmp_path, {**files_of(STATS), ".venv/pyvenv.cfg": "home = /usr/bin\n", ".venv/bin/python": evil},
                         LOG)
    os.chmod(workspace / ".venv" / "bin" / "python", 0o755)
    payload = for_repo(example("push"), repo.full_name)
    done, outputs, _ = run_action(tmp_path, github, "push", payload, workspace, sha=repo.refs["heads/main"],
                                  ref="refs/heads/main", inputs={"log": "pytest.log", "post": "summary"})
    assert done.returncode == 0, done.stderr
    assert "its bin/python is a file of the repository" in done.stderr and not marker.exists()
    assert outputs["verdict"] == "verified"
