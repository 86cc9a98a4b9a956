"""The offline repair engine end to end, on bugs from benchmarks/repair: real sandbox, real pipeline,
and the held-out tests (never shown to the engine) run against the fix."""

from __future__ import annotations

import asyncio
import re
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from entrypoints import bootstrap
from pve.events import Fanout
from pve.models import Candidate, FileEdit, Reproduced, SessionStatus, VerifyRequest
from pve.settings import Settings
from statemachine.analyze import analyze
from statemachine.reproduce import Lab, reproduce
from statemachine.runner import verify
from statemachine.validate import validate

from .conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks" / "repair"))
import run as bench

pytestmark = pytest.mark.sandbox

BUGS = {b.id: b for b in bench.load_bugs()}


@pytest.fixture
def services(tmp_path):
    settings = replace(Settings.from_env({}), home=tmp_path / "home")
    return bootstrap.services(settings)


def repair(bug_id: str, services, tmp_path):
    bug = BUGS[bug_id]
    project = bench.build(bug, tmp_path)
    session = asyncio.run(verify(VerifyRequest(path=project, test=f"tests/test_{bug.program}.py", cache=False), services))
    return bug, project, session


@pytest.mark.parametrize("bug_id", ["bank-5", "search-3", "bank-3", "dates-2"])
def test_assertion_and_crash_bugs_get_a_correct_fix(bug_id, services, tmp_path):
    bug, project, session = repair(bug_id, services, tmp_path)
    # the fixed function is run by the failing test only: no test that passed before runs it, so
    # the (correct) fix is plausible, not verified, and no junk edit elsewhere may lend it tests
    assert session.status is SessionStatus.PLAUSIBLE, session.message
    assert session.message.endswith("no test that passed before runs the edited code")
    assert not any(v.verified for v in session.verdicts)
    winner = session.winning_candidate()
    patches = {e.path: e.new_text for e in winner.edits} | bench.heldout_patch(bug.program)
    correct, why = asyncio.run(bench.all_pass(services.sandbox, project, patches))
    assert correct, why
    # these four have one natural fix, and it is the original code
    assert winner.edits[0].new_text == (bench.HERE / "programs" / bug.program / f"{bug.program}.py").read_text()


def test_the_proof_says_how_the_search_went(services, tmp_path):
    _bug, _project, session = repair("search-3", services, tmp_path)
    s = session.search
    assert s.tried == len(session.verdicts) and 1 <= s.tried <= s.ranked
    assert s.stop != "verified fix found" and s.first_verified_ms is None and s.plausible >= 1
    # the three tests that passed before never call upper_bound, the function fixed: none is run again
    assert s.oracle == "failing tests (2 targets) + no test that passed before runs the changed code"
    proof = Path(session.proof_path).read_text(encoding="utf-8")
    assert "== search (offline repair engine)" in proof
    assert f"{s.tried} tried" in proof and "oracle passed: failing tests" in proof
    assert re.search(r"localization: spectra of 2 failing / 3 passing tests", proof)


def test_an_overfitting_candidate_is_caught_by_the_whole_suite(services, tmp_path):
    """Visible target: one test file; the suite holds a second file that a too-eager fix breaks."""
    project = tmp_path / "p"
    (project / "tests").mkdir(parents=True)
    (project / "price.py").write_text(
        "def discount(total):\n    if total > 100:\n        return total - 10\n    return total\n")
    (project / "tests" / "test_big.py").write_text(
        "from price import discount\n\n\ndef test_hundred_gets_discount():\n    assert discount(100) == 90\n")
    (project / "tests" / "test_small.py").write_text(
        "from price import discount\n\n\ndef test_small_orders_pay_full():\n    assert discount(50) == 50\n"
        "    assert discount(99) == 99\n")
    session = asyncio.run(verify(VerifyRequest(path=project, test="tests/test_big.py"), services))
    assert session.status is SessionStatus.VERIFIED
    assert "total >= 100" in session.winning_candidate().edits[0].new_text
    assert session.winning_verdict().regression is not None  # the winner was held to the whole suite

    # A fix that only fits the visible test, judged by the same steps the runner calls, one by one
    # (as a Step Functions engine would): analyze, reproduce, then validate that one candidate.
    req = VerifyRequest(path=project, test="tests/test_big.py")
    staged = services.sandbox.stage(project)
    try:
        py_files = sorted(p for p in staged.files if p.endswith(".py"))
        analyzed = analyze(req, py_files, log_text=None)
        reproduced = asyncio.run(reproduce(analyzed, req, py_files, Lab(services.sandbox, staged, Fanout())))
        assert Reproduced.model_validate_json(reproduced.model_dump_json()) == reproduced  # a state's payload
        assert reproduced.ok and reproduced.checks is not None and reproduced.checks.regression_spec is not None
        overfit = Candidate(id=1, rule="by hand", rationale="", edits=[FileEdit(
            path="price.py", new_text="def discount(total):\n    return total - 10\n")])
        verdict = asyncio.run(validate(overfit, services.sandbox, staged, reproduced.checks, Fanout()))
    finally:
        services.sandbox.cleanup(staged)
    assert verdict.run is not None and verdict.run.exit_code == 0  # it passes the visible test...
    assert not verdict.verified and "breaks 1 test(s)" in verdict.reason  # ...and the suite catches it
    assert verdict.regressions == ["tests/test_small.py::test_small_orders_pay_full"]


def test_same_input_same_candidates_same_winner(services, tmp_path):
    _b, _p, first = repair("cart-2", services, tmp_path / "a")
    _b, _p, second = repair("cart-2", services, tmp_path / "b")
    assert [c.diff for c in first.candidates] == [c.diff for c in second.candidates]
    assert first.winning_candidate().diff == second.winning_candidate().diff


def test_a_bug_that_loops_is_localized_and_held_by_the_suite(tmp_path):
    # A wrong-answer bug that loops in one test (`lo = mid`): the reproduction stops that test as
    # endless; the coverage run and the baseline stop it too (sooner), instead of losing their
    # whole clock to it: localization has spectra and the fix is held by the other tests.
    (tmp_path / "search.py").write_text(
        "def find(items, target):\n    lo, hi = 0, len(items) - 1\n    while lo <= hi:\n"
        "        mid = (lo + hi) // 2\n        if items[mid] == target:\n            return mid\n"
        "        if items[mid] < target:\n            lo = mid\n        else:\n            hi = mid - 1\n"
        "    return -1\n")
    (tmp_path / "test_search.py").write_text(
        "from search import find\n\n\ndef test_right():\n    assert find([1, 3, 5, 7], 7) == 3\n\n\n"
        "def test_left():\n    assert find([1, 3, 5, 7], 1) == 0\n\n\ndef test_middle():\n"
        "    assert find([1, 3, 5, 7], 3) == 1\n\n\ndef test_empty():\n    assert find([], 3) == -1\n")
    settings = Settings.from_env({"PVE_SANDBOX_TIMEOUT": "4"})
    svc = bootstrap.services(replace(settings, home=tmp_path / "home"))
    session = asyncio.run(verify(VerifyRequest(path=tmp_path, test="test_search.py", cache=False), svc))
    assert session.status is SessionStatus.VERIFIED, session.message
    assert session.search.spectra.startswith("spectra of 1 failing"), session.search.spectra
    assert "did not finish" not in session.oracle_note and "tests that passed before" in session.oracle_note
    assert session.winning_verdict().regression is not None  # held by the other three tests
