"""Real GitHub webhook payloads from npm ``@octokit/webhooks-examples`` (pinned in package.json,
installed by scripts/install.sh), and the two shapes it lacks, derived from real examples by
changing only the fields that differ."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
INDEX = ROOT / "node_modules" / "@octokit" / "webhooks-examples" / "api.github.com" / "index.json"


@cache
def _index() -> dict[str, list[dict[str, Any]]]:
    if not INDEX.is_file():
        raise RuntimeError(f"{INDEX} is missing: run scripts/install.sh (it runs npm ci)")
    return {e["name"]: e["examples"] for e in json.loads(INDEX.read_text())}


def example(event: str, action: str | None = None, where: Callable[[dict[str, Any]], bool] | None = None) -> dict[str, Any]:
    """The first real example of ``event`` (with ``action``, and matching ``where``), as a fresh copy."""
    for ex in _index()[event]:
        if (action is None or ex.get("action") == action) and (where is None or where(ex)):
            return copy.deepcopy(ex)
    raise KeyError(f"no {event}.{action} example")


def comment_on_issue(body: str, association: str = "OWNER") -> dict[str, Any]:
    p = example("issue_comment", "created")
    p["comment"]["body"] = body
    p["comment"]["author_association"] = association
    return p


def comment_on_pr(body: str, association: str = "OWNER") -> dict[str, Any]:
    """An issue_comment on a pull request: the issue carries a ``pull_request`` link object."""
    p = comment_on_issue(body, association)
    repo_url = p["repository"]["url"]
    n = p["issue"]["number"]
    p["issue"]["pull_request"] = {"url": f"{repo_url}/pulls/{n}", "html_url": f"{p['repository']['html_url']}/pull/{n}",
                                  "diff_url": f"{p['repository']['html_url']}/pull/{n}.diff",
                                  "patch_url": f"{p['repository']['html_url']}/pull/{n}.patch", "merged_at": None}
    return p


def successful_workflow_run() -> dict[str, Any]:
    return example("workflow_run", "completed", lambda p: p["workflow_run"]["conclusion"] == "success")


def failed_workflow_run() -> dict[str, Any]:
    """workflow_run.completed with conclusion failure (the examples only have success)."""
    p = successful_workflow_run()
    p["workflow_run"]["conclusion"] = "failure"
    return p
