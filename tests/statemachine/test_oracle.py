"""The regression oracle on a large suite: selection, shards, merging, and honest words when
no baseline ran."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from entrypoints import bootstrap
from pve.models import (
    Analysis,
    Category,
    Coverage,
    ExceptionInfo,
    Frame,
    HarnessRecord,
    Oracle,
    Reproduction,
    ReproKind,
    RunMode,
    RunResult,
    RunSpec,
    SessionStatus,
    VerifyRequest,
)
from pve.settings import Settings
from statemachine import oracle
from statemachine.runner import verify

GEO_TEST = "from geo.area import rect\n\n\ndef test_rect_{k}():\n    assert rect({k}, 2) == {k} * 2\n"
OTHER_TEST = "from geo.names import label\n\n\ndef test_label_{k}():\n    assert label({k}) == 'n{k}'\n"
FILES = {
    "geo/__init__.py": "",
    "geo/area.py": "def rect(w, h):\n    return w * h\n\n\ndef square(s):\n    return rect(s, s) + 1\n",
    "geo/names.py": "def label(k):\n    return f'n{k}'\n",
    "tests/test_square.py": "from geo.area import square\n\n\ndef test_square():\n    assert square(3) == 9\n",
    **{f"tests/test_geo_{k}.py": GEO_TEST.format(k=k) for k in range(20)},
    **{f"tests/test_names_{k}.py": OTHER_TEST.format(k=k) for k in range(20)},
}


def read(path: str) -> str:
    if path not in FILES:
        raise FileNotFoundError(path)
    return FILES[path]


def analysis() -> Analysis:
    exc = ExceptionInfo(type="AssertionError", qualified_type="AssertionError", message="10 == 9", frames=[
        Frame(file="tests/test_square.py", line=5, function="test_square", project_path="tests/test_square.py")])
    frames = [*exc.frames, Frame(file="geo/area.py", line=6, function="square", project_path="geo/area.py")]
    return Analysis(exception=exc, category=Category.ASSERTION, project_frames=frames)


REPRO = Reproduction(kind=ReproKind.PYTEST, test_ids=["tests/test_square.py::test_square"], files=["tests/test_square.py"])


def test_a_large_suite_is_selected_by_what_the_failure_runs_through_and_sharded():
    sel = oracle.select(sorted(FILES), REPRO, analysis(), read, slots=3)
    assert sel.files[0] == "tests/test_square.py"
    assert set(sel.files[1:]) == {f"tests/test_geo_{k}.py" for k in range(20)}  # they import geo.area
    assert set(sel.left_out) == {f"tests/test_names_{k}.py" for k in range(20)}
    assert len(sel.shards) == 3 and sorted(f for s in sel.shards for f in s) == sorted(sel.files)
    assert "geo.area" in sel.why


def test_a_small_suite_or_the_repositorys_own_setting_is_taken_whole():
    small = {k: v for k, v in FILES.items() if "test_names" not in k}
    assert oracle.select(sorted(small), REPRO, analysis(), read, slots=3).shards == [[]]
    configured = oracle.select(sorted(FILES), REPRO, analysis(), read, slots=3, configured=["tests/unit"])
    assert configured.shards == [["tests/unit"]] and "configuration" in configured.why


def test_shards_merge_into_one_result():
    def part(sid, outcomes, cov, killed=None):
        return RunResult(sandbox_id=sid, command="pytest", exit_code=1 if "failed" in outcomes.values() else 0,
                         duration_ms=100.0 * len(outcomes), nonce_ok=killed is None, killed_reason=killed,
                         record=HarnessRecord(outcomes=outcomes, coverage=Coverage(shared={"a.py": cov})))
    merged = oracle.merge([part("s1", {"t::a": "passed"}, [1, 2]), part("s2", {"t::b": "failed"}, [2, 3])], "suite")
    assert merged.record.outcomes == {"t::a": "passed", "t::b": "failed"} and merged.exit_code == 1
    assert merged.record.coverage.shared == {"a.py": [1, 2, 3]} and merged.duration_ms == 100.0
    cut = oracle.merge([part("s1", {"t::a": "passed"}, [1]), part("s2", {}, [], killed="timeout after 1 s")], "suite")
    assert not cut.nonce_ok and cut.killed_reason == "timeout after 1 s"


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


@pytest.mark.sandbox
def test_end_to_end_the_selection_is_the_baseline_and_the_proof_names_it(tmp_path):
    project = write(tmp_path / "geo", FILES)
    svc = bootstrap.services(replace(Settings.from_env({}), home=tmp_path / "home"))
    session = asyncio.run(verify(VerifyRequest(path=project, test="tests/test_square.py::test_square", cache=False), svc))
    # square() is run by no test that passed before: plausible, not verified (TRUTH.md)
    assert session.status is SessionStatus.PLAUSIBLE, session.message
    assert session.oracle is Oracle.EXISTING_TESTS
    assert set(session.baseline.record.outcomes) == {"tests/test_square.py::test_square",
                                                     *(f"tests/test_geo_{k}.py::test_rect_{k}" for k in range(20))}
    assert "+" in session.baseline.sandbox_id  # ran in shards
    assert session.oracle_note.startswith("20 tests that passed before the fix") and "left out: 20 test files" in \
        session.oracle_note
    proof = Path(session.proof_path).read_text()
    assert "== regression oracle" in proof and "  tests/test_geo_0.py" in proof and "left out (20):" in proof
    winner = session.winning_verdict()
    # The fix changes square(), which none of the 20 tests that passed before runs (they call
    # rect()): none can behave differently, none runs again, and the proof says so.
    assert winner.regression is None
    assert winner.regression_scope.startswith("0 of 20 tests that passed before run the changed code "
                                              "(geo/area.py: square)")
    assert "== regression scope\n0 of 20 tests" in proof


@pytest.mark.sandbox
def test_a_search_that_ends_with_nothing_plausible_does_not_wait_for_the_baseline(tmp_path):
    project = write(tmp_path / "slow", {
        "calc.py": "def half(x):\n    return 'half'\n",  # no operator of the engine's, nor two in a row, makes it x / 2
        "tests/test_calc.py": "from calc import half\n\n\ndef test_half():\n    assert half(4) == 2\n",
        "tests/test_slow.py": "import time\n\n\ndef test_slow():\n    time.sleep(30)\n"})
    settings = replace(Settings.from_env({}), home=tmp_path / "home", oracle_seconds=60.0)
    session = asyncio.run(verify(VerifyRequest(path=project, test="tests/test_calc.py::test_half", cache=False),
                                 bootstrap.services(settings)))
    assert session.status is SessionStatus.NO_FIX and session.search.plausible == 0
    assert session.baseline is None
    assert session.oracle_note.startswith("none: not needed (no candidate passed the reproduction; the baseline was "
                                          "stopped after")
    assert session.timings_ms["total"] < 25_000  # the baseline's 30 s test was not waited for
    assert "no candidate passed the reproduction" in Path(session.proof_path).read_text()


@pytest.mark.sandbox
def test_a_suite_that_does_not_finish_is_no_oracle_and_it_is_said(tmp_path):
    # fixable (>= -> >), so a candidate passes the reproduction and waits for the baseline
    project = write(tmp_path / "slow", {
        "calc.py": "def half(x):\n    if x >= 4:\n        raise ValueError(x)\n    return x / 2\n",
        "tests/test_calc.py": "from calc import half\n\n\ndef test_half():\n    assert half(4) == 2\n",
        # each test under the per-test limit (half the suite's 2 s), together far over the suite's clock
        "tests/test_slow.py": "import time\n\n" + "".join(f"\ndef test_slow_{k}():\n    time.sleep(0.8)\n"
                                                            for k in range(8))})
    settings = replace(Settings.from_env({}), home=tmp_path / "home", oracle_seconds=2.0)
    session = asyncio.run(verify(VerifyRequest(path=project, test="tests/test_calc.py::test_half", cache=False),
                                 bootstrap.services(settings)))
    assert session.baseline is None
    assert session.oracle_note.startswith("none: the whole test suite did not finish in 2 s")
    # with no regression oracle nothing is verified: the fix is plausible, and said why
    assert session.status is SessionStatus.PLAUSIBLE, session.message
    assert "no test besides the reproduction could check it (none: the whole test suite did not finish" in session.message
    assert session.oracle is Oracle.FAILING_TESTS
    assert "== regression oracle\nnone: the whole test suite did not finish" in Path(session.proof_path).read_text()


@pytest.mark.sandbox
def test_a_commits_baseline_is_run_once_and_reused(tmp_path):
    project = write(tmp_path / "geo", FILES)
    svc = bootstrap.services(replace(Settings.from_env({}), home=tmp_path / "home"))
    req = VerifyRequest(path=project, test="tests/test_square.py::test_square")
    first = asyncio.run(verify(req, svc))
    assert "reused" not in first.oracle_note and len(list((tmp_path / "home" / "baselines").glob("*.json"))) == 1
    second = asyncio.run(verify(req, svc))
    assert second.oracle_note.endswith("baseline: this commit's earlier run, reused")
    assert second.baseline.record.outcomes == first.baseline.record.outcomes
    # another commit (a file changed) is another baseline
    (project / "geo" / "names.py").write_text("def label(k):\n    return 'n' + str(k)\n")
    third = asyncio.run(verify(req, svc))
    assert "reused" not in third.oracle_note


def test_a_large_test_file_is_chosen_class_by_class():
    """A 7,000-line test file is not one unit: the failing test's class, then the classes that
    use the failing function, then the rest as the budget allows; what is left out is named."""
    def cls(name, calls, n):
        return f"class {name}:\n" + "".join(f"    def test_{k}(self):\n        assert {calls}({k}, 1)\n" for k in range(n))
    big = ("from geo.area import rect, square\n\n\n" + cls("TestSquare", "square", 1) + cls("TestUsesSquare", "square", 30)
           + cls("TestRect", "rect", 900) + "def test_module_level():\n    assert square(1) == 1\n")
    files = {**FILES, "tests/test_big.py": big}
    repro = Reproduction(kind=ReproKind.PYTEST, test_ids=["tests/test_big.py::TestSquare::test_0"],
                         files=["tests/test_big.py"])
    sel = oracle.select(sorted(files), repro, analysis(), files.__getitem__, slots=2)
    assert sel.files[:3] == ["tests/test_big.py::TestSquare", "tests/test_big.py::TestUsesSquare",
                             "tests/test_big.py::test_module_level"]
    assert "tests/test_big.py::TestRect" in sel.left_out  # 900 tests: past the budget
    assert {f"tests/test_geo_{k}.py" for k in range(20)} <= set(sel.files)
    assert "classes" in sel.why and "up to about" in sel.why
    # a shard runs its files and only the chosen classes in them
    spec = oracle.shard_spec(RunSpec(mode=RunMode.PYTEST, argv=["-q"]), ["tests/test_big.py::TestSquare",
                                                                        "tests/test_geo_1.py"], "suite")
    assert spec.argv == ["tests/test_big.py", "tests/test_geo_1.py", "-q"]
    assert spec.only == ["tests/test_big.py::TestSquare", "tests/test_geo_1.py"]
    assert oracle.shard_spec(RunSpec(mode=RunMode.PYTEST), ["tests/test_geo_1.py"], "suite").only == []


def test_a_large_whole_suite_runs_in_slices_of_what_pytest_collects():
    files = {**{k: v for k, v in FILES.items() if "test_names" not in k},  # 21 test files: whole suite
             "tests/test_many.py": "".join(f"def test_{k}():\n    pass\n\n\n" for k in range(400))}
    sel = oracle.select(sorted(files), REPRO, analysis(), files.__getitem__, slots=2)
    assert sel.shards == [["pve:part 1/2"], ["pve:part 2/2"]] and sel.why == "the whole test suite" and not sel.files
    spec = oracle.shard_spec(RunSpec(mode=RunMode.PYTEST, argv=["-q"]), sel.shards[1], "suite (2/2)")
    assert spec.part == [1, 2] and spec.argv == ["-q"] and spec.only == []  # pytest discovers; the harness slices
    assert oracle.select(sorted(files), REPRO, analysis(), files.__getitem__, slots=1).shards == [[]]


@pytest.mark.sandbox
def test_end_to_end_the_slices_together_are_the_whole_suite(tmp_path):
    files = {"calc.py": "def half(x):\n    return x / 3\n",
             "tests/test_calc.py": "from calc import half\n\n\ndef test_half():\n    assert half(6) == 3\n",
             "tests/test_many.py": "import pytest\n\n\n@pytest.mark.parametrize('k', range(300))\ndef test_k(k):\n    pass\n\n\n"
                                   + "".join(f"def test_{k}():\n    pass\n\n\n" for k in range(300))}
    project = write(tmp_path / "calc", files)
    svc = bootstrap.services(replace(Settings.from_env({}), home=tmp_path / "home"))
    session = asyncio.run(verify(VerifyRequest(path=project, test="tests/test_calc.py::test_half", cache=False), svc))
    # none of the 600 tests runs half(): the fix is plausible, not verified (TRUTH.md)
    assert session.status is SessionStatus.PLAUSIBLE, session.message
    outcomes = session.baseline.record.outcomes
    assert len(outcomes) == 601 and "+" in session.baseline.sandbox_id  # 300 + 300 + the failing test, in 2 slices
    assert session.oracle_note.startswith("600 tests that passed before the fix (the whole test suite)")
    # every slice's record of what its tests ran, merged: none of the 600 runs half()
    assert session.baseline.record.reach is not None and len(session.baseline.record.reach.tests) == 601
    assert session.winning_verdict().regression_scope.startswith("0 of 600 tests that passed before run the changed code")


def test_a_candidates_regression_shards_are_balanced_by_the_baselines_timings():
    outcomes = {"t.py::slow": "passed", "t.py::failed": "failed", **{f"t.py::q{k}": "passed" for k in range(10)}}
    durations = {"t.py::slow": 11_000.0, "t.py::failed": 5.0, **{f"t.py::q{k}": 900.0 for k in range(10)}}
    baseline = RunResult(sandbox_id="s", command="pytest", exit_code=1, duration_ms=20_000, nonce_ok=True,
                         record=HarnessRecord(outcomes=outcomes, durations=durations))
    shards = oracle.balanced(baseline, 2)
    assert shards is not None and ["t.py::slow"] in shards  # the 11 s test alone; the 9 s of others beside it
    assert sorted(t for s in shards for t in s) == sorted(t for t, o in outcomes.items() if o == "passed")
    assert oracle.balanced(baseline, 1) is None


@pytest.mark.sandbox
def test_the_search_runs_beside_the_baseline_and_a_plausible_fix_waits_for_it(tmp_path):
    """Candidates start as soon as the failure reproduced; the one that passes the reproduction
    is held to the baseline once it is in (never verified without it)."""
    project = write(tmp_path / "slowsuite", {
        "calc.py": "def half(x):\n    return x / 3\n",
        "tests/test_calc.py": "from calc import half\n\n\ndef test_half():\n    assert half(6) == 3\n",
        "tests/test_slow.py": "import time\n\nfrom calc import half\n\n\ndef test_slow():\n    time.sleep(3)\n"
                              "    assert half(0) == 0\n"})
    svc = bootstrap.services(replace(Settings.from_env({}), home=tmp_path / "home"))
    session = asyncio.run(verify(VerifyRequest(path=project, test="tests/test_calc.py::test_half", cache=False), svc))
    assert session.status is SessionStatus.VERIFIED, session.message
    baseline = session.baseline
    assert baseline is not None and session.oracle is Oracle.EXISTING_TESTS
    first_candidate = min(v.run.started_at for v in session.verdicts if v.run is not None)
    assert first_candidate < baseline.started_at + baseline.duration_ms / 1000  # the search did not wait for it
    winner = session.winning_verdict()
    assert winner.regression is not None and winner.regression.record.outcomes["tests/test_slow.py::test_slow"] == "passed"
    assert winner.regression.started_at >= baseline.started_at + baseline.duration_ms / 1000 - 0.05
    assert session.oracle_note.startswith("1 tests that passed before the fix")


class _Again:
    """A sandbox whose every run reports the given outcomes (the decision, not the sandbox, is tested)."""

    def __init__(self, outcomes):
        self.outcomes, self.specs = outcomes, []

    async def run(self, staged, spec):
        self.specs.append(spec)
        return RunResult(sandbox_id="again", command="pytest", exit_code=0, duration_ms=1.0, nonce_ok=True,
                         record=HarnessRecord(outcomes=self.outcomes))


def test_a_test_that_broke_and_fails_on_the_original_again_is_flaky_not_a_regression():
    from statemachine.validate import _without_flaky

    def result(outcomes):
        return RunResult(sandbox_id="s", command="pytest", exit_code=0, duration_ms=1.0, nonce_ok=True,
                         record=HarnessRecord(outcomes=outcomes))
    baseline = result({"t.py::a": "passed", "t.py::threads": "passed"})
    regression = result({"t.py::a": "passed", "t.py::threads": "failed"})
    spec = RunSpec(mode=RunMode.PYTEST, argv=["-q"])
    again = _Again({"t.py::threads": "failed"})
    held, flaky = asyncio.run(_without_flaky(again, None, spec, baseline, regression))
    assert flaky == ["t.py::threads"] and held.record.outcomes["t.py::threads"] == "flaky"
    assert again.specs[0].only == ["t.py::threads"] and again.specs[0].patches == {}  # the original code, that test
    # it passes on the original again: the fix broke it
    held, flaky = asyncio.run(_without_flaky(_Again({"t.py::threads": "passed"}), None, spec, baseline, regression))
    assert flaky == [] and held is baseline
