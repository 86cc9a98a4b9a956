"""The GitHub App end to end: a signed delivery in, the right GitHub calls out (real sandboxes)."""

from __future__ import annotations

import pytest

from tests.app_harness import INSTALLATION, ROOT, files_of, for_repo
from tests.github_payloads import comment_on_issue

pytestmark = pytest.mark.sandbox
STATS = ROOT / "examples" / "stats"


def stats_repo(github):
    repo = github.add_repo("octo/stats", files_of(STATS), installation=INSTALLATION)
    return repo


def test_verify_on_an_issue_opens_a_fix_pr_and_replies_once(harness):
    gh = harness.github
    repo = stats_repo(gh)
    log = (STATS / "ci.log").read_text(encoding="utf-8-sig")
    number = gh.add_issue(repo, "mean([]) crashes", f"CI fails:\n\n```\n{log}\n```")
    payload = for_repo(comment_on_issue("/pve verify"), "octo/stats")
    comment = gh.add_comment(repo, number, "/pve verify", association="OWNER")
    payload["issue"].update(number=number, body=repo.issues[number]["body"])
    payload["comment"]["id"] = comment["id"]
    payload["issue"].pop("pull_request", None)

    harness.run("issue_comment", payload)

    replies = [c for c in repo.comments.values() if c["user"]["type"] == "Bot"]
    assert len(replies) == 1, [c["body"] for c in replies]
    body = replies[0]["body"]
    assert "Verified fix" in body and "ZeroDivisionError" in body, body
    assert [r["content"] for r in repo.reactions] == ["eyes"]
    pulls = [p for p in repo.pulls.values() if p["head"]["ref"].startswith("pve/fix-")]
    assert len(pulls) == 1
    pr = pulls[0]
    assert f"Fixes #{number}" in pr["body"] and "PVE EXECUTION PROOF" in pr["body"]
    fixed = repo.files_at(pr["head"]["ref"])
    assert fixed["stats/core.py"] != repo.files_at("main")["stats/core.py"]
    (run,) = repo.check_runs.values()
    assert run["status"] == "completed" and run["conclusion"] == "success"
    assert run["annotations"] and run["annotations"][0]["path"] == "stats/core.py"
    assert "PVE EXECUTION PROOF" in run["output"]["text"]
    assert harness.store.quota(INSTALLATION, 50).used == 1

