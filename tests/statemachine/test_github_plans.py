"""The GitHub App's decisions, without GitHub or sandboxes: a trigger and the repository's
config in, the intended action out. Each case reads like the conversation it decides."""

from __future__ import annotations

import pytest

from bot import render, repoconfig
from bot.triggers import (
    CheckRunButton,
    CommentCommand,
    FailedWorkflowRun,
    InstallationChange,
    intake,
    parse,
)
from pve.models import (
    Candidate,
    ExceptionInfo,
    Failure,
    FileEdit,
    ParsedLog,
    Session,
    SessionStatus,
)
from statemachine.github.buttons import plan_apply
from statemachine.github.comment import needs_config, needs_permission, plan_comment
from statemachine.github.workflow_run import plan_run, plan_targets
from store.base import Quota

REPO = {"full_name": "octo/shop", "default_branch": "main"}


def comment(body: str, association: str = "OWNER", *, pr: bool = False, bot: bool = False) -> CommentCommand:
    payload = {"action": "created", "installation": {"id": 7}, "repository": REPO,
               "issue": {"number": 12, "body": "it crashes", **({"pull_request": {"url": "x"}} if pr else {})},
               "comment": {"id": 99, "body": body, "author_association": association,
                           "user": {"login": "maria", "type": "Bot" if bot else "User"}}}
    trigger = parse("issue_comment", payload)
    assert isinstance(trigger, CommentCommand), trigger
    return trigger


def config(text: str = "") -> repoconfig.RepoConfig | repoconfig.ConfigError:
    try:
        return repoconfig.parse(text or None)
    except repoconfig.ConfigError as exc:
        return exc


FULL = Quota(limit=50, used=3)
EMPTY = Quota(limit=50, used=50)


@pytest.mark.parametrize("body, cfg, permission, quota, answer, react, test", [
    ("/pve help", None, None, None, render.HELP, False, None),
    ("/pve", None, None, None, render.HELP, False, None),
    ("/pve frobnicate", None, None, None, render.bad_command("unknown command `/pve frobnicate`"), False, None),
    ("/pve verify a b", None, None, None, render.bad_command("`/pve verify` takes at most one path or test id"), False, None),
    ("/pve verify", config("triggers: [1"), None, FULL, "broken", False, None),
    ("/pve verify", config("triggers: {comment: false}"), None, FULL, render.disabled("`/pve verify`"), False, None),
    ("/pve verify", config(), None, EMPTY, render.quota_exhausted(EMPTY), True, None),
    ("/pve verify", config(), None, FULL, None, True, None),
    ("/pve verify tests/test_x.py::test_y", config(), None, FULL, None, True, "tests/test_x.py::test_y"),
], ids=["help", "bare", "unknown", "two-args", "broken-config", "turned-off", "quota", "verify", "verify-test"])
def test_plan_comment(body, cfg, permission, quota, answer, react, test):
    plan = plan_comment(comment(body), cfg, permission=permission, quota=quota)
    if answer == "broken":
        assert plan.answer is not None and plan.answer.startswith("PVE did not run: the repository's configuration is broken")
    else:
        assert plan.answer == answer
    assert (plan.react, plan.test) == (react, test)


@pytest.mark.parametrize("association, allow, permission, allowed", [
    ("OWNER", "", None, True),
    ("CONTRIBUTOR", "", "write", True),
    ("CONTRIBUTOR", "", "read", False),
    ("NONE", "", "none", False),
    ("CONTRIBUTOR", "allow: {associations: [CONTRIBUTOR]}", None, True),
    ("OWNER", "allow: {associations: [MEMBER], permission: admin}", "write", False),
    ("OWNER", "allow: {associations: [MEMBER], permission: admin}", "admin", True),
])
def test_who_may_run_it(association, allow, permission, allowed):
    cmd, cfg = comment("/pve verify", association), config(allow)
    assert isinstance(cfg, repoconfig.RepoConfig)
    assert needs_permission(cmd, cfg) is (permission is not None)
    plan = plan_comment(cmd, cfg, permission=permission, quota=FULL)
    assert (plan.answer is None) is allowed
    if not allowed:
        assert plan.answer == render.refusal("maria") and not plan.react


def test_help_is_answered_without_reading_the_config():
    assert not needs_config(comment("/pve help")) and not needs_config(comment("/pve nope"))
    assert needs_config(comment("/pve verify"))
    with pytest.raises(ValueError):
        plan_comment(comment("/pve verify"), None)


@pytest.mark.parametrize("cfg, quota, answer", [
    (config(), FULL, None),
    (config("triggers: {ci: false}"), FULL, ""),
    (config(), EMPTY, render.quota_exhausted(EMPTY)),
    (config("candidates: -1"), FULL, "broken"),
])
def test_plan_run(cfg, quota, answer):
    got = plan_run(cfg, quota)
    if answer == "broken":
        assert got is not None and "configuration is broken" in got
    else:
        assert got == answer


def failure(test_id: str | None, kind: str = "ValueError", message: str = "bad") -> Failure:
    return Failure(exception=ExceptionInfo(type=kind, qualified_type=kind, message=message), test_id=test_id)


def test_plan_targets_takes_each_failure_once_up_to_the_limit():
    logs = [ParsedLog(failures=[failure("t::a"), failure("t::b")]),
            ParsedLog(failures=[failure("t::a"), failure(None, "KeyError", "'x'"), failure(None, "KeyError", "'x'")]),
            ParsedLog()]
    assert plan_targets(logs, 10) == [(0, "t::a", "t::a"), (0, "t::b", "t::b"), (1, None, "KeyError: 'x'")]
    assert plan_targets(logs, 2) == [(0, "t::a", "t::a"), (0, "t::b", "t::b")]
    assert plan_targets([ParsedLog()], 3) == []


def session(sid: str, status: SessionStatus, files: dict[str, str]) -> Session:
    cand = Candidate(id=1, rule="r", rationale="", edits=[FileEdit(path=p, new_text=t) for p, t in files.items()])
    return Session(id=sid, created_at="", project="", status=status, candidates=[cand],
                   winner=1 if status is SessionStatus.VERIFIED else None)


def test_plan_apply_takes_verified_fixes_and_the_first_for_each_file():
    sessions = [session("a", SessionStatus.NO_FIX, {"x.py": "0"}),
                session("b", SessionStatus.VERIFIED, {"x.py": "1"}),
                session("c", SessionStatus.VERIFIED, {"x.py": "2", "y.py": "2"}),
                session("d", SessionStatus.VERIFIED, {"z.py": "3"})]
    assert plan_apply(sessions) == ({"x.py": "1", "z.py": "3"}, ["b", "d"])
    assert plan_apply(sessions[:1]) == ({}, [])


@pytest.mark.parametrize("event, payload, kind, reason", [
    ("issue_comment", {"action": "created", "comment": {"body": "/pve verify", "user": {"type": "User"}}}, CommentCommand, None),
    ("issue_comment", {"action": "created", "comment": {"body": "/pvefoo", "user": {"type": "User"}}}, None, "not a /pve command"),
    ("issue_comment", {"action": "created", "comment": {"body": "/pve verify", "user": {"type": "Bot"}}}, None, "bots"),
    ("issue_comment", {"action": "edited", "comment": {"body": "/pve verify"}}, None, "issue_comment.edited is not"),
    ("workflow_run", {"action": "completed", "workflow_run": {"conclusion": "failure"}}, FailedWorkflowRun, None),
    ("workflow_run", {"action": "completed", "workflow_run": {"conclusion": "success"}}, None, "'success'"),
    ("check_run", {"action": "requested_action", "requested_action": {"identifier": "apply-fix"}}, CheckRunButton, None),
    ("check_run", {"action": "rerequested", "check_run": {"id": 5, "external_id": "k"}}, CheckRunButton, None),
    ("installation", {"action": "created", "installation": {"id": 3, "account": {"login": "octo"}}}, InstallationChange, None),
    ("installation", {"action": "suspend"}, None, "installation.suspend is not"),
    ("push", {}, None, "push is not an event PVE handles"),
    ("issue_comment", {"action": "created", "comment": "not a dict"}, None, "not a /pve command"),
])
def test_one_routing_table_for_intake_and_dispatch(event, payload, kind, reason):
    got = parse(event, payload)
    wanted, why = intake(event, payload)
    if kind is None:
        assert isinstance(got, str) and reason in got and not wanted and why == got
    else:
        assert isinstance(got, kind) and wanted


def test_triggers_are_typed_at_the_edge():
    cmd = comment("/pve verify tests/t.py", "MEMBER", pr=True)
    assert (cmd.repo.installation, cmd.repo.full_name, cmd.number, cmd.is_pr, cmd.login, cmd.association) == \
        (7, "octo/shop", 12, True, "maria", "MEMBER")
    run = parse("workflow_run", {"action": "completed", "installation": {"id": 7}, "repository": REPO,
                                 "workflow_run": {"id": 5, "name": "tests", "head_sha": "abc", "conclusion": "failure",
                                                  "pull_requests": [{"number": 3, "head": {"sha": "abc"}}]}})
    assert isinstance(run, FailedWorkflowRun)
    assert (run.run_id, run.name, run.head_sha, [p.number for p in run.pulls]) == (5, "tests", "abc", [3])


def test_a_repository_is_private_unless_the_delivery_says_it_is_public():
    from bot.triggers import Repo
    from tests.github_payloads import example

    real = example("issue_comment", "created")  # GitHub's own example: a public repository
    assert real["repository"]["private"] is False and Repo.of(real).private is False
    assert Repo.of({**real, "repository": {**real["repository"], "private": True}}).private is True
    assert Repo.of({"repository": {"full_name": "octo/x"}}).private is True  # unknown: closed
    run = example("workflow_run", "completed")
    assert FailedWorkflowRun.parse(run).actor is None  # this example names nobody: nobody is credited
    run["workflow_run"]["actor"] = {"login": "maria"}
    assert FailedWorkflowRun.parse(run).actor == "maria"
    run["workflow_run"]["triggering_actor"] = {"login": "rerunner"}
    assert FailedWorkflowRun.parse(run).actor == "rerunner"


def test_every_route_has_a_handler():
    from bot.triggers import ROUTES
    from statemachine.github.dispatch import HANDLERS

    kinds = {type(reader({"action": action})) for (_event, action), reader in ROUTES.items()}
    assert kinds == set(HANDLERS), kinds ^ set(HANDLERS)


def _judged(status: SessionStatus, message: str = "", verdicts=()):
    return Session(id="s", created_at="now", status=status, trigger="pull_request", project="p", message=message,
                   verdicts=list(verdicts))


def test_what_a_judged_session_says_about_a_pull_request():
    from pve.models import Preflight, RunResult, Verdict
    from statemachine.github.pull_request import Kind, verdict_of

    ran = RunResult(sandbox_id="x", command="pytest", exit_code=1, duration_ms=1.0)
    ok = Preflight(ok=True)
    fixes = verdict_of(12, _judged(SessionStatus.VERIFIED))
    assert (fixes.kind, fixes.conclusion) == (Kind.FIXES, "success")
    still = verdict_of(12, _judged(SessionStatus.NO_FIX, verdicts=[Verdict(
        candidate_id=1, verified=False, reason="t.py::test_x failed (ValueError: 4)", preflight=ok, run=ran)]))
    assert (still.kind, still.conclusion, still.detail) == (Kind.DOES_NOT_FIX, "failure", "t.py::test_x failed (ValueError: 4)")
    breaks = verdict_of(12, _judged(SessionStatus.NO_FIX, verdicts=[Verdict(
        candidate_id=1, verified=False, reason="breaks", preflight=ok, run=ran, regressions=["t.py::a", "t.py::b"])]))
    assert (breaks.kind, breaks.conclusion) == (Kind.BREAKS, "failure") and breaks.detail == "breaks 2 test(s): t.py::a, t.py::b"
    absent = verdict_of(12, _judged(SessionStatus.NOT_REPRODUCED, "could not reproduce: it passed"))
    assert (absent.kind, absent.conclusion, absent.detail) == (Kind.NOT_REPRODUCED, "neutral", "it passed")
    stopped = verdict_of(12, _judged(SessionStatus.DEPENDENCIES, "could not install the dependencies: no wheel"))
    assert (stopped.kind, stopped.conclusion) == (Kind.UNVERIFIED, "neutral")
