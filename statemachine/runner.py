"""The local runner: the one flow on one machine, as the steps in order.

analyze -> reproduce -> search (cache, offline engine, models) -> conclude -> prove.
Each step is its own module over models (``pve.models``), so Step Functions handlers can call
them one by one; this function only stages the project, calls them, and folds their answers
into the ``Session``.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from brain.intake.logtext import decode_log
from brain.signature import error_signature
from pve.errors import BadInput
from pve.events import Fanout
from pve.models import (
    BRAIN_MODES,
    Analyzed,
    BrainReport,
    Checks,
    Conclusion,
    Found,
    Reproduced,
    ReproKind,
    Session,
    SessionStatus,
    VerifyRequest,
    settles,
)
from sandbox.backend import StagedProject
from sandbox.declarations import fallback_plans, plan_install
from sandbox.environments import DependencyError, tenant_of
from statemachine.analyze import analyze, importable_folders
from statemachine.conclusion import conclude, dependencies_failed, not_reproduced, nothing_to_fix
from statemachine.given_fix import judge_tree
from statemachine.pending import PendingOracle
from statemachine.proof.make import prove
from statemachine.reproduce import reproduce_first
from statemachine.search import cache
from statemachine.search.context import SearchContext
from statemachine.search.offline import offline_search
from statemachine.services import Services
from statemachine.verdict import undetermined

# auto: the offline engine first, the models when it finds nothing; models: the chain first,
# the offline engine as its last fallback; offline: the offline engine only.
ENGINES = {"offline": ("offline",), "auto": ("offline", "models"), "models": ("models", "offline")}


def new_session_id() -> str:
    return secrets.token_hex(16)  # 128 bits: permalinks are unguessable


def admit(req: VerifyRequest) -> tuple[Session, Path, str | None]:
    """A request checked before anything is staged (bad input should cost nothing): the new
    session, the project's resolved path and the decoded log. Raises BadInput."""
    if req.brain not in BRAIN_MODES:
        raise BadInput(f"unknown brain {req.brain!r} (use {', '.join(BRAIN_MODES)})", code="unknown-brain")
    path = req.path.expanduser()
    if not path.exists():
        raise BadInput(f"{path} does not exist", code="no-project")
    snippet = path.is_file()
    if snippet and path.suffix != ".py":
        raise BadInput(f"{path} is not a Python file or a project folder", code="not-python")
    if snippet and (req.test or (req.cmd and not req.cmd.strip().startswith(("python", "pytest")))):
        raise BadInput("a single .py file is its own reproduction; --test does not apply", code="snippet-with-test")
    log_text = decode_log(req.error_log) if req.error_log is not None else None
    session = Session(id=req.session_id or new_session_id(), created_at=datetime.now(UTC).isoformat(timespec="seconds"),
                      trigger=req.trigger, project=str(path.resolve()), snippet=snippet, origin=req.origin,
                      requested_by=req.requested_by, unlisted=req.unlisted)
    return session, path.resolve(), log_text


async def verify(req: VerifyRequest, svc: Services) -> Session:
    """Run the whole flow. Raises BadInput for unusable input; otherwise returns a finished session."""
    session, path, log_text = admit(req)
    # Stored as running at once: its page can tell who may watch it (the origin) before it ends.
    svc.store.put_session(session)
    # This session's own console: its watchers, and the store under this session's id only.
    events = Fanout(*svc.watchers, lambda e: svc.store.append_event(session.id, e))
    t0 = time.monotonic()
    staged = svc.sandbox.stage(path, single_file=session.snippet)
    staged.tenant = tenant_of(req.origin)
    try:
        settle(session, await _steps(req, svc, session, staged, log_text, events, t0))
        return prove(session, signer=svc.signer, store=svc.store, sandbox=svc.sandbox.describe(), events=events,
                     started=t0)
    finally:
        with contextlib.suppress(Exception):  # nothing to keep: the session's answer stands either way
            await svc.sandbox.release(staged)
        svc.sandbox.cleanup(staged)


@dataclass
class Prepared:
    """Where a session stands when the search may begin (``prepare``)."""

    reproduced: Reproduced
    pending: PendingOracle | None  # the regression baseline, while it still runs
    declarations: tuple[str, ...]  # files that declare the project's environment
    py_files: list[str]
    reproduce_started: float  # time.monotonic() when the reproduction (and the baseline) started


async def prepare(req: VerifyRequest, svc: Services, session: Session, staged: StagedProject, log_text: str | None,
                  events: Fanout, t0: float) -> Prepared | Conclusion:
    """Analyze, the environment, reproduce: the steps before the search, shared by the local
    runner and the Step Functions controller. A conclusion when the session ends here."""
    session.input_sha256 = dict(staged.files)
    if req.error_log is not None:
        session.error_log_sha256 = hashlib.sha256(req.error_log).hexdigest()
    py_files = sorted(p for p in staged.files if p.endswith((".py", ".pyw")))

    models_on = req.brain != "offline" and svc.models.off_reason is None
    analyzed = analyze(req, py_files, log_text=log_text, snippet=staged.source.name if session.snippet else None,
                       project=session.project, read=staged.read_text, all_files=set(staged.files),
                       model_may_write=models_on)
    session.analysis, session.notes = analyzed.analysis, analyzed.notes
    if analyzed.analysis is not None:
        events.emit("analyze", f"Analyzing logic... {analyzed.analysis.headline()}",
                    category=analyzed.analysis.category.value)
    elif analyzed.reproduction is not None:
        events.emit("analyze", f"Analyzing logic... no error log; reproducing with {analyzed.reproduction.display()}")
    for note in analyzed.notes:
        events.emit("analyze", f"Note: {note}")
    if analyzed.reproduction is None:
        analyzed = await _model_reproduction(analyzed, req, svc, session, staged, py_files, log_text, events)
    session.reproduction = analyzed.reproduction
    session.timings_ms["analyze"] = (time.monotonic() - t0) * 1000

    t1 = time.monotonic()
    try:
        declarations = await _environment(req, svc, session, staged, events)
    except DependencyError as exc:
        events.emit("environment", f"Installing the project's dependencies... {exc.message}", "FAILED")
        session.timings_ms["environment"] = (time.monotonic() - t1) * 1000
        return dependencies_failed(exc.message)
    session.timings_ms["environment"] = (time.monotonic() - t1) * 1000
    t1 = time.monotonic()
    reproduced, later = await reproduce_first(analyzed, req, py_files, svc.sandbox, staged, events,
                                              slots=svc.settings.slots, oracle_seconds=svc.settings.oracle_seconds,
                                              baseline_cache=svc.settings.home / "baselines" if req.cache else None)
    pending = PendingOracle(later, lambda: svc.sandbox.hurry(staged)) if later is not None else None
    record(session, reproduced)
    session.timings_ms["reproduce"] = (time.monotonic() - t1) * 1000
    return Prepared(reproduced, pending, declarations, py_files, t1)


async def _steps(req: VerifyRequest, svc: Services, session: Session, staged: StagedProject, log_text: str | None,
                 events: Fanout, t0: float) -> Conclusion:
    prepared = await prepare(req, svc, session, staged, log_text, events, t0)
    if isinstance(prepared, Conclusion):
        return prepared
    reproduced, pending, declarations, py_files = (prepared.reproduced, prepared.pending, prepared.declarations,
                                                   prepared.py_files)
    t1 = prepared.reproduce_started
    try:
        if not reproduced.ok:
            return not_reproduced(reproduced.why)
        if reproduced.checks is None:
            if pending is not None:
                record(session, await pending.result())
            return nothing_to_fix()
        checks = reproduced.checks.model_copy(update={"declarations": declarations})
        if req.judge is not None:  # someone else's fix: judged, not searched for
            signature, report = None, session.brain or BrainReport(mode="judge")
            session.brain = report
            session.judged = req.judge
            fold(session, await judge_tree(req.judge.path, req.judge.label, svc.sandbox, staged, checks, events, pending))
        else:
            signature, report = await _search(req, svc, session, staged, events, t0, checks, reproduced, py_files,
                                              pending)
        if pending is not None and not pending.done():
            # The search ended while the baseline still ran: no candidate passed the reproduction
            # (one that did would have waited for it), so no verdict needs it. It is stopped,
            # not awaited: on a large suite it would add half a minute to a session that is over.
            await pending.cancel()
            session.oracle_note = ("none: not needed (no candidate passed the reproduction; the baseline was "
                                   f"stopped after {time.monotonic() - t1:.0f} s, unfinished)")
        elif pending is not None:  # the search ran beside the baseline: the session records it as it ended
            final = await pending.result()
            record(session, final)
            checks = pending.latest(checks)
            session.timings_ms["baseline"] = (time.monotonic() - t1) * 1000
    finally:
        if pending is not None:
            await pending.cancel()
    return decided(req, svc, session, staged, checks, signature, report)


def decided(req: VerifyRequest, svc: Services, session: Session, staged: StagedProject, checks: Checks,
            signature: str | None, report: BrainReport) -> Conclusion:
    """The verdicts in, the conclusion out (winner, oracle, words); a verified fix is remembered
    for its error signature."""
    repro = checks.repro
    undetermined(session.verdicts, session.candidates)  # fixes the tests cannot tell apart are not verified
    conclusion = conclude(session.verdicts, repro, checks.analysis, checks.baseline,
                          repro_source=repro.script or _script_text(staged, repro.kind, repro.files), brain=req.brain,
                          stop=session.search.stop if session.search else None, still_failing=checks.others_failing)
    fix = next((c for c in session.candidates if c.id == conclusion.winner), None)
    if conclusion.status is not SessionStatus.VERIFIED:
        fix = None  # only a verified fix is remembered for its error signature
    if signature is not None and fix is not None and req.cache:
        cache.remember(svc.store, signature, fix, staged, session.id)
        if not report.cache.startswith("hit, re-verified"):
            report.cache = (report.cache + "; " if report.cache else "") + "stored"
    return conclusion


def settle(session: Session, conclusion: Conclusion) -> None:
    """The conclusion into the session, before it is proven."""
    session.status, session.message = conclusion.status, conclusion.message
    session.winner, session.oracle = conclusion.winner, conclusion.oracle
    if session.search is not None and conclusion.oracle_passed:
        session.search.oracle = conclusion.oracle_passed


async def _search(req: VerifyRequest, svc: Services, session: Session, staged: StagedProject, events: Fanout,
                  t0: float, checks: Checks, reproduced: Reproduced, py_files: list[str],
                  pending: PendingOracle | None) -> tuple[str | None, BrainReport]:
    """The cache, then the engines in turn, until one has a verified fix."""
    report = session.brain or BrainReport()
    report.mode, report.models = req.brain, svc.models.describe()
    session.brain = report
    ctx = SearchContext(req=req, checks=checks, spectrum=reproduced.spectrum, py_files=py_files, sandbox=svc.sandbox,
                        staged=staged, events=events, settings=svc.settings, models=svc.models, started=t0,
                        pending=pending)
    signature = error_signature(checks.analysis, staged.read_text)
    report.signature = signature or ""
    if signature is not None and req.cache:
        found, report.cache = await cache.cache_search(ctx, svc.store, signature, first_id=1)
        fold(session, found)
    for engine in ENGINES[req.brain]:
        if any(settles(v) for v in session.verdicts):
            break
        if engine == "offline":
            fold(session, await offline_search(ctx, first_id=len(session.candidates) + 1))
        elif svc.models.off_reason:
            report.notes.append(svc.models.off_reason)  # the CLI says it once, at the start
        else:
            # Imported here: the model step and its SDK glue cost start-up time only when a key is set.
            from statemachine.search.models import model_search

            fold(session, await model_search(ctx, first_id=len(session.candidates) + 1))
    return signature, report


def record(session: Session, reproduced: Reproduced) -> None:
    """What the reproduce step found, as the session keeps it (again once the baseline is in)."""
    session.before, session.baseline, session.analysis = reproduced.before, reproduced.baseline, reproduced.analysis
    session.oracle_note = reproduced.oracle_note
    session.oracle_files, session.oracle_left_out = reproduced.oracle_files, reproduced.oracle_left_out
    session.localization_runs = reproduced.traced


async def _model_reproduction(analyzed: Analyzed, req: VerifyRequest, svc: Services, session: Session,
                              staged: StagedProject, py_files: list[str], log_text: str | None,
                              events: Fanout) -> Analyzed:
    """No test, script or code block in the report: a model writes the reproduction, which
    counts only once it has failed as reported in the sandbox."""
    # Imported here: the model SDKs load only when a key is set.
    from statemachine.model_reproduce import write_reproduction

    assert analyzed.analysis is not None  # only a log's failure can leave the reproduction to a model
    untrusted = "\n\n".join(x for x in (req.issue_text, log_text) if x) or None
    repro, report = await write_reproduction(analyzed.analysis, models=svc.models, sandbox=svc.sandbox, staged=staged,
                                             py_files=py_files, pythonpath=importable_folders(py_files),
                                             untrusted_text=untrusted, events=events)
    session.brain = report
    if repro is None:
        raise BadInput("could not derive a reproduction from the error log: it names no test, starts in no project "
                       "script, has no code block that uses the project, and no model's reproduction failed as "
                       "reported", hint="say how to trigger it: --test \"pytest tests/test_x.py::test_y\"",
                       code="no-reproduction")
    session.notes.append(f"no reproduction in the report: {repro.derived_from} wrote one, and it failed as reported")
    return analyzed.model_copy(update={"reproduction": repro})


async def _environment(req: VerifyRequest, svc: Services, session: Session, staged: StagedProject,
                       events: Fanout) -> tuple[str, ...]:
    """The project's own dependencies, built once per declaration (or found), for every run;
    returns the files that declare them."""
    if session.snippet:
        return ()
    plan = plan_install(staged.files, staged.read_text, config=req.install)
    if not plan.needed() and svc.settings.sandbox.environments.given is None:  # (given: the caller's own)
        return ()
    try:
        info = await svc.sandbox.environment(staged, plan)
    except DependencyError as failed:
        if req.install:  # the repository said how to build it: its words stand, no guessing
            raise
        # As declared it does not build today: the next declaration source, saying each step.
        for fallback, why in fallback_plans(plan, staged.files, staged.read_text, failed.reason):
            events.emit("environment", f"Environment: {plan.kind} did not build ({_first_line(failed.reason)})",
                        "FALLING BACK", detail=why)
            session.notes.append(f"environment: {plan.kind} did not build ({_first_line(failed.reason)}); {why}")
            try:
                info = await svc.sandbox.environment(staged, fallback)
            except DependencyError as again:
                plan, failed = fallback, again
                continue
            plan = fallback
            break
        else:
            raise failed from None
    if info is None:
        return ()
    session.environment = info
    how = "reused" if info.reused else f"built in {info.build_ms / 1000:.1f} s"
    events.emit("environment", f"Environment: {plan.kind}, {len(info.packages)} packages, Python {info.python.split()[0]} "
                               f"({how})", "READY")
    return tuple(plan.files)


def _first_line(text: str, limit: int = 160) -> str:
    line = next((x.strip() for x in text.splitlines() if x.strip()), "")
    return line if len(line) <= limit else line[:limit - 1] + "…"


def fold(session: Session, found: Found) -> None:
    """A search's answer into the session."""
    session.candidates.extend(found.candidates)
    session.verdicts.extend(found.verdicts)
    session.timings_ms.update(found.timings_ms)
    if found.summary is not None:
        session.search = found.summary
    if found.report is not None and session.brain is not None:
        brain = session.brain
        brain.calls.extend(found.report.calls)
        brain.notes.extend(found.report.notes)
        brain.error_class, brain.classified_by = found.report.error_class, found.report.classified_by


def _script_text(staged: StagedProject, kind: ReproKind, files: list[str]) -> str | None:
    if kind is ReproKind.PYTEST or not files:
        return None
    try:
        return staged.read_text(files[0])
    except FileNotFoundError:
        return None

