"""The local runner: the one flow, end to end, on one machine.

analyze -> reproduce -> generate -> preflight -> run x N (parallel) -> decide -> proof -> store.
Every dependency (sandbox, store, signer) comes in as an argument, so the same steps can be
driven by a test, the CLI, the webhook worker or (later) Step Functions handlers.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime

from brain import repair
from brain.localize import Spectra, localize, spectra_from
from brain.logtext import decode_log
from brain.signature import error_signature
from brain.traceback import ProjectIndex, is_test_path, parse_log
from pve.errors import BadInput
from pve.events import Fanout
from pve.models import (
    Analysis,
    BrainReport,
    Candidate,
    Reproduction,
    ReproKind,
    RunMode,
    RunResult,
    RunSpec,
    SearchSummary,
    Session,
    SessionStatus,
    Verdict,
)
from sandbox.backend import StagedProject
from statemachine import analyze as step_analyze
from statemachine import solutions
from statemachine.decide import (
    check_reproduction,
    observed_exception,
    oracle_strength,
    passing_tests,
    pick_winner,
)
from statemachine.preflight import is_protected
from statemachine.proof import render
from statemachine.search import Budget, search
from statemachine.services import BRAIN_MODES, Services, VerifyRequest
from statemachine.validate import Checks, candidate_timeout, short, validate

__all__ = ["BRAIN_MODES", "Services", "VerifyRequest", "validate_candidates", "verify"]


def new_session_id() -> str:
    return secrets.token_hex(16)  # 128 bits: permalinks are unguessable


async def verify(req: VerifyRequest, svc: Services) -> Session:
    """Run the whole flow. Raises BadInput for unusable input; otherwise returns a finished session."""
    if req.brain not in BRAIN_MODES:
        raise BadInput(f"unknown brain {req.brain!r} (use {', '.join(BRAIN_MODES)})")
    path = req.path.expanduser()
    if not path.exists():
        raise BadInput(f"{path} does not exist")
    snippet = path.is_file()
    if snippet and path.suffix != ".py":
        raise BadInput(f"{path} is not a Python file or a project folder")
    if snippet and (req.test or (req.cmd and not req.cmd.strip().startswith(("python", "pytest")))):
        raise BadInput("a single .py file is its own reproduction; --test does not apply")

    # Parse the log before staging anything: bad input should cost nothing.
    log_text = decode_log(req.error_log) if req.error_log is not None else None

    session = Session(id=req.session_id or new_session_id(), created_at=datetime.now(UTC).isoformat(timespec="seconds"),
                      trigger=req.trigger, project=str(path.resolve()), snippet=snippet)
    events = svc.events
    events.listen(lambda e: svc.store.append_event(session.id, e))
    t0 = time.monotonic()
    staged = svc.sandbox.stage(path.resolve(), single_file=snippet)
    try:
        return await _verify_staged(req, svc, session, staged, log_text, t0)
    finally:
        svc.sandbox.cleanup(staged)


async def _verify_staged(req: VerifyRequest, svc: Services, session: Session, staged: StagedProject,
                         log_text: str | None, t0: float) -> Session:
    events = svc.events
    session.input_sha256 = dict(staged.files)
    if req.error_log is not None:
        session.error_log_sha256 = hashlib.sha256(req.error_log).hexdigest()
    py_files = sorted(p for p in staged.files if p.endswith((".py", ".pyw")))
    index = ProjectIndex(None, files=py_files)

    # 1. analyze ---------------------------------------------------------------
    analysis: Analysis | None = None
    failure = None
    if log_text is not None:
        parsed = parse_log(log_text, index=index)
        failure = step_analyze.pick_failure(parsed, req.test)
        stray = step_analyze.unmapped_frames(failure)
        if not any(f.project_path for f in failure.exception.frames) and not failure.exception.syntax_file \
                and stray and not failure.test_id:
            names = ", ".join(sorted({f.file for f in stray})[:3])
            raise BadInput(f"the traceback's frames are not in {session.project} ({names})",
                           hint="point PVE at the project folder the traceback came from")
    if session.snippet:
        repro = step_analyze.snippet_reproduction(staged.source.name)
    elif req.test:
        repro = step_analyze.reproduction_from_test(req.test, index)
    elif req.cmd:
        repro = step_analyze.reproduction_from_cmd(req.cmd, index)
    elif failure is not None:
        repro = step_analyze.reproduction_from_log(parsed, failure, index)
    else:
        raise BadInput("nothing to reproduce: give --error-log, --test or --cmd")
    session.reproduction = repro
    if failure is not None:
        analysis = step_analyze.analyze_failure(failure, set() if repro.snippet else set(repro.files))
        session.analysis = analysis
        events.emit("analyze", f"Analyzing logic... {analysis.headline()}", category=analysis.category.value)
    else:
        events.emit("analyze", f"Analyzing logic... no error log; reproducing with {repro.display()}")
    session.timings_ms["analyze"] = (time.monotonic() - t0) * 1000

    # 2. reproduce, and in parallel: the regression suite and line coverage for localization ----
    t1 = time.monotonic()
    repro_spec = _repro_spec(repro)
    baseline_spec = _baseline_spec(repro, py_files, req.suite)
    spectrum_spec = _spectrum_spec(repro)
    specs = [repro_spec] + [x for x in (baseline_spec, spectrum_spec) if x is not None]
    if req.timeout_s:  # the repository's own (tighter) limit per run
        specs = [x.model_copy(update={"timeout_s": req.timeout_s}) for x in specs]
    runs = list(await asyncio.gather(*(svc.sandbox.run(staged, x) for x in specs)))
    before = runs.pop(0)
    session.before = before
    suite = runs.pop(0) if baseline_spec else None
    spectrum = runs.pop(0) if spectrum_spec else None
    baseline = suite
    if baseline is not None and (not baseline.nonce_ok or not passing_tests(baseline)):
        baseline = None  # a suite that does not run, or passes nothing, is no oracle
    session.baseline = baseline
    spectra, spectra_note = _spectra(repro, before, suite, spectrum)
    for run in (before, suite, spectrum):
        if run is not None:
            run.record.coverage = None  # used; the session and proof need not carry it
    ok, why = check_reproduction(before, repro, analysis)
    session.timings_ms["reproduce"] = (time.monotonic() - t1) * 1000
    if not ok:
        events.emit("reproduce", f"Reproducing in sandbox {before.sandbox_id}...", "NOT REPRODUCED", detail=why)
        session.status = SessionStatus.NOT_REPRODUCED
        session.message = f"could not reproduce: {why}"
        _tail_hint(events, before)
        return _finish(session, svc, t0)
    events.emit("reproduce", f"Reproducing in sandbox {before.sandbox_id}...",
                f"FAILED as reported - {why.split(' as reported')[0]}" if analysis else f"FAILED - {why}")
    if analysis is None:
        exc = observed_exception(before, repro)
        if exc is not None:
            tid = next((t for t in repro.test_ids if t in before.record.test_exceptions), None)
            analysis = step_analyze.analysis_from_run(exc, set() if repro.snippet else set(repro.files), tid)
            session.analysis = analysis
            events.emit("analyze", f"Observed {analysis.headline()}")
    if analysis is None:
        session.status = SessionStatus.NO_FIX
        session.message = "the reproduction fails without an exception to work from"
        return _finish(session, svc, t0)

    # 3. generate and search: the cache, the offline engine, then the models ----------------
    repro_files = set(repro.files)

    def editable(p: str) -> bool:
        if is_protected(p, req.protected):
            return False
        return repro.snippet or (p not in repro_files and not is_test_path(p))

    checks = Checks(repro=repro, analysis=analysis, before=before, baseline=baseline, protected=req.protected,
                    repro_spec=_repro_spec(repro).model_copy(update={"timeout_s": _tighter(candidate_timeout(before), req.timeout_s)}),
                    regression_spec=baseline_spec.model_copy(update={"coverage": False,
                                                                     "timeout_s": _tighter(candidate_timeout(baseline), req.timeout_s)})
                    if baseline is not None and baseline_spec else None)
    report = BrainReport(mode=req.brain, models=svc.models.describe())
    session.brain = report
    signature = error_signature(analysis, staged.read_text)
    report.signature = signature or ""

    if signature is not None and req.cache:
        cached, report.cache = solutions.lookup(svc.store, signature, staged, next_id=1)
        if cached is not None:
            events.emit("cache", "Found a fix verified before for this error; re-verifying it in the sandbox")
            verdict = await validate(cached, svc.sandbox, staged, checks, events)
            session.candidates.append(cached)
            session.verdicts.append(verdict)
            if verdict.verified:
                report.cache = "hit, re-verified"
            else:
                report.cache = f"hit, no longer passes ({short(verdict.reason)}): entry dropped"
                solutions.forget(svc.store, signature)

    # auto: the offline engine first, the models when it finds nothing; models: the chain first,
    # the offline engine as its last fallback; offline: the offline engine only.
    order = {"offline": ("offline",), "auto": ("offline", "models"), "models": ("models", "offline")}[req.brain]
    for engine in order:
        if _verified(session):
            break
        if engine == "offline":
            await _offline_search(session, svc, staged, checks, spectra, spectra_note, editable, py_files, t0)
        elif svc.models.off_reason:
            report.notes.append(svc.models.off_reason)  # the CLI says it once, at the start
        else:
            await _model_search(session, svc, staged, checks, req, log_text, py_files)

    winner = pick_winner(session.verdicts)
    repro_source = None
    if repro.kind is not ReproKind.PYTEST and repro.files:
        try:
            repro_source = staged.read_text(repro.files[0])
        except FileNotFoundError:
            repro_source = None
    if winner is not None:
        session.winner = winner.candidate_id
        session.oracle = oracle_strength(repro, baseline, repro_source)
        if session.search is not None:
            session.search.oracle = _oracle_passed(repro, winner)
        session.status = SessionStatus.VERIFIED
        session.message = f"candidate {winner.candidate_id} verified (oracle: {session.oracle.value})"
        fix = session.winning_candidate()
        if signature is not None and fix is not None and req.cache:
            solutions.remember(svc.store, signature, fix, staged, session.id)
            if not report.cache.startswith("hit, re-verified"):
                report.cache = (report.cache + "; " if report.cache else "") + "stored"
    else:
        session.status = SessionStatus.NO_FIX
        if session.verdicts:
            stop = session.search.stop if session.search and session.search.stop else "no candidate passed"
            session.message = f"none of {len(session.verdicts)} candidates tried passed ({stop})"
        else:
            where = analysis.failing_frame.project_path if analysis.failing_frame else "the project"
            engines = {"offline": "offline engine", "models": "models", "auto": "offline engine or models"}[req.brain]
            session.message = f"no candidate fix for {analysis.exception.type} in {where} ({engines})"
    return _finish(session, svc, t0)


def _verified(session: Session) -> bool:
    return any(v.verified for v in session.verdicts)


async def _model_search(session: Session, svc: Services, staged: StagedProject, checks: Checks,
                        req: VerifyRequest, log_text: str | None, py_files: list[str]) -> None:
    # Imported here: the model step (and its SDK glue) costs start-up time only when a key is set.
    from statemachine.model_search import ask_models

    t = time.monotonic()
    report = session.brain or BrainReport()
    untrusted = "\n\n".join(x for x in (req.issue_text, log_text) if x) or None
    got = await ask_models(svc, staged, checks, report, project_files=py_files, untrusted_text=untrusted,
                           first_id=len(session.candidates) + 1)
    session.candidates.extend(got.candidates)
    session.verdicts.extend(got.verdicts)
    session.timings_ms["models"] = (time.monotonic() - t) * 1000
    cost = report.cost_usd()
    tin, tout = report.tokens()
    svc.events.emit("models", f"Models: {len(report.calls)} call(s), {tin} tokens in / {tout} out, "
                              f"cost {'unknown' if cost is None else f'${cost:.4f}'}")


async def _offline_search(session: Session, svc: Services, staged: StagedProject, checks: Checks,
                          spectra: Spectra | None, spectra_note: str, editable: Callable[[str], bool],
                          py_files: list[str], t0: float) -> None:
    """Localize, rank the offline engine's candidates, and search them within the budgets."""
    events = svc.events
    settings = svc.settings
    t2 = time.monotonic()
    analysis = checks.analysis
    suspects = localize(analysis, spectra, editable, staged.read_text)
    # one past the budget, so the search can tell "budget reached" from "all tried"
    plan = repair.plan(analysis, suspects, staged.read_text, editable, py_files, limit=settings.max_candidates + 1)
    first_id = len(session.candidates) + 1
    candidates = [c.model_copy(update={"id": first_id + i}) for i, c in enumerate(plan.candidates)]
    summary = SearchSummary(suspects=[f"{x.path}:{x.line} ({x.score:.2f}: {x.why})" for x in suspects[:10]],
                            spectra=spectra_note, proposed=plan.proposed, ranked=len(candidates))
    session.search = summary
    session.timings_ms["generate"] = (time.monotonic() - t2) * 1000
    if suspects:
        top = ", ".join(f"{x.path}:{x.line}" for x in suspects[:3])
        events.emit("localize", f"Localized: {top} ({spectra_note})")
    events.emit("generate", f"Generated {len(candidates)} candidate{'s' if len(candidates) != 1 else ''} "
                            f"(offline engine, {len(suspects)} suspicious lines)")
    if not candidates:
        summary.stop = "no candidates"
        return
    t3 = time.monotonic()
    outcome = await search(
        candidates, lambda c: validate(c, svc.sandbox, staged, checks, events), parallel=settings.slots,
        budget=Budget(settings.max_candidates, settings.search_seconds, settings.search_window))
    session.verdicts.extend(outcome.verdicts)
    session.candidates.extend(candidates[: len(outcome.verdicts)])
    session.timings_ms["validate"] = (time.monotonic() - t3) * 1000
    summary.tried = len(outcome.verdicts)
    summary.rejected = sum(1 for v in outcome.verdicts if not v.preflight.ok)
    summary.plausible = sum(1 for v in outcome.verdicts if v.verified or v.regression is not None)
    summary.stop = outcome.stop
    if outcome.first_verified_s is not None:
        summary.first_verified_ms = (t3 - t0 + outcome.first_verified_s) * 1000
    events.emit("search", f"Tried {summary.tried} of {summary.ranked} candidates ({summary.rejected} rejected by "
                          f"preflight, {summary.plausible} passed the reproduction); stopped: {summary.stop}")


async def validate_candidates(candidates: list[Candidate], svc: Services, staged: StagedProject, repro: Reproduction,
                              before: RunResult, analysis: Analysis, baseline: RunResult | None = None,
                              baseline_spec: RunSpec | None = None) -> list[Verdict]:
    """Preflight, run and judge every candidate; the sandbox's slots bound the parallelism.

    ``baseline`` is the regression suite's result on the original code and ``baseline_spec`` how
    to run it again; without them only the reproduction is the oracle."""
    checks = Checks(repro=repro, analysis=analysis, before=before, repro_spec=_repro_spec(repro),
                    baseline=baseline, regression_spec=baseline_spec)
    return list(await asyncio.gather(*(validate(c, svc.sandbox, staged, checks, svc.events) for c in candidates)))


def _tighter(*limits: float | None) -> float | None:
    given = [x for x in limits if x]
    return min(given) if given else None


def _repro_spec(repro: Reproduction) -> RunSpec:
    if repro.kind is ReproKind.PYTEST:
        return RunSpec(mode=RunMode.PYTEST, argv=repro.argv or repro.files, label="reproduction")
    mode = RunMode.MODULE if repro.kind is ReproKind.MODULE else RunMode.SCRIPT
    return RunSpec(mode=mode, target=repro.target, argv=repro.argv, label="reproduction")


def _baseline_spec(repro: Reproduction, py_files: list[str], suite: list[str] | None = None) -> RunSpec | None:
    """The project's whole test suite (or the part ``suite`` names, from the repository's
    configuration): the regression oracle for plausible candidates (not just the failing tests:
    that is where overfitting shows) and, with coverage, the passing spectra for localization."""
    if repro.snippet:
        return None
    has_tests = any(is_test_path(p) and p.rsplit("/", 1)[-1].startswith("test") for p in py_files)
    if not has_tests and repro.kind is not ReproKind.PYTEST:
        return None
    return RunSpec(mode=RunMode.PYTEST, argv=list(suite or []), label="regression suite", coverage=True)




def _spectrum_spec(repro: Reproduction) -> RunSpec | None:
    """A script reproduction runs once more with coverage: the failing spectrum. (A separate
    run, so tracing never slows the reproduction itself into a timeout.)"""
    if repro.kind is ReproKind.PYTEST:
        return None
    return _repro_spec(repro).model_copy(update={"coverage": True, "label": "coverage"})


def _spectra(repro: Reproduction, before: RunResult, suite: RunResult | None,
             spectrum: RunResult | None) -> tuple[Spectra | None, str]:
    """Failing and passing coverage, and one line on what localization had to work with."""
    failing: set[str] = set()
    coverages = []
    if repro.kind is ReproKind.PYTEST:
        if suite is not None and suite.record.coverage is not None:
            coverages.append(suite.record.coverage)
            failing = {t for t, o in suite.record.outcomes.items() if o in ("failed", "error")
                       and any(t == tid or (("::" not in tid) and t.startswith(tid + "::")) for tid in repro.test_ids)}
    elif spectrum is not None and spectrum.record.coverage is not None and spectrum.nonce_ok \
            and (spectrum.exit_code != 0 or spectrum.record.exception is not None):
        coverages.append(spectrum.record.coverage)
        failing = {"<run>"}
        if suite is not None and suite.record.coverage is not None:
            coverages.append(suite.record.coverage)
    passing = passing_tests(suite) - failing
    if not failing:
        why = "the coverage run did not complete" if coverages == [] else "no failing test was traced"
        return None, f"traceback only ({why})"
    spectra = spectra_from(coverages, failing, passing)
    return spectra, f"spectra of {len(spectra.failing)} failing / {len(spectra.passing)} passing tests"


def _oracle_passed(repro: Reproduction, winner: Verdict) -> str:
    parts = []
    if repro.kind is ReproKind.PYTEST:
        parts.append(f"failing tests ({len(repro.test_ids)} target{'s' if len(repro.test_ids) != 1 else ''})")
    else:
        parts.append(f"reproduction ({repro.display()})")
    if winner.regression is not None:
        passed = len(passing_tests(winner.regression))
        parts.append(f"whole test suite ({passed} passed)")
    return " + ".join(parts)


def _tail_hint(events: Fanout, run: RunResult) -> None:
    tail = (run.stderr or run.stdout).strip().splitlines()[-3:]
    for line in tail:
        events.emit("output", f"  {line[:160]}")


def busy_ms(session: Session) -> float:
    """Wall time during which at least one sandboxed program was running."""
    spans = []
    for run in [session.before, session.baseline] + [r for v in session.verdicts for r in (v.run, v.regression)]:
        if run is not None and run.started_at:
            spans.append((run.started_at, run.started_at + run.duration_ms / 1000))
    spans.sort()
    total, end = 0.0, 0.0
    for s, e in spans:
        if e <= end:
            continue
        total += e - max(s, end)
        end = e
    return total * 1000


def _finish(session: Session, svc: Services, t0: float) -> Session:
    t = time.monotonic()
    session.sandbox_busy_ms = busy_ms(session)
    body = render(session, svc.sandbox.describe())
    proof = svc.signer.sign(body)
    session.proof_path = svc.store.put_blob(session.id, "proof.txt", proof.encode("utf-8"))
    winner = session.winning_candidate()
    if winner is not None:
        session.diff_path = svc.store.put_blob(session.id, "fix.diff", winner.diff.encode("utf-8"))
    session.timings_ms["proof"] = (time.monotonic() - t) * 1000
    session.timings_ms["total"] = (time.monotonic() - t0) * 1000
    if session.status is SessionStatus.VERIFIED and winner is not None:
        oracle = session.oracle.value if session.oracle else "?"
        svc.events.emit("verified", f"Verified: candidate {winner.id} (oracle: {oracle}).",
                        proof=session.proof_path, diff=session.diff_path)
    else:
        svc.events.emit("result", session.message[:1].upper() + session.message[1:] + ".")
    svc.store.put_session(session)
    return session
