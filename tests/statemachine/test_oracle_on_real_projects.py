"""The regression oracle on projects as they are: the sandbox's pytest behaves as an installed
pytest (distribution metadata, the project's ``addopts``), and one test file that cannot be
collected is left out and named instead of voiding the suite (TRUTH.md, case 3). Real sandboxes."""

from __future__ import annotations

import asyncio

import pytest

from pve.models import RunMode, RunSpec, SessionStatus, VerifyRequest
from statemachine.runner import verify

from ..conftest import write_tree as project

pytestmark = pytest.mark.sandbox

MATHX = {
    "pkg/__init__.py": "",
    "pkg/mathx.py": "def mean(xs):\n    return sum(xs) / len(xs)\n\n\ndef total(xs):\n    return sum(xs)\n",
    "tests/test_mathx.py": "from pkg.mathx import mean, total\n\n\ndef test_mean():\n    assert mean([1, 2, 3]) == 2\n\n\n"
                           "def test_total():\n    assert total([1, 2]) == 3\n\n\n"
                           "def test_mean_empty():\n    assert mean([]) == 0\n",
}
# A data folder from a git submodule, empty in a plain checkout: the file fails at collection.
UNCOLLECTABLE = ("import os\n\nCASES = sorted(os.listdir(os.path.join(os.path.dirname(__file__), 'data')))\n"
                 "FIRST = CASES[0]\n\n\ndef test_first():\n    assert FIRST\n")


def test_the_sandboxs_pytest_has_its_distribution_metadata(tmp_path, services):
    root = project(tmp_path / "meta", {"tests/test_meta.py": (
        "from importlib import metadata\n\n\ndef test_versions():\n"
        "    assert metadata.version('pytest') and metadata.version('pluggy')\n"
        "    assert any(d.metadata['Name'] == 'pytest' for d in metadata.distributions())\n")})
    staged = services.sandbox.stage(root)
    try:
        run = asyncio.run(services.sandbox.run(staged, RunSpec(mode=RunMode.PYTEST, argv=["-v", "tests"])))
    finally:
        services.sandbox.cleanup(staged)
    assert run.record.outcomes == {"tests/test_meta.py::test_versions": "passed"}, run.stdout[-2000:]
    assert "INTERNALERROR" not in run.stdout + run.stderr


def test_a_project_with_addopts_v_has_its_whole_suite_as_the_oracle(tmp_path, services):
    root = project(tmp_path / "verbose", {**MATHX, "pyproject.toml": '[tool.pytest.ini_options]\naddopts = "-v"\n'})
    session = asyncio.run(verify(VerifyRequest(path=root, test="tests/test_mathx.py::test_mean_empty", cache=False),
                                 services))
    assert session.baseline is not None, session.oracle_note
    assert session.oracle_note.startswith("2 tests that passed before the fix"), session.oracle_note
    assert session.status is SessionStatus.VERIFIED, session.message
    assert "pkg/mathx.py: mean" in session.winning_verdict().covered


def test_a_file_that_cannot_be_collected_is_left_out_and_named(tmp_path, services):
    root = project(tmp_path / "submodule", {**MATHX, "tests/test_data.py": UNCOLLECTABLE,
                                            "pyproject.toml": '[tool.pytest.ini_options]\naddopts = "-v"\n'})
    (root / "tests" / "data").mkdir()
    session = asyncio.run(verify(VerifyRequest(path=root, test="tests/test_mathx.py::test_mean_empty", cache=False),
                                 services))
    assert session.baseline is not None, session.oracle_note
    # (the empty folder is not staged: the file fails with FileNotFoundError, or IndexError where it exists)
    assert "could not be collected, so not part of it: tests/test_data.py (" in session.oracle_note
    assert session.status is SessionStatus.VERIFIED, session.message


def test_a_modules_doctests_belong_to_the_oracle(tmp_path, services):
    files = {**MATHX, "pkg/mathx.py": MATHX["pkg/mathx.py"].replace(
        "def total(xs):\n", "def total(xs):\n    \"\"\"The sum.\n\n    >>> total([1, 2])\n    3\n    \"\"\"\n")}
    root = project(tmp_path / "doctests", files)
    session = asyncio.run(verify(VerifyRequest(path=root, test="tests/test_mathx.py::test_mean_empty", cache=False),
                                 services))
    assert session.baseline is not None and "doctests" in session.oracle_note, session.oracle_note
    assert session.baseline.record.outcomes.get("pkg/mathx.py::pkg.mathx.total") == "passed", \
        session.baseline.record.outcomes
