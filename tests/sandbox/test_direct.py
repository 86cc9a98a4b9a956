"""Direct screening runs (sandbox/inside/direct.py): plain tests called without pytest's session, only
where that was checked to give pytest's outcomes, and with pytest's record when used."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from pve.models import RunMode, RunResult, RunSpec
from pve.settings import SandboxSettings
from sandbox.bwrap import BubblewrapSandbox
from sandbox.inside import direct

pytestmark = pytest.mark.sandbox

LIB = "def answer():\n    return 41\n\n\ndef spin():\n    return 1\n"
TESTS = ("from lib import answer\n\n"
         "def test_answer():\n    assert answer() == 42\n\n"
         "class TestMore:\n    def test_list(self):\n        assert [answer(), 1, 2, 3, 4, 5, 6, 7] == [42, 1, 2, 3, 4, 5, 6, 7]\n\n"
         "def test_other():\n    assert True\n")
DIRECT = "(screened, tests called directly)"


@pytest.fixture(scope="module")
def sandbox():
    sb = BubblewrapSandbox(SandboxSettings(timeout_s=30.0, output_kill_bytes=1 << 20, screen_after=0), slots=1)
    yield sb
    for fd in sb._slot_locks:
        os.close(fd)


def project(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def spec(*argv: str, patches: dict[str, str] | None = None, timeout_s: float | None = None) -> RunSpec:
    return RunSpec(mode=RunMode.PYTEST, argv=list(argv or ["test_lib.py"]), patches=patches or {}, label="candidate",
                   timeout_s=timeout_s)


def both(sandbox: BubblewrapSandbox, root: Path, *specs: RunSpec) -> list[tuple[RunResult, RunResult]]:
    """Each spec run fresh and screened (one warm server for all)."""
    staged = sandbox.stage(root)

    async def go():
        try:
            fresh = [await sandbox.run(staged, s) for s in specs]
            screened = [await sandbox.screen(staged, s) for s in specs]
            return list(zip(fresh, screened, strict=True))
        finally:
            await sandbox.release(staged)
    try:
        return asyncio.run(go())
    finally:
        sandbox.cleanup(staged)


def same_record(fresh: RunResult, screened: RunResult) -> None:
    assert screened.nonce_ok and fresh.nonce_ok
    assert list(screened.record.outcomes.items()) == list(fresh.record.outcomes.items())
    assert {k: v.type for k, v in screened.record.test_exceptions.items()} == \
        {k: v.type for k, v in fresh.record.test_exceptions.items()}
    assert screened.exit_code == fresh.exit_code


def test_plain_tests_are_called_directly_with_pytests_record(sandbox, tmp_path):
    root = project(tmp_path, {"lib.py": LIB, "test_lib.py": TESTS})
    fixed = {"lib.py": LIB.replace("41", "42")}
    broken_import = {"lib.py": "def answer(:\n"}
    loops = {"lib.py": "calls = []\n\ndef answer():\n    calls.append(1)\n    while len(calls) == 1:\n        pass\n"
                       "    return 42\n"}  # the first test loops, the next ones pass
    runs = both(sandbox, root, spec(), spec(patches=fixed), spec(patches=broken_import),
                spec(patches=loops, timeout_s=4.0))
    for fresh, screened in runs:
        assert screened.label.endswith(DIRECT), screened.label
        same_record(fresh, screened)
    (_, original), (_, good), (_, unimportable), (_, loop) = runs
    failed = original.record.test_exceptions["test_lib.py::test_answer"]
    # pytest's assertion rewriting: the message names the values, as under pytest
    assert failed.message.splitlines()[0] == "assert 41 == 42"
    assert failed.frames[-1].project_path == "test_lib.py" and failed.frames[-1].line == 4
    assert original.record.test_exceptions["test_lib.py::TestMore::test_list"].message.startswith(
        "assert [41, 1, 2, 3, 4, 5, 6, 7] == [42, 1, 2, 3, 4, 5, 6, 7]")  # in full, as pytest's runs show it
    assert set(good.record.outcomes.values()) == {"passed"} and good.exit_code == 0
    assert unimportable.record.outcomes == {"test_lib.py": "error"} and unimportable.exit_code == 2
    assert unimportable.record.test_exceptions["test_lib.py"].type == "SyntaxError"
    stopped = loop.record.test_exceptions["test_lib.py::test_answer"]
    assert stopped.type == "TimeoutError" and "an endless loop?" in stopped.message
    assert loop.record.outcomes["test_lib.py::test_other"] == "passed"  # the others still ran


def test_a_test_that_behaves_otherwise_without_pytest_keeps_pytest(sandbox, tmp_path):
    # Passes under pytest only (pytest sets PYTEST_CURRENT_TEST): the check on the original code
    # sees the difference, so no run of this project is direct, and nothing is rejected wrongly.
    tests = TESTS + "\ndef test_under_pytest():\n    import os\n    assert 'PYTEST_CURRENT_TEST' in os.environ\n"
    root = project(tmp_path, {"lib.py": LIB, "test_lib.py": tests})
    runs = both(sandbox, root, spec(), spec(patches={"lib.py": LIB.replace("41", "42")}))
    for fresh, screened in runs:
        assert screened.label.endswith("(screened)"), screened.label
        same_record(fresh, screened)
    assert runs[1][1].record.outcomes["test_lib.py::test_under_pytest"] == "passed"


@pytest.mark.parametrize("files", [
    {"conftest.py": "import pytest\n\n@pytest.fixture(autouse=True)\ndef ready(monkeypatch):\n"
                    "    monkeypatch.setenv('READY', '1')\n"},
    {"test_lib.py": TESTS + "\ndef test_tmp(tmp_path):\n    assert tmp_path.exists()\n"},
    {"test_lib.py": "import pytest\n" + TESTS + "\n@pytest.mark.parametrize('n', [1, 2])\ndef test_n(n):\n"
                    "    assert n\n"},
    {"test_lib.py": TESTS + "\ndef setup_function():\n    pass\n"},
], ids=["conftest", "fixture-argument", "parametrized", "xunit-setup"])
def test_what_pytest_does_for_a_test_keeps_pytest(sandbox, tmp_path, files):
    root = project(tmp_path, {"lib.py": LIB, "test_lib.py": TESTS, **files})
    ((fresh, screened),) = both(sandbox, root, spec())
    assert screened.label.endswith("(screened)"), screened.label
    same_record(fresh, screened)


def test_a_candidate_that_changes_a_test_module_runs_under_pytest(sandbox, tmp_path):
    root = project(tmp_path, {"lib.py": LIB, "test_lib.py": TESTS})
    (_, plain), (fresh, edited) = both(sandbox, root, spec(), spec(patches={"test_lib.py": TESTS.replace("42", "41")}))
    assert plain.label.endswith(DIRECT) and edited.label.endswith("(screened)")
    same_record(fresh, edited)


def test_tests_in_packages_are_imported_as_pytest_imports_them(sandbox, tmp_path):
    root = project(tmp_path, {"src/pkg/__init__.py": "", "src/pkg/lib.py": LIB,
                              "tests/__init__.py": "", "tests/unit/__init__.py": "",
                              "tests/unit/test_lib.py": TESTS.replace("from lib", "from pkg.lib").replace(
                                  "def test_other():\n    assert True\n",
                                  "def test_other():\n    assert __name__ == 'tests.unit.test_lib'\n")})
    specs = [RunSpec(mode=RunMode.PYTEST, argv=["tests"], pythonpath=["src"], label="c"),
             RunSpec(mode=RunMode.PYTEST, argv=["tests"], pythonpath=["src"], label="c",
                     patches={"src/pkg/lib.py": LIB.replace("41", "42")})]
    runs = both(sandbox, root, *specs)
    for fresh, screened in runs:
        assert screened.label.endswith(DIRECT), screened.label
        same_record(fresh, screened)
    assert runs[1][1].record.outcomes["tests/unit/test_lib.py::test_other"] == "passed"


def test_the_plan_says_why_a_test_is_not_plain(tmp_path):
    (tmp_path / "test_a.py").write_text(
        "import pytest\n\ndef test_ok():\n    pass\n\n@pytest.mark.skip\ndef test_marked():\n    pass\n\n"
        "class TestC:\n    def test_m(self):\n        pass\n\n"
        "class TestSetUp:\n    def setup_method(self):\n        pass\n    def test_m(self):\n        pass\n\n"
        "async def test_async():\n    pass\n")
    ok = direct.plan(["test_a.py::test_ok", "test_a.py::TestC::test_m"], str(tmp_path), False)
    assert ok == [("test_a.py::test_ok", "test_a.py", None, "test_ok"), ("test_a.py::TestC::test_m", "test_a.py", "TestC", "test_m")]
    for nodeid, why in [("test_a.py::test_marked", "decorated"), ("test_a.py::TestSetUp::test_m", "set-up"),
                        ("test_a.py::test_async", "not a plain function"), ("test_a.py::test_ok[1]", "parametrized"),
                        ("test_a.py::test_gone", "not defined")]:
        with pytest.raises(direct.NotPlain, match=why):
            direct.plan([nodeid], str(tmp_path), False)
    with pytest.raises(direct.NotPlain, match="conftest"):
        direct.plan(["test_a.py::test_ok"], str(tmp_path), True)


def test_direct_runs_can_be_switched_off(tmp_path):
    sb = BubblewrapSandbox(SandboxSettings(timeout_s=30.0, screen_after=0, direct_screening=False), slots=1)
    try:
        ((fresh, screened),) = both(sb, project(tmp_path, {"lib.py": LIB, "test_lib.py": TESTS}), spec())
    finally:
        for fd in sb._slot_locks:
            os.close(fd)
    assert screened.label.endswith("(screened)")
    same_record(fresh, screened)


def test_a_screened_run_stops_a_test_at_its_specs_tighter_limit(sandbox, tmp_path):
    root = project(tmp_path, {"lib.py": LIB, "test_lib.py": TESTS})
    loops = {"lib.py": "def answer():\n    while True:\n        pass\n"}
    quick = RunSpec(mode=RunMode.PYTEST, argv=["test_lib.py"], patches=loops, label="c", timeout_s=8.0, test_seconds=0.3)
    ((fresh, screened),) = both(sandbox, root, quick)
    for run in (fresh, screened):
        stopped = run.record.test_exceptions["test_lib.py::test_answer"]
        assert stopped.type == "TimeoutError" and "longer than 0.3 s" in stopped.message
        assert run.duration_ms < 4000  # two looping tests, 0.3 s each (the usual limit: 4 s each)
