"""Fault localization: Ochiai from per-test coverage, traceback frames, the failing assertion's calls."""

from __future__ import annotations

import math

import pytest

from brain.offline.localize import Spectra, localize, ochiai, spectra_from
from pve.models import Analysis, Category, Coverage, ExceptionInfo, Frame

SRC = """\
def clamp(x, lo, hi):
    if x < lo:
        return lo
    if x > hi:
        return lo
    return x


def scale(values, k):
    return [v * k for v in values]
"""
TEST = """\
from lib import clamp, scale


def test_low():
    assert clamp(-5, 0, 10) == 0


def test_mid():
    assert clamp(5, 0, 10) == 5


def test_high():
    assert clamp(50, 0, 10) == 10


def test_scale():
    assert scale([1], 2) == [2]
"""
FILES = {"lib.py": SRC, "tests/test_lib.py": TEST}


def editable(path: str) -> bool:
    return not path.startswith("tests/")


def read(path: str) -> str:
    if path not in FILES:
        raise FileNotFoundError(path)  # the contract of StagedProject.read_text
    return FILES[path]


def coverage() -> Coverage:
    return Coverage(
        shared={"lib.py": [1, 9], "tests/test_lib.py": [1, 4, 8, 12, 16]},
        tests={
            "tests/test_lib.py::test_low": {"lib.py": [2, 3], "tests/test_lib.py": [5]},
            "tests/test_lib.py::test_mid": {"lib.py": [2, 4, 6], "tests/test_lib.py": [9]},
            "tests/test_lib.py::test_high": {"lib.py": [2, 4, 5], "tests/test_lib.py": [13]},
            "tests/test_lib.py::test_scale": {"lib.py": [10], "tests/test_lib.py": [17]},
        })


def assertion_analysis(line: int = 13) -> Analysis:
    exc = ExceptionInfo(type="AssertionError", qualified_type="AssertionError", message="assert 0 == 10",
                        frames=[Frame(file="tests/test_lib.py", line=line, function="test_high",
                                      project_path="tests/test_lib.py")])
    return Analysis(exception=exc, category=Category.ASSERTION, failing_frame=exc.frames[0],
                    project_frames=exc.frames, test_id="tests/test_lib.py::test_high")


def test_ochiai_formula():
    spectra = Spectra(failing=[{"a.py": {1, 2}}], passing=[{"a.py": {1}}, {"a.py": {1, 3}}])
    scores = ochiai(spectra)
    assert scores[("a.py", 2)] == 1.0  # only the failing test runs it
    assert scores[("a.py", 1)] == pytest.approx(1 / math.sqrt(1 * 3))
    assert ("a.py", 3) not in scores  # never run by a failing test


def test_spectra_split_by_outcome_and_shared_lines_count_for_every_test():
    failing = {"tests/test_lib.py::test_high"}
    passing = {"tests/test_lib.py::test_low", "tests/test_lib.py::test_mid"}
    spectra = spectra_from([coverage()], failing, passing)
    assert len(spectra.failing) == 1 and len(spectra.passing) == 2  # test_scale is neither: left out
    assert {1, 2, 4, 5, 9} <= spectra.failing[0]["lib.py"]


def test_the_buggy_line_ranks_first_for_an_assertion_failure():
    spectra = spectra_from([coverage()], {"tests/test_lib.py::test_high"},
                           {"tests/test_lib.py::test_low", "tests/test_lib.py::test_mid",
                            "tests/test_lib.py::test_scale"})
    suspects = localize(assertion_analysis(), spectra, editable, read)
    assert (suspects[0].path, suspects[0].line) == ("lib.py", 5)
    assert "ochiai 1.00" in suspects[0].why
    assert all(s.path == "lib.py" for s in suspects)  # tests are never suspects
    assert ("lib.py", 10) not in {(s.path, s.line) for s in suspects}  # only passing tests ran it


def test_functions_called_by_the_failing_assertion_break_ties():
    spectra = Spectra(failing=[{"lib.py": {2, 4, 5, 10}}], passing=[])
    suspects = localize(assertion_analysis(), spectra, editable, read)
    top = [(s.line, s.why) for s in suspects[:3]]
    assert all("called by the failing test (clamp)" in why for _l, why in top)
    assert suspects[-1].line == 10  # scale() runs too, but the assertion does not call it


def test_without_coverage_the_crash_frame_and_its_function_are_the_suspects():
    exc = ExceptionInfo(type="ZeroDivisionError", qualified_type="ZeroDivisionError", message="division by zero",
                        frames=[Frame(file="tests/test_lib.py", line=5, function="test_low", project_path="tests/test_lib.py"),
                                Frame(file="lib.py", line=4, function="clamp", project_path="lib.py")])
    analysis = Analysis(exception=exc, category=Category.ARITHMETIC, failing_frame=exc.frames[1],
                        project_frames=exc.frames)
    suspects = localize(analysis, None, editable, read)
    assert (suspects[0].path, suspects[0].line) == ("lib.py", 4)
    lines = [s.line for s in suspects]
    assert set(lines) >= {2, 3, 5, 6}  # the rest of clamp(), nearer lines first
    assert lines.index(5) < lines.index(2)


def test_localization_is_deterministic():
    spectra = spectra_from([coverage()], {"tests/test_lib.py::test_high"},
                           {"tests/test_lib.py::test_low", "tests/test_lib.py::test_mid"})
    first = localize(assertion_analysis(), spectra, editable, read)
    for _ in range(3):
        assert localize(assertion_analysis(), spectra, editable, read) == first


SHOP = "def total(prices, tax):\n    return sum(prices) - tax\n\n\ndef count(prices):\n    return len(prices)\n"
SHOP_TEST = ("import unittest\n\nfrom shop import count, total\n\n\nclass TestShop(unittest.TestCase):\n"
             "    def test_total(self):\n        prices, tax = [10, 20], 3\n        subtotal = total(prices, tax)\n"
             "        result = round(subtotal)\n        self.assertEqual(result, 33)\n")


def test_an_error_in_the_test_body_points_back_at_the_project_calls_that_fed_it():
    """``assertEqual(result, 33)`` calls nothing of the project; ``result`` came from ``total``."""
    files = {"shop.py": SHOP, "test.py": SHOP_TEST}
    exc = ExceptionInfo(type="AssertionError", qualified_type="AssertionError", message="30 != 33",
                        frames=[Frame(file="test.py", line=11, function="test_total", project_path="test.py")])
    analysis = Analysis(exception=exc, category=Category.ASSERTION, project_frames=exc.frames)
    def read(path: str) -> str:
        if path not in files:
            raise FileNotFoundError(path)
        return files[path]

    suspects = localize(analysis, None, lambda p: p != "test.py", read)
    assert [(s.path, s.line) for s in suspects] == [("shop.py", 2)]
    assert "called by the failing test (total)" in suspects[0].why
