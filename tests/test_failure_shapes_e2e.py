"""Failure shapes seen on real repositories, end to end through `verify` (real sandboxes): a test
module that cannot be imported, an error that surfaces in the test body, a test file pytest
would not collect by its name."""

from __future__ import annotations

import asyncio

import pytest

from pve.models import SessionStatus, VerifyRequest
from statemachine.runner import verify

from .conftest import write_tree as project

pytestmark = pytest.mark.sandbox


def test_a_test_module_that_cannot_import_the_name_fails_at_collection_and_is_fixed(tmp_path, services):
    """The test imports the name the fix must provide; a sibling class cannot be collected
    either, but the given test id runs alone."""
    root = project(tmp_path / "dates", {
        "dates.py": "def parse_dat(text):\n    y, m, d = text.split('-')\n    return int(y), int(m), int(d)\n",
        "tests/test_dates.py": "import pytest\n\nfrom dates import parse_date\n\n\nclass TestParse:\n"
                               "    def test_parse(self):\n        assert parse_date('2024-01-02') == (2024, 1, 2)\n\n\n"
                               "class TestBroken:\n    @pytest.mark.parametrize('y', [1])\n"
                               "    def test_never(self, x):\n        pass\n"})
    session = asyncio.run(verify(VerifyRequest(path=root, test="tests/test_dates.py::TestParse::test_parse"), services))
    assert session.before.record.exception is None  # no test ran: the module did not import
    assert session.analysis.exception.type == "ImportError"
    # no test of the file passed before the fix (none could be collected): plausible, not verified
    assert session.status is SessionStatus.PLAUSIBLE, session.message
    assert "no test besides the reproduction could check it" in session.message
    assert session.reproduction.argv[0] == "tests/test_dates.py::TestParse::test_parse"  # the id, not the file
    assert "+def parse_date(text):" in session.winning_candidate().diff


def test_an_error_that_surfaces_in_the_test_body_points_at_the_project_call_before_it(tmp_path, services):
    root = project(tmp_path / "shop", {
        "shop.py": "def total(prices, tax):\n    return sum(prices) - tax\n\n\ndef count(prices):\n    return len(prices)\n",
        "test.py": "import unittest\n\nfrom shop import count, total\n\n\nclass TestShop(unittest.TestCase):\n"
                   "    def test_total(self):\n        prices, tax = [10, 20], 3\n        result = total(prices, tax)\n"
                   "        self.assertEqual(result, 33)\n        self.assertEqual(total([1], 1), 2)\n\n"
                   "    def test_count(self):\n        self.assertEqual(count([1, 2]), 2)\n\n"
                   "    def test_total_of_nothing(self):\n        self.assertEqual(total([], 0), 0)\n"})
    session = asyncio.run(verify(VerifyRequest(path=root, cmd="python -m unittest test"), services))
    assert session.status is SessionStatus.VERIFIED, session.message
    assert session.search.suspects[0].startswith("shop.py:2")  # total(), from `result = total(...)` above the assert
    assert "+    return sum(prices) + tax" in session.winning_candidate().diff
    # test.py is no name pytest collects by itself: the regression suite ran it too
    assert session.baseline is not None and session.baseline.record.outcomes["test.py::TestShop::test_count"] == "passed"
    # the failing test_total is left out of the regression run exactly: test_total_of_nothing,
    # whose name starts with it (pytest's --deselect matches prefixes), runs and is the evidence
    regression = session.winning_verdict().regression
    assert regression.record.outcomes["test.py::TestShop::test_total_of_nothing"] == "passed"
    assert "test.py::TestShop::test_total" not in regression.record.outcomes
    assert session.winning_verdict().covered.endswith("shop.py: total (1 test)")


def test_a_regex_bug_is_fixed_inside_the_pattern(tmp_path, services):
    """The shape of most real text-processing fixes: ``&([^;]+;)`` -> ``&([^&;]+;)``."""
    root = project(tmp_path / "markup", {
        "markup.py": "import re\n\nENTITY = re.compile(r\"&([^;]+;)\")\nNAMES = {\"amp\": \"&\", \"lt\": \"<\", \"gt\": \">\"}\n\n\n"
                     "def unescape(text):\n    return ENTITY.sub(lambda m: NAMES.get(m.group(1)[:-1], m.group(0)), text)\n",
        "tests/test_markup.py": "from markup import unescape\n\n\ndef test_named():\n"
                                "    assert unescape('&lt;b&gt; &amp;') == '<b> &'\n\n\ndef test_unknown_is_kept():\n"
                                "    assert unescape('&nbsp;') == '&nbsp;'\n\n\ndef test_lone_ampersand():\n"
                                "    assert unescape('fish & chips &lt;3') == 'fish & chips <3'\n"})
    session = asyncio.run(verify(VerifyRequest(path=root, test="tests/test_markup.py::test_lone_ampersand"), services))
    assert session.status is SessionStatus.VERIFIED, session.message
    winner = session.winning_candidate()
    assert winner.rule == "regex.class-add" and '+ENTITY = re.compile(r"&([^&;]+;)")' in winner.diff


def test_a_failure_in_a_large_test_file_runs_only_its_failing_test_per_candidate(tmp_path, services):
    """`python -m unittest tests.test_stats` and the reported traceback, on a file of many tests,
    one of which failed before for a reason of its own (it needs more threads than the sandbox allows): candidates run the
    test that failed as reported; the file's passing tests are held by the regression baseline;
    the unrelated failure is neither required of a fix nor traced for localization."""
    passing = "".join(f"    def test_mean_{k}(self):\n        self.assertEqual(mean([{k}, {k}]), {k})\n\n" for k in range(40))
    root = project(tmp_path / "stats", {
        "stats.py": "def mean(xs):\n    return sum(xs) / len(xs)\n\n\ndef middle(xs):\n    xs = sorted(xs)\n"
                    "    return xs[len(xs) // 2 + 1]\n",
        "tests/__init__.py": "",
        "tests/test_stats.py": "import unittest\n\nfrom stats import mean, middle\n\n\nclass TestMean(unittest.TestCase):\n"
                               + passing + "class TestMiddle(unittest.TestCase):\n    def test_same(self):\n"
                               "        self.assertEqual(middle([7, 7, 7]), 7)\n\n    def test_pair(self):\n"
                               "        self.assertEqual(middle([5]), 5)\n\n\nclass TestUnrelated(unittest.TestCase):\n"
                               "    def test_environment(self):\n        raise RuntimeError('needs 500 threads')\n"})
    log = ("ERROR: test_pair (tests.test_stats.TestMiddle.test_pair)\n" + "-" * 70 + "\nTraceback (most recent call last):\n"
           f'  File "{root}/tests/test_stats.py", line 132, in test_pair\n    self.assertEqual(middle([5]), 5)\n'
           f'  File "{root}/stats.py", line 7, in middle\n    return xs[len(xs) // 2 + 1]\n'
           "IndexError: list index out of range\n")
    session = asyncio.run(verify(VerifyRequest(path=root, cmd="python -m unittest tests.test_stats", cache=False,
                                               error_log=log.encode()), services))
    assert session.status is SessionStatus.VERIFIED, session.message
    assert "-    return xs[len(xs) // 2 + 1]" in session.winning_candidate().diff
    winner = session.winning_verdict()
    assert set(winner.run.record.outcomes) == {"tests/test_stats.py::TestMiddle::test_pair"}  # IndexError as observed
    # the fix changes middle(): the tests that ran it run again, the 40 that only ran mean() cannot change
    assert set(winner.regression.record.outcomes) == {"tests/test_stats.py::TestMiddle::test_same"}
    assert winner.regression_scope.startswith("1 of 41 tests that passed before run the changed code (stats.py: middle)")
    # what failed before holds a fix to nothing: the regression run leaves it out
    assert session.baseline.record.outcomes["tests/test_stats.py::TestUnrelated::test_environment"] == "failed"
    assert "tests/test_stats.py::TestUnrelated::test_environment" not in winner.regression.record.outcomes
    # localization traced the failing test and a sample, not the whole file and not the unrelated failure
    assert session.search.suspects[0].startswith("stats.py:7")

