"""A pull request that says "Fixes #N", end to end: a signed ``pull_request`` delivery in; the
issue's reproduction run on the base and on the head in real sandboxes; one check run per issue
and one comment out, on the local GitHub (checked against GitHub's REST description)."""

from __future__ import annotations

import pytest

from bot.render import APPLY_ID, pull_check_name
from tests.app_harness import INSTALLATION, ROOT, files_of, for_repo
from tests.github_payloads import comment_on_pr, example

pytestmark = pytest.mark.sandbox
STATS = ROOT / "examples" / "stats"
LOG = (STATS / "ci.log").read_text(encoding="utf-8-sig")
CORE = (STATS / "stats" / "core.py").read_text()
GUARD = "    if not values:\n        return 0.0\n    return total(values) / len(values)"
GUARDED = CORE.replace("    return total(values) / len(values)", GUARD)
BROKEN_MEDIAN = GUARDED.replace("    return (ordered[mid - 1] + ordered[mid]) / 2", "    return ordered[mid]")
REWORDED = CORE.replace("Arithmetic mean.", "The arithmetic mean.")  # does not touch the bug


def bot_comments(repo, number):
    return [c for c in repo.comments.values() if c["user"]["type"] == "Bot" and c["issue_number"] == number]


def checks_for(repo, issue):
    return [r for r in repo.check_runs.values() if r["name"] == pull_check_name(issue)]


def setup(gh, issue_body=f"mean([]) crashes in CI:\n\n```\n{LOG}\n```"):
    repo = gh.add_repo("octo/stats", files_of(STATS), installation=INSTALLATION)
    issue = gh.add_issue(repo, "mean([]) crashes", issue_body)
    return repo, issue


def pull_event(repo, pull, action="opened"):
    payload = for_repo(example("pull_request", "opened"), repo.full_name)
    payload["action"] = action
    p = payload["pull_request"]
    p.update(number=pull["number"], body=pull["body"], state="open")
    payload["number"] = pull["number"]
    p["head"].update(sha=pull["head"]["sha"], ref=pull["head"]["ref"])
    p["head"]["repo"] = {**p["head"]["repo"], "full_name": pull["head"]["repo"]["full_name"],
                         "fork": pull["head"]["repo"]["fork"]}
    p["base"].update(sha=pull["base"]["sha"], ref="main")
    return payload


def judged(harness, core: str, body: str, **pull_options):
    """A PR whose head has ``core`` as stats/core.py, delivered and worked: (repo, issue, pull,
    the issue's one check run, the PR's one comment)."""
    repo, issue = setup(harness.github)
    pull = harness.github.add_pull(repo, "Change mean", {**files_of(STATS), "stats/core.py": core}, body=body,
                                   **pull_options)
    harness.run("pull_request", pull_event(repo, pull))
    (run,) = checks_for(repo, issue)
    (comment,) = bot_comments(repo, pull["number"])
    return repo, issue, pull, run, comment


def test_a_pull_request_that_fixes_its_issue(harness):
    repo, issue, pull, run, comment = judged(harness, GUARDED, "Fixes #1")
    assert (run["head_sha"], run["status"], run["conclusion"]) == (pull["head"]["sha"], "completed", "success")
    assert run["output"]["title"] == f"fixes #{issue}"
    proof = run["output"]["text"]
    assert f"base commit: {pull['base']['sha']}" in proof and f"head commit: {pull['head']['sha']}" in proof
    assert "== before: original code" in proof and "ZeroDivisionError" in proof
    assert f"✅ **fixes #{issue}**" in comment["body"] and pull["head"]["sha"][:7] in comment["body"]
    assert harness.store.quota(INSTALLATION, 50).used == 1  # one credit per verified verdict
    assert not repo.reviews  # nothing to suggest


def test_a_pull_request_that_does_not_fix_it_says_how_and_offers_a_verified_fix(harness):
    repo, issue, pull, run, comment = judged(harness, REWORDED, "This closes: #1")
    assert run["conclusion"] == "failure" and run["output"]["title"] == f"does not fix #{issue}"
    assert "ZeroDivisionError" in run["output"]["summary"]
    assert "== after: pull request #" in run["output"]["text"]  # the head's run is in the proof
    assert f"❌ **does not fix #{issue}**" in comment["body"] and "suggestions" in comment["body"]
    (review,) = repo.reviews
    assert review["commit_id"] == pull["head"]["sha"] and "if not values" in str(review)

    # "Apply fix" on the check run commits the offered fix to the pull request's branch.
    assert [a["identifier"] for a in run["actions"]] == [APPLY_ID]
    click = for_repo(example("check_run", "requested_action"), repo.full_name)
    click["check_run"].update(id=run["id"], external_id=run["external_id"], head_sha=run["head_sha"])
    click["requested_action"] = {"identifier": APPLY_ID}
    harness.run("check_run", click)
    assert "if not values" in repo.files_at(pull["head"]["ref"])["stats/core.py"]


def test_re_run_checks_the_claim_again_and_edits_the_one_comment(harness):
    repo, issue, pull, run, _ = judged(harness, GUARDED, "Fixes #1")
    again = for_repo(example("check_run", "rerequested"), repo.full_name)
    again["check_run"].update(id=run["id"], external_id=run["external_id"], head_sha=run["head_sha"])

    harness.run("check_run", again)

    (comment,) = bot_comments(repo, pull["number"])
    assert f"✅ **fixes #{issue}**" in comment["body"]
    (rerun,) = checks_for(repo, issue)  # the same commit's check run, run again
    assert rerun["conclusion"] == "success"


def test_a_pull_request_that_fixes_it_but_breaks_a_test_names_it(harness):
    *_, run, comment = judged(harness, BROKEN_MEDIAN, "Resolves #1")
    assert run["conclusion"] == "failure" and run["output"]["title"].startswith("fixes, but breaks tests")
    assert "tests/test_core.py::test_median_odd_and_even" in run["output"]["summary"]
    assert "fixes, but breaks tests" in comment["body"] and "test_median_odd_and_even" in comment["body"]
    assert harness.store.quota(INSTALLATION, 50).used == 0


def test_an_issue_the_base_does_not_fail_is_not_reproduced(harness):
    gh = harness.github
    report = ("`mean` is off:\n\n```\nFAILED tests/test_core.py::test_mean - assert 2.4 == 2.5\n```\n")
    repo, issue = setup(gh, issue_body=report)
    quiet = gh.add_issue(repo, "mean is slow", "It takes a while on big lists.")
    pull = gh.add_pull(repo, "Guard mean", {**files_of(STATS), "stats/core.py": GUARDED},
                       body=f"Fixes #{issue}, fixes #{quiet} and fixes other/repo#3")

    harness.run("pull_request", pull_event(repo, pull))

    (run,) = checks_for(repo, issue)
    assert run["conclusion"] == "neutral" and run["output"]["title"] == f"could not reproduce (#{issue})"
    (quiet_run,) = checks_for(repo, quiet)
    assert quiet_run["conclusion"] == "neutral" and "no traceback or failing test" in quiet_run["output"]["summary"]
    (comment,) = bot_comments(repo, pull["number"])
    assert "other/repo#3" in comment["body"]  # named, not checked


def test_a_push_that_changes_the_verdict_updates_the_comment_and_adds_nothing_twice(harness):
    gh = harness.github
    repo, issue = setup(gh)
    pull = gh.add_pull(repo, "Reword mean", {**files_of(STATS), "stats/core.py": REWORDED}, body="A small change")
    first_sha = pull["head"]["sha"]
    harness.run("pull_request", pull_event(repo, pull))
    assert not repo.check_runs and not bot_comments(repo, pull["number"])  # links no issue: silent

    gh.push(repo, pull["number"], {**files_of(STATS), "stats/core.py": REWORDED.replace("The arithmetic mean.", "The mean.")},
            f"Reword again (fixes #{issue})")  # the link is in a commit message
    harness.run("pull_request", pull_event(repo, pull, "synchronize"))
    second_sha = pull["head"]["sha"]
    (comment,) = bot_comments(repo, pull["number"])
    assert "does not fix" in comment["body"] and second_sha[:7] in comment["body"]

    gh.push(repo, pull["number"], {**files_of(STATS), "stats/core.py": GUARDED}, "Guard it")
    delivery = "push-3-delivery"
    harness.run("pull_request", pull_event(repo, pull, "synchronize"), delivery=delivery)
    harness.run("pull_request", pull_event(repo, pull, "synchronize"), delivery=delivery)  # redelivered: deduplicated

    (comment,) = bot_comments(repo, pull["number"])  # one comment, edited in place
    assert f"✅ **fixes #{issue}**" in comment["body"] and pull["head"]["sha"][:7] in comment["body"]
    assert any("does not fix" in old for old in comment["history"])
    runs = checks_for(repo, issue)
    assert sorted((r["head_sha"], r["conclusion"]) for r in runs) == sorted(
        [(second_sha, "failure"), (pull["head"]["sha"], "success")])
    assert first_sha not in {r["head_sha"] for r in runs}


def test_a_forks_pull_request_is_judged_the_same_way(harness):
    repo, _, pull, run, _ = judged(harness, GUARDED, "fixes https://github.com/octo/stats/issues/1",
                                   fork="mallory/stats")
    assert run["conclusion"] == "success" and run["head_sha"] == pull["head"]["sha"]
    assert "mallory" not in repo.refs  # nothing was pushed anywhere


def test_pve_verify_on_a_pull_request_that_links_an_issue_checks_the_claim(harness):
    gh = harness.github
    repo, issue = setup(gh)
    pull = gh.add_pull(repo, "Guard mean", {**files_of(STATS), "stats/core.py": GUARDED}, body=f"Fixes #{issue}")
    comment = gh.add_comment(repo, pull["number"], "/pve verify")
    payload = for_repo(comment_on_pr("/pve verify"), repo.full_name)
    payload["issue"].update(number=pull["number"], body=pull["body"])
    payload["comment"]["id"] = comment["id"]

    harness.run("issue_comment", payload)

    (run,) = checks_for(repo, issue)
    assert run["conclusion"] == "success"
    (reply,) = bot_comments(repo, pull["number"])
    assert f"✅ **fixes #{issue}**" in reply["body"]


def test_the_repository_can_turn_it_off(harness):
    gh = harness.github
    files = {**files_of(STATS), ".github/pve.yml": "triggers:\n  pull_request: false\n"}
    repo = gh.add_repo("octo/quiet", files, installation=INSTALLATION)
    issue = gh.add_issue(repo, "mean([]) crashes", f"```\n{LOG}\n```")
    pull = gh.add_pull(repo, "Guard mean", {**files, "stats/core.py": GUARDED}, body=f"Fixes #{issue}")

    harness.run("pull_request", pull_event(repo, pull))

    assert not repo.check_runs and not bot_comments(repo, pull["number"])
