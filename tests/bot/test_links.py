"""Which issues a pull request says it fixes (GitHub's closing keywords), and which pull request
deliveries are work: pure functions, real payloads."""

from __future__ import annotations

import pytest

from bot.links import linked_issues
from bot.triggers import PullRequestChange, intake, parse
from tests.app_harness import for_repo
from tests.github_payloads import example


@pytest.mark.parametrize("text, numbers, elsewhere", [
    ("Fixes #12", (12,), ()),
    ("fix #1\nclose #2\nresolve #3\nfixed #4\nresolved #5", (1, 2, 3, 4, 5), ()),
    ("This PR CLOSES: #3", (3,), ()),
    ("Fixes #1, #2 and #3 & #4", (1, 2, 3, 4), ()),
    ("fixes octo/stats#9 and fixes other/repo#2", (9,), ("other/repo#2",)),
    ("Fixed https://github.com/octo/stats/issues/8", (8,), ()),
    ("Related to #5; see #6", (), ()),  # no closing keyword
    ("prefixes #5, suffixes #6, fixes#7", (), ()),  # not the word, or no space
    ("`fixes #5` and\n```\nfixes #6\n```", (), ()),  # code is not a link
    ("fixes #5abc", (), ()),
    ("Fixes #2. Also fixes #2.", (2,), ()),
])
def test_closing_keywords_as_github_reads_them(text, numbers, elsewhere):
    got = linked_issues([text], "octo/stats")
    assert got.numbers == numbers and got.elsewhere == elsewhere


def test_commit_messages_link_too_and_the_body_comes_first():
    got = linked_issues(["Fixes #3", "Refactor\n\nCloses #1", "fixes #3"], "Octo/Stats")
    assert got.numbers == (3, 1)


def pull(action="opened", **changes):
    payload = for_repo(example("pull_request", "opened"), "octo/stats")
    payload["action"] = action
    payload["pull_request"].update(changes)
    return payload


def test_a_pull_request_delivery_is_read_from_a_real_payload():
    trigger = parse("pull_request", pull(body="Fixes #1"))
    assert isinstance(trigger, PullRequestChange)
    assert trigger.number == 2 and trigger.body == "Fixes #1" and trigger.repo.full_name == "octo/stats"
    assert len(trigger.head_sha) == 40 and len(trigger.base_sha) == 40
    assert trigger.fork  # the example's head is Codertocat/Hello-World, another repository than octo/stats
    assert intake("pull_request", pull("synchronize")) == (True, "queued")


@pytest.mark.parametrize("payload, why", [
    (pull(state="closed"), "the pull request is closed"),
    (pull(user={"login": "pve[bot]", "type": "Bot"}), "pull requests by bots are ignored"),
    (pull("edited"), "the pull request was edited, but not its body"),
    (pull("labeled"), "pull_request.labeled is not an event PVE handles"),
])
def test_what_is_not_work(payload, why):
    assert intake("pull_request", payload) == (False, why)


def test_an_edit_of_the_body_is_work():
    payload = pull("edited")
    payload["changes"] = {"body": {"from": "old text"}}
    assert intake("pull_request", payload) == (True, "queued")
