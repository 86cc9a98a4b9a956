"""Localization's coverage apart from the baseline: the tests read as units, the passing sample,
which failing tests are the reported failure, and the reproduction candidates run."""

from __future__ import annotations

from pve.models import (
    Analysis,
    Category,
    ExceptionInfo,
    Frame,
    HarnessRecord,
    Reproduction,
    ReproKind,
    RunResult,
)
from statemachine import oracle, spectrum
from statemachine.reproduce import narrowed
from statemachine.testmap import count_tests, units
from statemachine.verdict import failing_tests

TESTS = '''import unittest
from shop import total, count


class Base(unittest.TestCase):
    pass


class TestTotal(unittest.TestCase):
    def test_empty(self):
        self.assertEqual(total([]), 0)

    def test_two(self):
        self.assertEqual(total([1, 2]), 3)

    def helper(self):
        return count([])


class TestCount(Base):
    def test_count(self):
        self.assertEqual(count([1]), 1)


class TestInherited(Base):
    pass


def test_module_level():
    assert total([5]) == 5


def test_unrelated():
    assert 1 + 1 == 2
'''
FILES = {"tests/test_shop.py": TESTS, "tests/test_other.py": "def test_x():\n    assert True\n"}
T = "tests/test_shop.py"


def read(path: str) -> str:
    return FILES[path]


def test_a_test_file_reads_as_classes_and_functions_with_the_names_they_use():
    parts = units(T, read)
    assert [u.node for u in parts] == [f"{T}::TestTotal", f"{T}::TestCount", f"{T}::TestInherited",
                                       f"{T}::test_module_level", f"{T}::test_unrelated"]
    total = parts[0]
    assert total.tests == (f"{T}::TestTotal::test_empty", f"{T}::TestTotal::test_two") and total.size == 2
    assert {"total", "count", "assertEqual"} <= total.names
    assert parts[2].tests == () and parts[2].size == 1  # its tests come from a base class
    functions = [u.node for u in units(T, read, functions=True)]
    assert f"{T}::TestTotal::test_two" in functions and f"{T}::TestTotal" not in functions
    assert units("tests/broken.py", lambda p: "def test(:\n") == []
    assert count_tests(TESTS) == 5


def test_the_passing_sample_is_what_shares_most_with_the_failure():
    failing = [f"{T}::TestTotal::test_empty"]
    sample = spectrum.passing_sample(sorted(FILES), failing, frozenset({"total"}), read)
    # the failing test's class first, then tests calling total(), then its file's neighbours
    assert sample == [f"{T}::TestTotal::test_two", f"{T}::test_module_level", f"{T}::TestCount::test_count",
                      f"{T}::test_unrelated"]
    assert "tests/test_other.py::test_x" not in sample  # shares nothing with the failure
    assert spectrum.passing_sample(sorted(FILES), failing, frozenset({"total"}), read, limit=1) == sample[:1]


def exc(kind: str, function: str) -> ExceptionInfo:
    return ExceptionInfo(type=kind, qualified_type=kind, message="", frames=[
        Frame(file="shop.py", line=2, function=function, project_path="shop.py")])


REPORTED = Analysis(exception=exc("IndexError", "total"), category=Category.INDEX,
                    project_frames=exc("IndexError", "total").frames)
FILE_REPRO = Reproduction(kind=ReproKind.PYTEST, test_ids=[T], files=[T])


def before() -> RunResult:
    outcomes = {f"{T}::TestTotal::test_empty": "failed", f"{T}::TestTotal::test_two": "passed",
                f"{T}::TestCount::test_count": "failed", f"{T}::test_module_level": "passed"}
    return RunResult(sandbox_id="s", command="pytest", exit_code=1, duration_ms=10, nonce_ok=True, record=HarnessRecord(
        outcomes=outcomes, test_exceptions={f"{T}::TestTotal::test_empty": exc("IndexError", "total"),
                                            f"{T}::TestCount::test_count": exc("RuntimeError", "count")}))


def test_the_failure_is_the_tests_that_failed_as_reported():
    same, other = failing_tests(before(), FILE_REPRO, REPORTED)
    assert same == [f"{T}::TestTotal::test_empty"] and other == [f"{T}::TestCount::test_count"]
    # no report: every failing test is the failure
    assert failing_tests(before(), FILE_REPRO, None) == (sorted([f"{T}::TestTotal::test_empty",
                                                                  f"{T}::TestCount::test_count"]), [])


def test_candidates_run_only_the_failing_tests_when_the_baseline_holds_the_rest():
    baseline = before().model_copy(deep=True)
    held = narrowed(FILE_REPRO, before(), baseline, REPORTED)
    assert held is not None and held.test_ids == [f"{T}::TestTotal::test_empty"]
    # a passing test of the reproduction that the oracle did not run: nothing would hold a fix to it
    partial = baseline.model_copy(deep=True)
    del partial.record.outcomes[f"{T}::test_module_level"]
    assert narrowed(FILE_REPRO, before(), partial, REPORTED) is None
    assert narrowed(FILE_REPRO, before(), None, REPORTED) is None  # no baseline at all
    one = Reproduction(kind=ReproKind.PYTEST, test_ids=[f"{T}::TestTotal::test_empty"], files=[T])
    assert narrowed(one, before(), baseline, REPORTED) is None  # already just the failing test


def test_failure_names_are_the_projects_functions_not_the_tests():
    frames = [Frame(file=T, line=3, function="test_empty", project_path=T),
              Frame(file="shop.py", line=2, function="total", project_path="shop.py")]
    analysis = REPORTED.model_copy(update={"project_frames": frames})
    assert oracle.failure_names(analysis) == {"total"} and oracle.failure_names(None) == frozenset()


def test_a_base_classs_tests_run_again_in_each_subclass():
    """One suite per configuration (pyparsing's packrat variants): each subclass is the base's
    tests again, and counts as such."""
    source = ("import unittest\n\n\nclass TestPlain(unittest.TestCase):\n    def test_a(self):\n        run_a()\n\n"
              "    def test_b(self):\n        pass\n\n\nclass TestCached(TestPlain):\n    def test_b(self):\n"
              "        run_b()\n\n    def test_c(self):\n        pass\n")
    parts = units("tests/test_cfg.py", lambda p: source)
    assert [(u.node, u.size) for u in parts] == [("tests/test_cfg.py::TestPlain", 2), ("tests/test_cfg.py::TestCached", 3)]
    assert "run_a" in parts[1].names and "run_b" in parts[1].names  # what it inherits it runs
    assert "tests/test_cfg.py::TestCached::test_a" in [u.node for u in units("tests/test_cfg.py", lambda p: source,
                                                                                   functions=True)]


def test_a_class_unit_names_what_its_helpers_header_and_class_body_name():
    source = ("import pytest\n\n\n@pytest.mark.usefixtures('db')\nclass TestShop(Base, metaclass=Meta):\n"
              "    RATE = tax_rate()\n\n    def helper(self):\n        return load_prices()\n\n"
              "    def test_total(self):\n        assert total(self.helper()) == 3\n")
    (unit,) = units("tests/test_shop.py", lambda p: source)
    assert {"usefixtures", "Base", "Meta", "tax_rate", "load_prices", "total"} <= unit.names
