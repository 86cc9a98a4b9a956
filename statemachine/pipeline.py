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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from brain import offline
from brain.logtext import decode_log
from brain.traceback import ProjectIndex, is_test_path, parse_log
from pve.errors import BadInput
from pve.events import Fanout
from pve.models import (
    Analysis,
    Candidate,
    Reproduction,
    ReproKind,
    RunMode,
    RunResult,
    RunSpec,
    Session,
    SessionStatus,
    Verdict,
)
from pve.settings import Settings
from sandbox.backend import SandboxBackend, StagedProject
from statemachine import analyze as step_analyze
from statemachine.decide import (
    check_reproduction,
    judge,
    observed_exception,
    oracle_strength,
    passing_tests,
    pick_winner,
)
from statemachine.preflight import preflight
from statemachine.proof import ProofSigner, render
from store.base import Store


@dataclass
class VerifyRequest:
    path: Path
    error_log: bytes | None = None
    test: str | None = None
    cmd: str | None = None
    trigger: str = "cli"


@dataclass
class Services:
    sandbox: SandboxBackend
    store: Store
    signer: ProofSigner
    settings: Settings
    events: Fanout = field(default_factory=Fanout)


def new_session_id() -> str:
    return secrets.token_hex(16)  # 128 bits: permalinks are unguessable


async def verify(req: VerifyRequest, svc: Services) -> Session:
    """Run the whole flow. Raises BadInput for unusable input; otherwise returns a finished session."""
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

    session = Session(id=new_session_id(), created_at=datetime.now(UTC).isoformat(timespec="seconds"),
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
        failure = step_analyze.pick_failure(parsed)
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

    # 2. reproduce (and the regression baseline, in parallel) --------------------
    t1 = time.monotonic()
    repro_spec = _repro_spec(repro)
    baseline_spec = _baseline_spec(repro, py_files)
    runs = await asyncio.gather(svc.sandbox.run(staged, repro_spec),
                                *([svc.sandbox.run(staged, baseline_spec)] if baseline_spec else []))
    before = runs[0]
    session.before = before
    baseline = runs[1] if baseline_spec else None
    if baseline is not None and (not baseline.nonce_ok or not passing_tests(baseline)):
        baseline = None  # a suite that does not run, or passes nothing, is no oracle
    session.baseline = baseline
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

    # 3. generate -----------------------------------------------------------------
    t2 = time.monotonic()
    repro_files = set(repro.files)

    def editable(p: str) -> bool:
        return repro.snippet or (p not in repro_files and not is_test_path(p))

    candidates = offline.generate(analysis, staged.read_text, editable, py_files, limit=svc.settings.max_candidates)
    session.candidates = candidates
    session.timings_ms["generate"] = (time.monotonic() - t2) * 1000
    events.emit("generate", f"Generated {len(candidates)} candidate{'s' if len(candidates) != 1 else ''} (offline engine)")
    if not candidates:
        session.status = SessionStatus.NO_FIX
        where = analysis.failing_frame.project_path if analysis.failing_frame else "the project"
        session.message = f"no candidate fix for {analysis.exception.type} in {where} (offline engine)"
        return _finish(session, svc, t0)

    # 4-6. preflight, run in parallel, decide ------------------------------------
    t3 = time.monotonic()
    session.verdicts = await validate_candidates(candidates, svc, staged, repro, before, analysis,
                                                 baseline, baseline_spec if baseline is not None else None)
    session.timings_ms["validate"] = (time.monotonic() - t3) * 1000
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
        session.status = SessionStatus.VERIFIED
        session.message = f"candidate {winner.candidate_id} verified (oracle: {session.oracle.value})"
    else:
        session.status = SessionStatus.NO_FIX
        session.message = f"none of {len(candidates)} candidates passed"
    return _finish(session, svc, t0)


async def validate_candidates(candidates: list[Candidate], svc: Services, staged: StagedProject, repro: Reproduction,
                              before: RunResult, analysis: Analysis, baseline: RunResult | None = None,
                              baseline_spec: RunSpec | None = None) -> list[Verdict]:
    """Preflight, run and judge every candidate; the sandbox's slots bound the parallelism.

    ``baseline`` is the regression suite's result on the original code and ``baseline_spec`` how
    to run it again; without them only the reproduction is the oracle."""
    repro_spec = _repro_spec(repro)
    return list(await asyncio.gather(*(_validate(c, svc, staged, repro, repro_spec, baseline_spec, baseline, before, analysis)
                                       for c in candidates)))


async def _validate(c: Candidate, svc: Services, staged: StagedProject, repro: Reproduction, repro_spec: RunSpec,
                    baseline_spec: RunSpec | None, baseline: RunResult | None, before: RunResult,
                    analysis: Analysis) -> Verdict:
    events = svc.events
    pre = preflight(c, staged.read_text, analysis, repro)
    if not pre.ok:
        v = judge(c, pre, None, None, repro, before, baseline)
        events.emit("run", f"Candidate {c.id} rejected by preflight", "REJECTED", candidate=c.id, reason=v.reason)
        return v
    patches = {e.path: e.new_text for e in c.edits}
    run = await svc.sandbox.run(staged, repro_spec.model_copy(update={"patches": patches, "label": f"candidate {c.id}"}))
    regression = None
    verdict = judge(c, pre, run, None, repro, before, None)
    if verdict.verified and baseline is not None and baseline_spec is not None:
        regression = await svc.sandbox.run(staged, baseline_spec.model_copy(
            update={"patches": patches, "label": f"candidate {c.id} regression"}))
    verdict = judge(c, pre, run, regression, repro, before, baseline)
    status = f"PASSED - {verdict.duration_ms:.0f} ms" if verdict.verified else f"FAILED - {_short(verdict.reason)}"
    events.emit("run", f"Running candidate {c.id}...", status, candidate=c.id, rule=c.rule, reason=verdict.reason)
    return verdict


def _short(reason: str) -> str:
    """One line for the console: the test id and outcome, or the exception type."""
    first = reason.splitlines()[0] if reason else ""
    if "::" in first:
        return first.split(" (")[0][:100]
    return first.split(":")[0][:80]


def _repro_spec(repro: Reproduction) -> RunSpec:
    if repro.kind is ReproKind.PYTEST:
        return RunSpec(mode=RunMode.PYTEST, argv=repro.argv or repro.files, label="reproduction")
    mode = RunMode.MODULE if repro.kind is ReproKind.MODULE else RunMode.SCRIPT
    return RunSpec(mode=mode, target=repro.target, argv=repro.argv, label="reproduction")


def _baseline_spec(repro: Reproduction, py_files: list[str]) -> RunSpec | None:
    """A script reproduction in a project with tests also runs the test suite (regressions)."""
    if repro.kind is ReproKind.PYTEST or repro.snippet:
        return None
    has_tests = any(is_test_path(p) and p.rsplit("/", 1)[-1].startswith("test") for p in py_files)
    return RunSpec(mode=RunMode.PYTEST, argv=[], label="regression suite") if has_tests else None


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
