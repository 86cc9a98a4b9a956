"""The decision: verified only when every rule of ARCHITECTURE.md holds; the winner is chosen stably."""

from __future__ import annotations

from pve.models import (
    Analysis,
    Candidate,
    Category,
    ExceptionInfo,
    FileEdit,
    Frame,
    HarnessRecord,
    Oracle,
    Preflight,
    Reproduction,
    ReproKind,
    RunResult,
)
from statemachine.verdict import check_reproduction, judge, oracle_strength, pick_winner

T = "tests/test_a.py::test_x"
PYTEST = Reproduction(kind=ReproKind.PYTEST, test_ids=[T], files=["tests/test_a.py"])
SCRIPT = Reproduction(kind=ReproKind.SCRIPT, target="run.py", files=["run.py"])
EXC = ExceptionInfo(type="KeyError", qualified_type="KeyError", message="'x'",
                    frames=[Frame(file="a.py", line=3, function="get", project_path="pkg/a.py")])


def run(outcomes=None, exc=None, code=0, nonce=True, killed=None, durations=None, test_exc=None):
    return RunResult(sandbox_id="sbx-1", command="c", exit_code=code, duration_ms=10, nonce_ok=nonce, killed_reason=killed,
                     record=HarnessRecord(outcomes=outcomes or {}, exception=exc, durations=durations or {},
                                          test_exceptions=test_exc or {}))


def cand(i=1, lines=2):
    return Candidate(id=i, rule="r", rationale="", edits=[FileEdit(path="pkg/a.py", new_text="")], diff_lines=lines)


OK = Preflight(ok=True)
BEFORE = run({T: "failed", "tests/test_a.py::test_other": "passed"}, code=1)


def test_verified_pytest_fix():
    v = judge(cand(), OK, run({T: "passed", "tests/test_a.py::test_other": "passed"}), None, PYTEST, BEFORE, None)
    assert v.verified and v.reason == "verified"


def test_regression_in_a_previously_passing_test_is_not_verified():
    v = judge(cand(), OK, run({T: "passed", "tests/test_a.py::test_other": "failed"}, code=1), None, PYTEST, BEFORE, None)
    assert not v.verified and "breaks 1 test" in v.reason and v.regressions == ["tests/test_a.py::test_other"]


def test_exit_zero_without_nonce_is_not_verified():
    v = judge(cand(), OK, run(code=0, nonce=False), None, SCRIPT, run(code=1), None)
    assert not v.verified and "no nonce" in v.reason


def test_skipped_or_missing_target_is_not_verified():
    assert not judge(cand(), OK, run({T: "skipped"}), None, PYTEST, BEFORE, None).verified
    assert not judge(cand(), OK, run({}), None, PYTEST, BEFORE, None).verified


def test_preflight_failure_and_timeouts_are_not_verified():
    assert not judge(cand(), Preflight(ok=False, reasons=["x"]), None, None, PYTEST, BEFORE, None).verified
    assert not judge(cand(), OK, run(killed="timeout after 10 s", code=None), None, SCRIPT, BEFORE, None).verified


def test_script_regression_suite_is_checked():
    baseline = run({"tests/t.py::a": "passed", "tests/t.py::b": "passed"})
    broken = run({"tests/t.py::a": "passed", "tests/t.py::b": "failed"})
    v = judge(cand(), OK, run(), broken, SCRIPT, run(code=1), baseline)
    assert not v.verified and v.regressions == ["tests/t.py::b"]
    assert judge(cand(), OK, run(), baseline, SCRIPT, run(code=1), baseline).verified


def test_reproduction_must_match_type_and_frame():
    reported = Analysis(exception=EXC, category=Category.KEY, failing_frame=EXC.frames[0], project_frames=EXC.frames)
    same = run({T: "failed"}, code=1, test_exc={T: EXC})
    assert check_reproduction(same, PYTEST, reported)[0]
    other_type = run({T: "failed"}, code=1, test_exc={T: EXC.model_copy(update={"type": "ValueError"})})
    ok, why = check_reproduction(other_type, PYTEST, reported)
    assert not ok and "ValueError" in why
    moved = EXC.model_copy(update={"frames": [Frame(file="b.py", line=1, function="other", project_path="pkg/b.py")]})
    ok, why = check_reproduction(run({T: "failed"}, code=1, test_exc={T: moved}), PYTEST, reported)
    assert not ok and "pkg/b.py other()" in why
    ok, why = check_reproduction(run({T: "passed"}), PYTEST, reported)
    assert not ok and "passed" in why


def test_winner_fastest_then_smallest_then_rank():
    def verdict(i, ms, lines):
        r = run({T: "passed", "tests/test_a.py::test_other": "passed"}, durations={T: ms})
        return judge(cand(i, lines), OK, r, None, PYTEST, BEFORE, None)
    assert pick_winner([verdict(1, 50.0, 2), verdict(2, 10.0, 8)]).candidate_id == 2      # clearly faster
    assert pick_winner([verdict(1, 10.0, 4), verdict(2, 11.0, 2)]).candidate_id == 2      # noise: smaller diff
    assert pick_winner([verdict(1, 10.0, 2), verdict(2, 10.5, 2)]).candidate_id == 1      # tie: engine rank
    assert pick_winner([judge(cand(), OK, run({T: "failed"}), None, PYTEST, BEFORE, None)]) is None


def test_oracle_strength():
    # never "existing tests" when no regression baseline ran: the failing tests are all it was held to
    assert oracle_strength(PYTEST, None, None) is Oracle.FAILING_TESTS
    assert oracle_strength(PYTEST, run({"t::a": "passed"}), None) is Oracle.EXISTING_TESTS
    assert oracle_strength(SCRIPT, run({"t::a": "passed"}), "x = 1\n") is Oracle.EXISTING_TESTS
    assert oracle_strength(SCRIPT, None, "assert f() == 1\n") is Oracle.REPRO_ASSERTIONS
    assert oracle_strength(SCRIPT, None, "print(f())\n") is Oracle.NO_CRASH


def test_a_target_whose_module_cannot_be_collected_failed_with_that_error():
    """pytest reports the module (or class) with the collection error, never the test id asked for."""
    imp = ExceptionInfo(type="ImportError", qualified_type="ImportError", message="cannot import name 'parse_date'")
    target = "tests/test_a.py::TestParse::test_parse[1]"
    repro = Reproduction(kind=ReproKind.PYTEST, test_ids=[target], files=["tests/test_a.py"])
    broken = run({"tests/test_a.py": "error"}, code=2, test_exc={"tests/test_a.py": imp})
    ok, why = check_reproduction(broken, repro, None)
    assert ok and why == "failed with ImportError"
    # a collection error elsewhere is not this target's
    elsewhere = run({"tests/test_b.py": "error", target: "passed"}, test_exc={"tests/test_b.py": imp})
    assert check_reproduction(elsewhere, repro, None) == (False, "the reproduction passed on the original code")
    # a class that could not be collected counts too
    by_class = run({"tests/test_a.py::TestParse": "error"}, code=2, test_exc={"tests/test_a.py::TestParse": imp})
    assert check_reproduction(by_class, repro, None)[0]


# --------------------------------------------------------------------------- crash becomes a proper error

REPORT = Reproduction(kind=ReproKind.SCRIPT, target="reproduce_issue.py", files=["reproduce_issue.py"],
                      script="import pkg\npkg.load('x')\n", derived_from="report: code block 1")
CRASH = run(exc=ExceptionInfo(type="TypeError", qualified_type="TypeError", message="'NoneType' object is not subscriptable",
                              frames=[Frame(file="pkg/a.py", line=3, function="load", project_path="pkg/a.py",
                                            code="return data['x']")]), code=1)


def raised(qualified, code, message="bad config: x"):
    return ExceptionInfo(type=qualified.rsplit(".", 1)[-1], qualified_type=qualified, message=message,
                         frames=[Frame(file="pkg/a.py", line=5, function="load", project_path="pkg/a.py", code=code)])


def test_a_reported_crash_that_became_the_projects_own_error_is_fixed():
    v = judge(cand(), OK, run(exc=raised("pkg.errors.ConfigError", "raise ConfigError(f'bad config: {name}')"), code=1),
              None, REPORT, CRASH, None)
    assert v.verified, v.reason
    assert v.outcome.startswith("raises pkg.errors.ConfigError: bad config: x (on purpose: a raise in pkg/a.py:5)")


def test_a_builtin_error_raised_on_purpose_with_its_message_counts_too():
    v = judge(cand(), OK, run(exc=raised("ValueError", "raise ValueError('bad config')"), code=1), None, REPORT, CRASH, None)
    assert v.verified and v.outcome.startswith("raises ValueError")


def test_the_same_crash_or_another_crash_is_not_a_proper_error():
    same = judge(cand(), OK, run(exc=raised("TypeError", "raise TypeError('x')"), code=1), None, REPORT, CRASH, None)
    other = judge(cand(), OK, run(exc=raised("KeyError", "return data['y']"), code=1), None, REPORT, CRASH, None)
    assert not same.verified and same.reason.startswith("TypeError")
    assert not other.verified and other.reason.startswith("KeyError")


def test_a_proper_error_counts_only_for_reproductions_from_reports():
    v = judge(cand(), OK, run(exc=raised("pkg.errors.ConfigError", "raise ConfigError('x')"), code=1), None, SCRIPT,
              CRASH, None)
    assert not v.verified  # a script of the project's own is held to exiting cleanly


def test_a_clean_return_is_said():
    v = judge(cand(), OK, run(), None, REPORT, CRASH, None)
    assert v.verified and v.outcome == "returns normally"


def test_fixes_the_tests_cannot_tell_apart_by_their_literals_are_not_verified():
    from statemachine.verdict import undetermined

    def verdict(i, bound):
        c = Candidate(id=i, rule="constant.other", rationale="",
                      edits=[FileEdit(path="pkg/a.py", new_text=f"def deposit(n):\n    if n <= {bound}:\n        raise ValueError(n)\n")])
        return c, judge(c, OK, run({T: "passed", "tests/test_a.py::test_other": "passed"}), None, PYTEST, BEFORE, None)
    (c1, v1), (c2, v2), (c3, v3) = verdict(1, "-1"), verdict(2, "0"), verdict(3, "0.0")
    undetermined([v1, v2], [c1, c2])
    assert not v1.verified and v1.plausible and "candidate 2: 0 instead of -1" in v1.reason
    assert not v2.verified and "candidate 1: -1 instead of 0" in v2.reason
    # the same value written another way is the same fix; a lone fix is untouched
    (c2, v2) = verdict(2, "0")
    undetermined([v2, v3], [c2, c3])
    assert v2.verified and v3.verified
    lone = verdict(4, "0")
    assert undetermined([lone[1]], [lone[0]])[0].verified
