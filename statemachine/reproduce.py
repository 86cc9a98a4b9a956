"""Step 2, reproduce: run the reproduction on the original code and, beside it, the regression
suite and a coverage run for localization; did it fail as reported?

The answer (``Reproduced``) also carries what every candidate will be held to (``Checks``):
the reproduction's and the suite's run specs with per-candidate wall clocks derived from the
original runs, so the search step needs nothing else from this one.
"""

from __future__ import annotations

import asyncio
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
from statemachine import oracle
from statemachine.analyze import analysis_from_run
from statemachine.decide import check_reproduction, observed_exception, passing_tests, selects
from statemachine.validate import candidate_timeout


async def reproduce(analyzed: Analyzed, req: VerifyRequest, py_files: list[str], sandbox: SandboxBackend,
                    staged: StagedProject, events: Fanout, *, slots: int = 3, oracle_seconds: float = 60.0,
                    baseline_cache: Path | None = None) -> Reproduced:
    repro = analyzed.reproduction
    if repro is None:
        raise ValueError("reproduce needs a reproduction (the runner asks a model for one first)")
    repro_spec = run_spec(repro)
    suite_spec = suite_run_spec(repro, py_files, req.suite)
    selection = oracle.select(py_files, repro, analyzed.analysis, staged.read_text, slots=slots,
                              configured=req.suite) if suite_spec is not None else None
    spectrum_spec = coverage_run_spec(repro)
    if req.timeout_s:  # the repository's own (tighter) limit per run
        repro_spec = repro_spec.model_copy(update={"timeout_s": req.timeout_s})
        spectrum_spec = spectrum_spec.model_copy(update={"timeout_s": req.timeout_s}) if spectrum_spec else None
    if suite_spec is not None:  # the baseline has its own clock: it is not a candidate's run
        suite_spec = suite_spec.model_copy(update={"wall_s": oracle_seconds})

    async def nothing() -> None:
        return None

    from_cache: list[bool] = []

    async def baseline_run() -> RunResult | None:
        if suite_spec is None or selection is None:
            return None
        result, cached = await oracle.run_baseline(sandbox, staged, suite_spec, selection.shards, baseline_cache)
        from_cache.append(cached)
        return result

    before, suite, coverage_run = await asyncio.gather(
        sandbox.run(staged, repro_spec), baseline_run(), sandbox.run(staged, spectrum_spec) if spectrum_spec else nothing())
    baseline = suite
    if baseline is not None and (not baseline.nonce_ok or not passing_tests(baseline)):
        baseline = None  # a suite that does not run, or passes nothing, is no oracle
    note = _oracle_note(repro, suite, baseline, selection, oracle_seconds)
    if from_cache and from_cache[0]:
        note += "; baseline: this commit's earlier run, reused"
    spectrum = _spectrum(repro, before, suite, coverage_run)
    for run in (before, suite, coverage_run):
        if run is not None:
            run.record.coverage = None  # now in the spectrum; the session and proof need not carry it
    picked: dict[str, Any] = {"oracle_note": note, "oracle_files": selection.files if selection else [],
              "oracle_left_out": selection.left_out if selection else []}

    analysis = analyzed.analysis
    ok, why = check_reproduction(before, repro, analysis)
    if not ok:
        events.emit("reproduce", f"Reproducing in sandbox {before.sandbox_id}...", "NOT REPRODUCED", detail=why)
        _tail(events, before)
        return Reproduced(ok=False, why=why, before=before, baseline=baseline, analysis=analysis, spectrum=spectrum,
                          **picked)
    events.emit("reproduce", f"Reproducing in sandbox {before.sandbox_id}...",
                f"FAILED as reported - {why.split(' as reported')[0]}" if analysis else f"FAILED - {why}")
    events.emit("oracle", f"Regression oracle: {note}")
    if analysis is None:
        analysis = _observed(before, repro)
        if analysis is not None:
            events.emit("analyze", f"Observed {analysis.headline()}")
    if analysis is None:
        return Reproduced(ok=True, why=why, before=before, baseline=baseline, spectrum=spectrum, **picked)
    regression = None
    if baseline is not None and suite_spec is not None:
        # A fix may run the selection slower than the original did, not forever.
        clock = min(2 * oracle_seconds, max(_MIN_REGRESSION_S, candidate_timeout(baseline) or oracle_seconds))
        regression = suite_spec.model_copy(update={"coverage": False, "wall_s": clock})
    checks = Checks(repro=repro, analysis=analysis, before=before, baseline=baseline, protected=req.protected,
                    repro_spec=repro_spec.model_copy(update={"timeout_s": _tighter(candidate_timeout(before), req.timeout_s)}),
                    regression_spec=regression,
                    regression_shards=selection.shards if selection else [[]])
    return Reproduced(ok=True, why=why, before=before, baseline=baseline, analysis=analysis, checks=checks,
                      spectrum=spectrum, **picked)


_MIN_REGRESSION_S = 5.0


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
    left = f"; left out: {len(selection.left_out)} test files" if selection.left_out else ""
    return f"{passed} tests that passed before the fix ({what}){left}"


def run_spec(repro: Reproduction) -> RunSpec:
    """How the sandbox runs a reproduction."""
    if repro.kind is ReproKind.PYTEST:
        return RunSpec(mode=RunMode.PYTEST, argv=[*(repro.argv or repro.files), *repro.pytest_options],
                       label="reproduction", pythonpath=repro.pythonpath)
    mode = RunMode.MODULE if repro.kind is ReproKind.MODULE else RunMode.SCRIPT
    return RunSpec(mode=mode, target=repro.target, argv=repro.argv, label="reproduction", pythonpath=repro.pythonpath,
                   patches={repro.target: repro.script} if repro.script is not None else {})


def suite_run_spec(repro: Reproduction, py_files: list[str], suite: list[str] | None = None) -> RunSpec | None:
    """The project's whole test suite (or the part ``suite`` names, from the repository's
    configuration): the regression oracle for plausible candidates (not just the failing tests:
    that is where overfitting shows) and, with coverage, the passing spectra for localization."""
    if repro.snippet:
        return None
    has_tests = any(is_test_path(p) and p.rsplit("/", 1)[-1].startswith("test") for p in py_files)
    if not has_tests and repro.kind is not ReproKind.PYTEST:
        return None
    return RunSpec(mode=RunMode.PYTEST, argv=list(repro.pytest_options), label="regression suite",
                   coverage=True, pythonpath=repro.pythonpath)


def coverage_run_spec(repro: Reproduction) -> RunSpec | None:
    """A script reproduction runs once more with coverage: the failing spectrum. (A separate
    run, so tracing never slows the reproduction itself into a timeout.)"""
    if repro.kind is ReproKind.PYTEST:
        return None
    return run_spec(repro).model_copy(update={"coverage": True, "label": "coverage"})


def _spectrum(repro: Reproduction, before: RunResult, suite: RunResult | None,
              coverage_run: RunResult | None) -> Spectrum:
    """Failing and passing coverage, and one line on what localization has to work with."""
    failing: set[str] = set()
    coverages = []
    if repro.kind is ReproKind.PYTEST:
        if suite is not None and suite.record.coverage is not None:
            coverages.append(suite.record.coverage)
            # The reproduction's own failures (a folder target with -k selects fewer than the folder).
            failed = {t for t, o in before.record.outcomes.items() if o in ("failed", "error")}
            failing = {t for t, o in suite.record.outcomes.items()
                       if o in ("failed", "error") and selects(repro.test_ids, t) and (t in failed or not failed)}
    elif coverage_run is not None and coverage_run.record.coverage is not None and coverage_run.nonce_ok \
            and (coverage_run.exit_code != 0 or coverage_run.record.exception is not None):
        coverages.append(coverage_run.record.coverage)
        failing = {"<run>"}
        if suite is not None and suite.record.coverage is not None:
            coverages.append(suite.record.coverage)
    passing = passing_tests(suite) - failing
    if not failing:
        why = "the coverage run did not complete" if not coverages else "no failing test was traced"
        return Spectrum(note=f"traceback only ({why})")
    return Spectrum(coverages=coverages, failing=sorted(failing), passing=sorted(passing))


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
