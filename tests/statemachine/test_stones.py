"""Stepping stones (statemachine/stones.py): which rejected candidates got further, and the
combined change from the original that is validated in the end."""

from __future__ import annotations

from brain.offline.localize import Spectra
from pve.models import (
    Analysis,
    Candidate,
    Category,
    Checks,
    ExceptionInfo,
    FileEdit,
    Frame,
    HarnessRecord,
    Preflight,
    Reproduction,
    ReproKind,
    RunResult,
    RunSpec,
    Verdict,
)
from statemachine.analyze import analysis_from_run
from statemachine.stones import combine, overlay, remap, stone_of

ORIGINAL = "def average(marks):\n    total = 0\n    for m in marks:\n        total = m\n    return total / len(mark)\n"
TESTS = ["t.py::test_average", "t.py::test_empty", "t.py::test_one"]


def _exc(kind: str, line: int, path: str = "grades.py") -> ExceptionInfo:
    return ExceptionInfo(type=kind, qualified_type=kind, message="m",
                         frames=[Frame(file=f"/work/{path}", line=line, project_path=path)])


def _run(outcomes: dict[str, str], exceptions: dict[str, ExceptionInfo]) -> RunResult:
    return RunResult(sandbox_id="s", command="pytest", exit_code=1, duration_ms=10, nonce_ok=True,
                     record=HarnessRecord(completed=True, outcomes=outcomes, test_exceptions=exceptions))


def _checks() -> Checks:
    before = _run({TESTS[0]: "failed", TESTS[1]: "passed", TESTS[2]: "failed"},
                  {TESTS[0]: _exc("NameError", 5), TESTS[2]: _exc("NameError", 5)})
    analysis = Analysis(exception=_exc("NameError", 5), category=Category.NAME,
                        failing_frame=Frame(file="/work/grades.py", line=5, project_path="grades.py"))
    return Checks(repro=Reproduction(kind=ReproKind.PYTEST, files=["t.py"], test_ids=TESTS), analysis=analysis,
                  before=before, repro_spec=RunSpec(mode="pytest", argv=["t.py"]))


def _cand(cid: int, text: str) -> Candidate:
    return Candidate(id=cid, rule=f"r{cid}", rationale=f"why {cid}", edits=[FileEdit(path="grades.py", new_text=text)])


def _verdict(cid: int, run: RunResult) -> Verdict:
    return Verdict(candidate_id=cid, verified=False, reason="failed", preflight=Preflight(ok=True), run=run)


def read(path: str) -> str:
    return {"grades.py": ORIGINAL}[path]


FIXED_NAME = ORIGINAL.replace("len(mark)", "len(marks)")


def test_a_crash_that_becomes_a_wrong_answer_is_a_stone():
    checks = _checks()
    # the NameError is gone; test_average now fails on its assert, in the test file: further on
    run = _run({TESTS[0]: "failed", TESTS[1]: "passed", TESTS[2]: "passed"},
               {TESTS[0]: _exc("AssertionError", 9, "t.py")})
    stone = stone_of(_cand(3, FIXED_NAME), _verdict(3, run), checks, read, depth=1)
    assert stone is not None and stone.gained == 1 and stone.removed
    assert stone.analysis.exception.type == "AssertionError" and stone.analysis.test_id == TESTS[0]
    assert stone.describe() == "1 more test pass"


def test_no_stone_when_a_passing_test_breaks_or_the_edit_raises_itself():
    checks = _checks()
    broke = _run({TESTS[0]: "passed", TESTS[1]: "failed", TESTS[2]: "passed"}, {TESTS[1]: _exc("ZeroDivisionError", 5)})
    assert stone_of(_cand(4, FIXED_NAME), _verdict(4, broke), checks, read, depth=1) is None
    # a new exception raised on the very line the candidate wrote is the edit failing, not progress
    own = ORIGINAL.replace("len(mark)", "len(markz)")
    same = _run({TESTS[0]: "failed", TESTS[1]: "passed", TESTS[2]: "failed"},
                {TESTS[0]: _exc("TypeError", 5), TESTS[2]: _exc("TypeError", 5)})
    assert stone_of(_cand(5, own), _verdict(5, same), checks, read, depth=1) is None
    # the same exception at the same place: nothing changed
    unchanged = _run({TESTS[0]: "failed", TESTS[1]: "passed", TESTS[2]: "failed"},
                     {TESTS[0]: _exc("NameError", 5), TESTS[2]: _exc("NameError", 5)})
    assert stone_of(_cand(6, ORIGINAL.replace("total = 0", "total = 1")), _verdict(6, unchanged), checks, read,
                    depth=1) is None
    killed = broke.model_copy(update={"killed_reason": "timeout"})
    assert stone_of(_cand(7, FIXED_NAME), _verdict(7, killed), checks, read, depth=1) is None


def test_a_step_on_a_stone_must_get_further_than_the_stone():
    checks = _checks()
    run = _run({TESTS[0]: "failed", TESTS[1]: "passed", TESTS[2]: "passed"}, {TESTS[0]: _exc("AssertionError", 9, "t.py")})
    parent = stone_of(_cand(3, FIXED_NAME), _verdict(3, run), checks, read, depth=1)
    same = stone_of(_cand(9, FIXED_NAME.replace("total = 0", "total = 0  # x")), _verdict(9, run), checks, read, 2, parent)
    assert same is None  # as far as its stone, no further
    done_more = _run({t: "passed" for t in TESTS[:2]} | {TESTS[2]: "passed"}, {})
    assert stone_of(_cand(10, FIXED_NAME), _verdict(10, done_more), checks, read, 2, parent) is not None


def test_combined_candidates_are_one_change_from_the_original():
    stone = _cand(3, FIXED_NAME)
    on_stone = overlay(read, stone)
    assert on_stone("grades.py") == FIXED_NAME
    step = _cand(1, FIXED_NAME.replace("total = m", "total += m"))
    both = combine(stone, step, read, 200)
    assert both.id == 200 and both.rule == "r3 + r1" and both.rationale == "why 3; then why 1"
    assert [e.new_text for e in both.edits] == [FIXED_NAME.replace("total = m", "total += m")]
    assert "-        total = m\n-    return total / len(mark)\n+        total += m\n+    return total / len(marks)\n" in both.diff
    assert both.diff_lines == 4


def test_coverage_follows_the_lines_a_stone_moved():
    grown = ORIGINAL.replace("    total = 0\n", "    if not marks:\n        return 0\n    total = 0\n")
    spectra = Spectra(failing=[{"grades.py": {1, 2, 5}, "other.py": {3}}], passing=[{"grades.py": {1}}])
    moved = remap(spectra, _cand(1, grown), read)
    assert moved.failing == [{"grades.py": {1, 4, 7}, "other.py": {3}}] and moved.passing == [{"grades.py": {1}}]
    assert remap(None, _cand(1, grown), read) is None


def test_an_assert_that_comes_nearer_is_progress():
    from statemachine.stones import closeness

    assert closeness("assert [1, 2, 3] == [1, 2, 3]") == 1.0
    assert closeness("assert [1, 2, 4] == [1, 2, 3]") > closeness("assert [1, 5, 6] == [1, 2, 3]")
    # a number is not its text, but the right value as the wrong type is nearer than another value
    assert closeness("assert ['1', 2] == ['1', '2']") == 0.9
    assert closeness("assert ['1', 3] == ['1', '2']") < closeness("assert ['1', 2] == ['1', '2']") < 1.0
    assert closeness("assert 'Hello world' == 'Hello World'") > closeness("assert 'hELLO wORLD' == 'Hello World'")
    assert closeness("assert 89 == 90") > closeness("assert 100 == 90")
    assert closeness("assert f(x) == 3") is None and closeness("AssertionError") is None
    assert closeness("assert [1, ...] == [1, 2]") is None  # pytest shortened it: no guess
    checks = _checks()
    far = _run({TESTS[0]: "failed", TESTS[1]: "passed", TESTS[2]: "failed"},
               {TESTS[0]: ExceptionInfo(type="AssertionError", qualified_type="AssertionError",
                                        message="assert [5, 9] == [1, 2]"), TESTS[2]: _exc("NameError", 5)})
    near = far.model_copy(deep=True)
    near.record.test_exceptions[TESTS[0]] = ExceptionInfo(type="AssertionError", qualified_type="AssertionError",
                                                          message="assert [1, 9] == [1, 2]")
    parent = stone_of(_cand(3, FIXED_NAME), _verdict(3, far), checks, read, depth=1)
    assert parent is not None  # the NameError of test_average is gone (an assert now)
    step = stone_of(_cand(8, FIXED_NAME.replace("total = 0", "total = 1")), _verdict(8, near), checks, read, 2, parent)
    assert step is not None and step.closer and step.describe().startswith("a failing assert's values come nearer")


def test_a_wrong_answer_that_became_a_crash_is_no_stone_and_nearer_ranks_first():
    checks = _checks()
    wrong = {TESTS[0]: "failed", TESTS[1]: "passed", TESTS[2]: "passed"}
    original = _run(wrong, {TESTS[0]: ExceptionInfo(type="AssertionError", qualified_type="AssertionError",
                                                    message="assert [0, 0, 0, 0] == [1, 2, 3, 4]")})
    checks = checks.model_copy(update={"before": original, "analysis": analysis_from_run(
        original.record.test_exceptions[TESTS[0]], [], TESTS[0])})
    crashed = _run(wrong, {TESTS[0]: _exc("AttributeError", 4)})
    assert stone_of(_cand(3, FIXED_NAME), _verdict(3, crashed), checks, read, depth=1) is None
    stones = []
    for cid, got in ((4, "[1, 0, 0, 0]"), (5, "[1, 2, 3, 0]")):
        run = _run(wrong, {TESTS[0]: ExceptionInfo(type="AssertionError", qualified_type="AssertionError",
                                                   message=f"assert {got} == [1, 2, 3, 4]")})
        stone = stone_of(_cand(cid, FIXED_NAME), _verdict(cid, run), checks, read, depth=1)
        assert stone is not None
        stones.append(stone)
    assert sorted(stones, key=lambda s: s.key)[0].candidate.id == 5  # three items right beats one
