"""Reproduce (``Verification.reproduce``): run the reproduction on the original code and, beside it, the regression
baseline; did it fail as reported? Once it did, its failing tests and a sample of related
passing ones run again with coverage for localization (``statemachine.spectrum``), while the
baseline is still running.

The answer (``Reproduced``) also carries what every candidate will be held to (``Checks``):
the reproduction's and the suite's run specs with per-candidate wall clocks derived from the
original runs, so the search step needs nothing else from this one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pve.events import Fanout
from pve.layout import is_test_path
from pve.models import (
    Analysis,
    Analyzed,
    Checks,
    Reproduced,
    Reproduction,
    ReproKind,
    RunMode,
    RunResult,
    RunSpec,
    Spectrum,
    VerifyRequest,
)
from sandbox.backend import SandboxBackend, StagedProject
from statemachine import oracle, spectrum
from statemachine.analyze import analysis_from_run
from statemachine.pending import PendingOracle
from statemachine.validate import candidate_timeout
from statemachine.verdict import (
    check_reproduction,
    failing_tests,
    observed_exception,
    passing_tests,
    selects,
)


@dataclass(frozen=True)
class Lab:
    """Where the reproduction runs and under which limits: the sandbox and the staged project,
    the session's console, the sandboxes free beside the baseline, the baseline's clock and its
    cache (one folder per machine: a commit's baseline is reused, ``None``: never)."""

    sandbox: SandboxBackend
    staged: StagedProject
    events: Fanout
    slots: int = 3
    oracle_seconds: float = 60.0
    baseline_cache: Path | None = None


async def reproduce(analyzed: Analyzed, req: VerifyRequest, py_files: list[str], lab: Lab) -> Reproduced:
    """The whole step, the baseline included."""
    first, pending = await reproduce_first(analyzed, req, py_files, lab)
    if pending is None:
        return first
    return await pending.result()  # waited for right away: no background priority


async def reproduce_first(analyzed: Analyzed, req: VerifyRequest, py_files: list[str],
                          lab: Lab) -> tuple[Reproduced, PendingOracle | None]:
    """The step up to the point the search can start: (the answer so far, the baseline still
    running, whose result is the answer once it has finished; None when it already has). The search runs candidates against the
    reproduction while the baseline is still running; a candidate that passes it waits for the
    baseline (``statemachine.pending``). Until then the reproduction is narrowed provisionally
    (validate runs it whole if the settled baseline cannot hold the rest)."""
    return await _Reproducing(analyzed, req, py_files, lab).run()


class _Reproducing:
    """One reproduce step in progress: its run specs, the baseline running beside the
    reproduction, localization's trace, and (once the reproduction failed as reported) what
    the original runs showed, from which the answer is made with or without the baseline."""

    def __init__(self, analyzed: Analyzed, req: VerifyRequest, py_files: list[str], lab: Lab) -> None:
        repro = analyzed.reproduction
        if repro is None:
            raise ValueError("reproduce needs a reproduction (the runner asks a model for one first)")
        self.analyzed, self.req, self.py_files, self.lab, self.repro = analyzed, req, py_files, lab, repro
        self.repro_spec = run_spec(repro)
        self.suite_spec = suite_run_spec(repro, py_files, req.suite)
        # One sandbox stays free beside the baseline's shards: the reproduction, then its coverage.
        self.selection = oracle.select(py_files, repro, analyzed.analysis, lab.staged.read_text,
                                       slots=max(1, lab.slots - 1), configured=req.suite) \
            if self.suite_spec is not None else None
        # Coverage is for localizing a fix; judging someone else's (req.judge) needs none.
        self.script_coverage = coverage_run_spec(repro) if req.judge is None else None
        self._limit_specs()
        self.baseline_from_cache = False
        # What the original runs showed, once the reproduction failed as reported (``run``).
        self.before: RunResult | None = None
        self.why = ""
        self.analysis: Analysis | None = None  # the log's failure, or the one observed
        self.otherwise: list[str] = []  # tests that failed, but not as reported
        self.localization: list[RunResult] = []
        self.spectrum = Spectrum()

    def _limit_specs(self) -> None:
        """The repository's own limit per run; the modules' doctests in the oracle; the
        baseline's own clock, as background work."""
        if self.req.timeout_s:  # the repository's own (tighter) limit per run
            self.repro_spec = self.repro_spec.model_copy(update={"timeout_s": self.req.timeout_s})
            if self.script_coverage:
                self.script_coverage = self.script_coverage.model_copy(update={"timeout_s": self.req.timeout_s})
        suite_spec, selection, read = self.suite_spec, self.selection, self.lab.staged.read_text
        if suite_spec is not None and selection is not None and not selection.files and \
                any(_has_doctests(read, p) for p in self.py_files if not is_test_path(p)):
            # A module's doctests belong to the oracle (pytest skips setup.py; a module that cannot
            # be imported is one collection error among many, named in the oracle's note).
            suite_spec = suite_spec.model_copy(update={"argv": [*suite_spec.argv, "--doctest-modules"]})
            selection.why += " and the modules' doctests"
        if suite_spec is not None:  # the baseline has its own clock: it is not a candidate's run
            # ... and records which project functions each test runs: a candidate's regression run
            # is then only the tests that run what it changed (statemachine/impact.py).
            # It is background work until a candidate waits for it (statemachine/pending.py).
            suite_spec = suite_spec.model_copy(update={"wall_s": self.lab.oracle_seconds, "reach": True,
                                                       "background": True})
        self.suite_spec = suite_spec

    async def _baseline(self) -> RunResult | None:
        if self.suite_spec is None or self.selection is None:
            return None
        result, self.baseline_from_cache = await oracle.run_baseline(self.lab.sandbox, self.lab.staged, self.suite_spec,
                                                                     self.selection.shards, self.lab.baseline_cache)
        return result

    def _early_trace(self) -> tuple[list[str], asyncio.Future[RunResult]] | None:
        """Localization's trace of a pytest failure starts beside the reproduction when the log
        names the failing tests exactly (the usual case): it is taken if they failed as reported,
        else stopped and traced again on the tests that did. It would otherwise start only when
        the reproduction ends (one run's time on every session's way to its first candidate)."""
        repro, analysis = self.repro, self.analyzed.analysis
        named = [t for t in repro.test_ids if "::" in t]
        if not (self.req.judge is None and repro.kind is ReproKind.PYTEST and analysis is not None and named
                and len(named) == len(repro.test_ids) <= spectrum.MAX_FAILING):
            return None
        nodes = [*named, *_sample(named, [], analysis, self.py_files, self.selection, self.lab.staged)]
        spec = spectrum.coverage_spec(nodes, repro, self.lab.oracle_seconds)
        return nodes, asyncio.ensure_future(self.lab.sandbox.run(self.lab.staged, spec))

    async def run(self) -> tuple[Reproduced, PendingOracle | None]:
        # The baseline runs beside everything else; it is awaited last (and dropped when the
        # failure does not reproduce: nobody will need it).
        baseline_task = asyncio.ensure_future(self._baseline())
        early = self._early_trace()
        handed_over = False
        try:
            failed = await self._reproduce(early)
            if failed is not None:
                return failed, None
            handed_over = True
        finally:
            if early is not None and not handed_over:
                await _stop(early[1])
            if not handed_over and not baseline_task.done():
                baseline_task.cancel()
                with contextlib.suppress(BaseException):
                    await baseline_task
        if baseline_task.done():  # no suite, or a baseline from the cache: nothing to wait for
            return self.answer(baseline_task.result(), True), None

        async def settle() -> Reproduced:
            return self.answer(await baseline_task, True)

        lab = self.lab
        return self.answer(None, False), PendingOracle(asyncio.ensure_future(settle()),
                                                       lambda: lab.sandbox.hurry(lab.staged))

    async def _reproduce(self, early: tuple[list[str], asyncio.Future[RunResult]] | None) -> Reproduced | None:
        """The reproduction (and a script's coverage) on the original code, then localization's
        trace; the answer when it did not fail as reported, else None (the rest is kept)."""
        repro, lab, events = self.repro, self.lab, self.lab.events

        async def nothing() -> None:
            return None

        before, script_traced = await asyncio.gather(
            lab.sandbox.run(lab.staged, self.repro_spec),
            lab.sandbox.run(lab.staged, self.script_coverage) if self.script_coverage else nothing())
        analysis = self.analyzed.analysis
        ok, why = check_reproduction(before, repro, analysis)
        if not ok:
            if early is not None:
                await _stop(early[1])
            events.emit("reproduce", f"Reproducing in sandbox {before.sandbox_id}...", "NOT REPRODUCED", detail=why)
            _tail(events, before)
            return Reproduced(ok=False, why=why, before=before, analysis=analysis,
                              spectrum=spectrum.build(repro, None, None),
                              oracle_note="none: not needed (not reproduced)")
        events.emit("reproduce", f"Reproducing in sandbox {before.sandbox_id}...",
                    f"FAILED as reported - {why.split(' as reported')[0]}" if analysis else f"FAILED - {why}")
        if analysis is None:
            analysis = _observed(before, repro)
            if analysis is not None:
                events.emit("analyze", f"Observed {analysis.headline()}")
        failing, otherwise = failing_tests(before, repro, self.analyzed.analysis) \
            if repro.kind is ReproKind.PYTEST else ([], [])
        failing = failing[:spectrum.MAX_FAILING]
        traced, sample_run = (await self._trace(failing, otherwise, script_traced, analysis, before, early)) \
            if self.req.judge is None else (None, None)
        self.spectrum = spectrum.build(repro, traced, sample_run, failing)
        for run in (before, traced, sample_run):
            if run is not None:
                run.record.coverage = None  # now in the spectrum; the session and proof need not carry it
        # Kept (without their coverage): they are sandbox time like any other run.
        self.localization = [r for r in (traced, sample_run) if r is not None and r is not before]
        self.before, self.why, self.analysis, self.otherwise = before, why, analysis, otherwise
        return None

    async def _trace(self, failing: list[str], otherwise: list[str], script_traced: RunResult | None,
                     analysis: Analysis | None, before: RunResult,
                     early: tuple[list[str], asyncio.Future[RunResult]] | None) -> tuple[RunResult | None, RunResult | None]:
        """The coverage runs for localization, once the failure is known: (the failing run
        traced, a script's passing sample traced). A pytest reproduction traces its failing tests
        and the sample in one run; a script was traced beside its reproduction. ``early``: the
        pytest trace started beside the reproduction on the tests the log named (its nodes, its
        run), taken when it holds every test that failed as reported."""
        if early is not None:
            nodes, run = early
            if failing and set(failing) <= set(nodes):
                return await run, None
            await _stop(run)
        repro, lab, seconds = self.repro, self.lab, self.lab.oracle_seconds
        sample = _sample(failing, otherwise, analysis, self.py_files, self.selection, lab.staged)
        if repro.kind is ReproKind.PYTEST:
            if not failing:
                return None, None
            return await lab.sandbox.run(lab.staged, spectrum.coverage_spec([*failing, *sample], repro, seconds,
                                                                            after=before)), None
        if not sample or script_traced is None:
            return script_traced, None
        return script_traced, await lab.sandbox.run(lab.staged, spectrum.coverage_spec(sample, repro, seconds,
                                                                                       "coverage sample"))

    def answer(self, suite: RunResult | None, settled: bool) -> Reproduced:
        """The answer with the baseline (``settled``), or before it, with no oracle yet."""
        assert self.before is not None
        if suite is not None:
            suite.record.coverage = None
        baseline = suite
        if baseline is not None and (not baseline.nonce_ok or not passing_tests(baseline)):
            baseline = None  # a suite that does not run, or passes nothing, is no oracle
        selection = self.selection
        note = _oracle_note(self.repro, suite, baseline, selection, self.lab.oracle_seconds) if settled else \
            "pending: the baseline is still running"
        if self.baseline_from_cache:
            note += "; baseline: this commit's earlier run, reused"
        picked: dict[str, Any] = {"oracle_note": note, "oracle_files": selection.files if selection else [],
                                  "oracle_left_out": selection.left_out if selection else [],
                                  "traced": self.localization}
        if settled:
            self.lab.events.emit("oracle", f"Regression oracle: {note}")
        if self.analysis is None:
            return Reproduced(ok=True, why=self.why, before=self.before, baseline=baseline, spectrum=self.spectrum,
                              **picked)
        checks = self._checks(baseline, note, settled)
        return Reproduced(ok=True, why=self.why, before=self.before, baseline=baseline, analysis=self.analysis,
                          checks=checks, spectrum=self.spectrum, **picked)

    def _checks(self, baseline: RunResult | None, note: str, settled: bool) -> Checks:
        """What every candidate is held to: the reproduction (narrowed to the tests that failed
        as reported) with its clock, and the regression run over the baseline's passing tests."""
        repro, before, otherwise = self.repro, self.before, self.otherwise
        assert before is not None and self.analysis is not None
        regression = None
        if baseline is not None and self.suite_spec is not None:
            # A fix may run the selection slower than the original did, not forever.
            seconds = self.lab.oracle_seconds
            clock = min(2 * seconds, max(_MIN_REGRESSION_S, candidate_timeout(baseline) or seconds))
            # Tests that did not pass on the original code hold a fix to nothing: not run again
            # (one slow failing test can cost more than all the others).
            skip = sorted(t for t, o in baseline.record.outcomes.items() if o in ("failed", "error") and "::" in t)
            regression = self.suite_spec.model_copy(update={"coverage": False, "wall_s": clock, "reach": False,
                                                            "background": False, "skip": skip[:_MAX_SKIP]})
        held = narrowed(repro, before, baseline, self.analyzed.analysis, provisional=not settled)
        candidate_spec = self.repro_spec.model_copy(
            update={"timeout_s": _tighter(candidate_timeout(before), self.req.timeout_s)})
        if held is not None and settled:
            others = len([t for t in before.record.outcomes if selects(repro.test_ids, t)]) - len(held.test_ids)
            self.lab.events.emit(
                "oracle", f"Candidates run the {len(held.test_ids)} test(s) that failed as reported; the "
                          f"reproduction's {others - len(otherwise)} passing tests are held by the regression "
                          "oracle" + (f"; {len(otherwise)} other failing test(s) failed otherwise before any fix "
                                      f"({', '.join(otherwise[:2])}): not required of a fix" if otherwise else ""))
        if held is not None:
            candidate_spec = candidate_spec.model_copy(update={"only": held.test_ids})
        return Checks(repro=held or repro, analysis=self.analysis, before=_as_far_as(before, held) if held else before,
                      baseline=baseline, protected=self.req.protected, repro_spec=candidate_spec,
                      regression_spec=regression, regression_shards=_regression_shards(self.selection, baseline),
                      oracle_note=note, others_failing=list(otherwise) if held is not None else [])


def _sample(failing: list[str], otherwise: list[str], analysis: Analysis | None, py_files: list[str],
            selection: oracle.Selection | None, staged: StagedProject) -> list[str]:
    """The passing tests traced beside the failure (a project with tests)."""
    if selection is None:
        return []
    files = spectrum.sample_files(py_files, selection.files, failing)
    return spectrum.passing_sample(files, [*failing, *otherwise], oracle.failure_names(analysis), staged.read_text)


async def _stop(run: asyncio.Future[Any]) -> None:
    """A run nobody needs any more: cancelled (its sandbox killed) and awaited to its end."""
    if not run.done():
        run.cancel()
    with contextlib.suppress(BaseException):
        await run


def _regression_shards(selection: oracle.Selection | None, baseline: RunResult | None) -> list[list[str]]:
    """How a candidate's regression run is split: as the baseline's was, or, when that was in
    parts, balanced by the baseline's own per-test timings."""
    shards = selection.shards if selection else [[]]
    if baseline is not None and len(shards) > 1:
        return oracle.balanced(baseline, len(shards)) or shards
    return shards


def _as_far_as(before: RunResult, held: Reproduction) -> RunResult:
    """The original run as far as the narrowed reproduction goes: what a candidate's run of
    the failing tests is compared with (the other tests are compared in the regression run)."""
    outcomes = {t: o for t, o in before.record.outcomes.items() if selects(held.test_ids, t)}
    return before.model_copy(update={"record": before.record.model_copy(update={"outcomes": outcomes})})


def narrowed(repro: Reproduction, before: RunResult, baseline: RunResult | None,
             analysis: Analysis | None, *, provisional: bool = False) -> Reproduction | None:
    """The reproduction as candidates run it: only its tests that failed as reported, when it is
    more than those (a whole test file or class) and every test in it that passed is in the
    regression baseline, which holds a fix to them anyway. A fix is then not paying for a
    600-test file on every try, nor held to another failure that was there before."""
    if repro.kind is not ReproKind.PYTEST or (baseline is None and not provisional):
        return None
    inside = {t: o for t, o in before.record.outcomes.items() if selects(repro.test_ids, t)}
    failing = failing_tests(before, repro, analysis)[0]
    if not failing or len(failing) == len(inside) or any("::" not in t for t in failing):
        return None  # nothing to narrow, or a collection error (a file node) is the failure
    if provisional:  # the baseline is still running: validate runs the whole reproduction if it cannot hold them
        return repro.model_copy(update={"test_ids": failing})
    assert baseline is not None
    if {t for t, o in inside.items() if o == "passed"} - set(baseline.record.outcomes):
        return None  # some of its passing tests are not in the oracle: the reproduction keeps them
    # (one that passed here and not in the baseline is flaky: neither run holds a fix to it)
    return repro.model_copy(update={"test_ids": failing})


_MIN_REGRESSION_S = 5.0
_MAX_SKIP = 2000  # node ids carried to the harness in its spec (a command line's worth)


def _oracle_note(repro: Reproduction, suite: RunResult | None, baseline: RunResult | None,
                 selection: oracle.Selection | None, seconds: float) -> str:
    """Which tests form the regression oracle, or why there is none, in one line."""
    if selection is None or suite is None:
        return "none: a single file has no test suite" if repro.snippet else "none: the project has no tests"
    what = selection.why
    if suite.killed_reason:
        return f"none: {what} did not finish in {seconds:g} s ({suite.killed_reason})"
    if not suite.nonce_ok:
        return f"none: {what} was cut short before it reported"
    if baseline is None:
        return f"none: no test of {what} passed before the fix"
    passed = len(passing_tests(baseline))
    classes = sum("::" in t for t in selection.left_out)
    files = len(selection.left_out) - classes
    left = "; left out: " + " and ".join(x for x in (f"{files} test files" if files else "",
                                                     f"{classes} test classes" if classes else "") if x) \
        if selection.left_out else ""
    broken = sorted(t for t, o in suite.record.outcomes.items() if o == "error" and "::" not in t)
    if broken:
        # A file that cannot be collected is left out (and named), never the whole suite.
        first = suite.record.test_exceptions.get(broken[0])
        left += (f"; could not be collected, so not part of it: {', '.join(broken[:5])}"
                 + (f" and {len(broken) - 5} more" if len(broken) > 5 else "")
                 + (f" ({first.type}: {' '.join(first.message.split())[:100]})" if first else ""))
    return f"{passed} tests that passed before the fix ({what}){left}"


def _has_doctests(read: Callable[[str], str], path: str) -> bool:
    try:
        text = read(path)
    except (OSError, UnicodeDecodeError):
        return False
    return any(line.lstrip().startswith(">>> ") for line in text.splitlines())


def run_spec(repro: Reproduction) -> RunSpec:
    """How the sandbox runs a reproduction."""
    if repro.kind is ReproKind.PYTEST:
        return RunSpec(mode=RunMode.PYTEST, argv=[*(repro.argv or repro.files), *repro.pytest_options],
                       label="reproduction", pythonpath=repro.pythonpath, patches=repro.written())
    mode = RunMode.MODULE if repro.kind is ReproKind.MODULE else RunMode.SCRIPT
    return RunSpec(mode=mode, target=repro.target, argv=repro.argv, label="reproduction", pythonpath=repro.pythonpath,
                   patches=repro.written())


def suite_run_spec(repro: Reproduction, py_files: list[str], suite: list[str] | None = None) -> RunSpec | None:
    """The project's test suite (or the part ``suite`` names, from the repository's
    configuration): the regression oracle for plausible candidates (not just the failing tests:
    that is where overfitting shows). Untraced: localization's coverage is a run of its own."""
    if repro.snippet:
        return None
    has_tests = any(is_test_path(p) and p.rsplit("/", 1)[-1].startswith("test") for p in py_files)
    if not has_tests and repro.kind is not ReproKind.PYTEST:
        return None
    # One module that cannot be imported (an example needing an optional package) must not
    # stop a whole suite: pytest would run nothing at all.
    return RunSpec(mode=RunMode.PYTEST, argv=[*repro.pytest_options, "--continue-on-collection-errors"],
                   label="regression suite", pythonpath=repro.pythonpath)


def coverage_run_spec(repro: Reproduction) -> RunSpec | None:
    """A script reproduction runs once more with coverage: the failing spectrum. (A separate
    run, so tracing never slows the reproduction itself into a timeout.)"""
    if repro.kind is ReproKind.PYTEST:
        return None
    return run_spec(repro).model_copy(update={"coverage": True, "label": "coverage"})


def _observed(before: RunResult, repro: Reproduction) -> Analysis | None:
    """With no log, the reproduction's own exception is the report."""
    exc = observed_exception(before, repro)
    if exc is None:
        return None
    tid = next((t for t in repro.test_ids if t in before.record.test_exceptions), None)
    return analysis_from_run(exc, repro.frozen_files(), tid)


def _tighter(*limits: float | None) -> float | None:
    given = [x for x in limits if x]
    return min(given) if given else None


def _tail(events: Fanout, run: RunResult) -> None:
    tail = (run.stderr or run.stdout).strip().splitlines()[-3:]
    for line in tail:
        events.emit("output", f"  {line[:160]}")
