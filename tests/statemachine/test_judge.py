"""A tree someone else wrote (a pull request's head) judged as the one candidate against its base,
in real sandboxes: fixes, does not fix, fixes but breaks, cannot be reproduced, its own tests."""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from entrypoints import bootstrap
from pve.models import JudgeTree, SessionStatus, VerifyRequest
from pve.settings import Settings
from statemachine.runner import verify

pytestmark = pytest.mark.sandbox

BUGGY = "def half(x):\n    if x >= 4:\n        raise ValueError(x)\n    return x / 2\n"
FIXED = "def half(x):\n    return x / 2\n"
TESTS = ("from calc import half\n\n\ndef test_half():\n    assert half(4) == 2\n\n\n"
         "def test_small():\n    assert half(2) == 1\n")


def tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def judge(tmp_path: Path, head_changes: dict[str, str | None], base: dict[str, str] | None = None,
          test: str = "tests/test_calc.py::test_half"):
    base_files = base or {"calc.py": BUGGY, "tests/test_calc.py": TESTS}
    base_root = tree(tmp_path / "base", base_files)
    head_root = tmp_path / "head"
    shutil.copytree(base_root, head_root)
    for rel, text in head_changes.items():
        if text is None:
            (head_root / rel).unlink()
        else:
            tree(head_root, {rel: text})
    svc = bootstrap.services(replace(Settings.from_env({}), home=tmp_path / "home"))
    req = VerifyRequest(path=base_root, test=test, cache=False,
                        judge=JudgeTree(path=head_root, label="pull request #7", base_commit="b" * 40, head_commit="h" * 40))
    return asyncio.run(verify(req, svc))


def test_a_head_that_fixes_it_is_verified_against_the_oracle(tmp_path):
    session = judge(tmp_path, {"calc.py": FIXED})
    assert session.status is SessionStatus.VERIFIED, session.message
    (c,) = session.candidates
    assert c.source == "pull request" and c.rule == "pull-request" and [e.path for e in c.edits] == ["calc.py"]
    assert "-    if x >= 4:" in c.diff
    (v,) = session.verdicts
    assert v.verified and v.regression is not None and not v.regressions
    assert session.baseline is not None and "tests/test_calc.py::test_small" in session.baseline.record.outcomes
    proof = Path(session.proof_path).read_text()
    assert "== judged: pull request #7" in proof and f"base commit: {'b' * 40}" in proof
    assert f"head commit: {'h' * 40}" in proof and "  calc.py" in proof.split("== judged")[1].split("==")[0]


def test_a_head_that_does_not_fix_it_says_how_it_still_fails(tmp_path):
    session = judge(tmp_path, {"calc.py": BUGGY.replace("x / 2", "x * 0.5")})
    assert session.status is SessionStatus.NO_FIX
    (v,) = session.verdicts
    assert not v.verified and "ValueError" in v.reason and v.regression is None
    assert "== after: pull request #7 applied" in Path(session.proof_path).read_text()


def test_a_head_that_fixes_it_but_breaks_a_test_names_the_test(tmp_path):
    session = judge(tmp_path, {"calc.py": "def half(x):\n    return 2 if x == 4 else 0\n"})
    assert session.status is not SessionStatus.VERIFIED
    (v,) = session.verdicts
    assert v.run is not None and v.run.record.outcomes["tests/test_calc.py::test_half"] == "passed"
    assert v.regressions == ["tests/test_calc.py::test_small"]


def test_a_failure_the_base_does_not_have_is_not_reproduced(tmp_path):
    session = judge(tmp_path, {"calc.py": FIXED}, base={"calc.py": FIXED, "tests/test_calc.py": TESTS})
    assert session.status is SessionStatus.NOT_REPRODUCED
    assert not session.verdicts


def test_the_pull_requests_own_tests_run_on_its_head(tmp_path):
    new_test = "from calc import half\n\n\ndef test_negative():\n    assert half(-2) == 1\n"  # wrong: -1
    session = judge(tmp_path, {"calc.py": FIXED, "tests/test_negative.py": new_test})
    (v,) = session.verdicts
    assert not v.verified and v.regressions == ["tests/test_negative.py::test_negative"]
    assert v.own_tests is not None and v.own_tests.record.outcomes["tests/test_negative.py::test_negative"] == "failed"
    good = judge(tmp_path / "again", {"calc.py": FIXED, "tests/test_negative.py": new_test.replace("== 1", "== -1")})
    assert good.status is SessionStatus.VERIFIED, good.message
    assert good.verdicts[0].own_tests.record.outcomes == {"tests/test_negative.py::test_negative": "passed"}


def test_what_a_run_cannot_carry_is_said(tmp_path):
    session = judge(tmp_path, {"calc.py": FIXED, "notes.txt": None}, base={
        "calc.py": BUGGY, "tests/test_calc.py": TESTS, "notes.txt": "old\n"})
    (v,) = session.verdicts
    assert "deletes 1 file(s) (notes.txt)" in v.reason


SCOPED_BASE = {
    "calc.py": BUGGY + "\n\nRATE = 3\n\n\ndef triple(x):\n    return x * RATE\n",
    "tests/test_calc.py": TESTS,
    "tests/test_triple.py": "from calc import triple\n\n\ndef test_triple():\n    assert triple(2) == 6\n",
}


def test_only_the_tests_that_run_the_changed_function_are_run_again(tmp_path):
    """The head changes half(): test_triple never ran it, so it is not run again (it cannot
    behave differently); test_small did, runs again, and its failure is caught."""
    broken = SCOPED_BASE["calc.py"].replace(BUGGY, "def half(x):\n    return 2 if x == 4 else 0\n")
    session = judge(tmp_path, {"calc.py": broken}, base=SCOPED_BASE)
    (v,) = session.verdicts
    assert session.baseline is not None and session.baseline.record.reach is not None
    assert set(session.baseline.record.outcomes) == {"tests/test_calc.py::test_half", "tests/test_calc.py::test_small",
                                                     "tests/test_triple.py::test_triple"}
    assert v.regression is not None and set(v.regression.record.outcomes) == {"tests/test_calc.py::test_small"}
    assert v.regressions == ["tests/test_calc.py::test_small"] and not v.verified
    assert v.regression_scope.startswith("1 of 2 tests that passed before run the changed code (calc.py: half)")


def test_a_change_to_what_runs_at_import_runs_every_test_again(tmp_path):
    changed = SCOPED_BASE["calc.py"].replace(BUGGY, FIXED).replace("RATE = 3", "RATE = 4")
    session = judge(tmp_path, {"calc.py": changed}, base=SCOPED_BASE)
    (v,) = session.verdicts
    assert v.regression is not None
    assert set(v.regression.record.outcomes) == {"tests/test_calc.py::test_small", "tests/test_triple.py::test_triple"}
    assert v.regressions == ["tests/test_triple.py::test_triple"] and not v.verified
    assert v.regression_scope == "all 2 tests that passed before (calc.py changes what runs at import (module or class level))"


def test_a_fix_no_passing_test_runs_needs_no_regression_run_and_says_why(tmp_path):
    base = {**SCOPED_BASE, "tests/test_calc.py": TESTS.split("\n\n\ndef test_small")[0] + "\n"}
    session = judge(tmp_path, {"calc.py": SCOPED_BASE["calc.py"].replace(BUGGY, FIXED)}, base=base)
    # it fixes the reproduction, but no test that passed before runs it: plausible, not verified
    assert session.status is SessionStatus.PLAUSIBLE, session.message
    (v,) = session.verdicts
    assert v.plausible and not v.verified and v.regression is None
    assert v.reason == "plausible, not verified: no test that passed before runs the edited code"
    assert v.regression_scope.startswith("0 of 1 tests that passed before run the changed code (calc.py: half); "
                                         "the other 1 never entered it")
    assert "== regression scope" in Path(session.proof_path).read_text()


def test_a_head_that_reaches_into_the_judging_process_is_not_run(tmp_path):
    """A pull request whose code reads the harness's memory or its own process's descriptors
    (the way a pass was forged, SANDBOX.md) is not judged automatically: it never runs."""
    forging = ("import os, sys\n\n\ndef half(x):\n    main = sys.modules['__main__']\n"
               "    fds = os.listdir('/proc/self/fd')\n    return x / 2\n")
    session = judge(tmp_path, {"calc.py": forging})
    (v,) = session.verdicts
    assert session.status is not SessionStatus.VERIFIED and not v.verified and not v.plausible
    assert v.reason.startswith("not judged automatically: calc.py reaches into the process that judges it")
    assert "'/proc/self/fd'" in v.reason and "'__main__'" in v.reason
    assert v.run is None  # not run at all
