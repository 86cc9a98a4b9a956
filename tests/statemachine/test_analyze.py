"""Picking the failure to verify from a log with several."""

from __future__ import annotations

from brain.intake.traceback import ProjectIndex, parse_log
from statemachine.analyze import pick_failure

LOG = """\
=================================== FAILURES ===================================
___________________________________ test_a ____________________________________

    def test_a():
>       assert mod.f() == 1
E       KeyError: 'x'

tests/test_m.py:4: KeyError
___________________________________ test_b ____________________________________

    def test_b():
>       assert mod.g() == 2
E       ZeroDivisionError: division by zero

tests/test_m.py:8: ZeroDivisionError
=========================== short test summary info ============================
FAILED tests/test_m.py::test_a - KeyError: 'x'
FAILED tests/test_m.py::test_b - ZeroDivisionError: division by zero
"""


def test_a_named_test_picks_its_failure_else_the_first():
    parsed = parse_log(LOG, index=ProjectIndex(None, files=["mod.py", "tests/test_m.py"]))
    assert pick_failure(parsed).exception.type == "KeyError"
    assert pick_failure(parsed, "tests/test_m.py::test_b").exception.type == "ZeroDivisionError"
    assert pick_failure(parsed, "pytest tests/test_m.py::test_b").exception.type == "ZeroDivisionError"
    assert pick_failure(parsed, "tests/test_m.py::test_zzz").exception.type == "KeyError"


def test_a_snippet_takes_the_arguments_of_the_command_that_ran_it():
    from pathlib import Path

    import pytest

    from pve.errors import BadInput
    from pve.models import VerifyRequest
    from statemachine.analyze import analyze

    def snippet(cmd):
        req = VerifyRequest(path=Path("count.py"), cmd=cmd)
        return analyze(req, ["count.py"], log_text=None, snippet="count.py", read=lambda _p: "").reproduction

    assert snippet("python3 count.py 5 --fast 'a b'").argv == ["5", "--fast", "a b"]
    assert snippet("/usr/bin/python3.12 ./count.py").argv == [] and snippet(None).argv == []
    for wrong in ("python other.py 5", "pytest count.py", "python -m count"):
        with pytest.raises(BadInput, match=r"runs as `python count\.py"):
            snippet(wrong)
