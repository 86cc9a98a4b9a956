"""One verification in progress: what its phases share, and the phases in order.

    admit -> prepare (analyze, the environment) -> reproduce -> search | judge -> decide -> prove

A ``Verification`` holds what used to be threaded through every signature: the request, the
services, the session, the staged project, its console and its clock. Each phase is a method
that calls the module holding the phase's rules (``analyze``, ``environment``, ``reproduce``,
``search/``, ``given_fix``, ``verdict`` and ``conclusion``, ``proof/``) and folds the answer into
the session. Two thin drivers call the phases: the local runner (``statemachine/runner.py``) in
one process, and the Step Functions handlers (``statemachine/stepfunctions/steps.py``) in
separate Lambda functions, which carry ``state()`` between them and ``restore()`` it. The
orchestration is written here once.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field

from brain.intake.logtext import decode_log
from brain.signature import error_signature
from pve.errors import BadInput
from pve.events import Fanout
from pve.models import (
    BRAIN_MODES,
    Analyzed,
    BrainReport,
    Candidate,
    Checks,
    Conclusion,
    Found,
    Reproduced,
    ReproKind,
    Session,
    SessionStatus,
    Spectrum,
    VerifyRequest,
    new_session_id,
    settles,
)
from sandbox.backend import StagedProject
from sandbox.environments import DependencyError, tenant_of
from statemachine.analyze import analyze, importable_folders
from statemachine.conclusion import conclude, dependencies_failed, not_reproduced, nothing_to_fix
from statemachine.environment import build_environment
from statemachine.given_fix import judge_given_fix
from statemachine.pending import PendingOracle
from statemachine.proof.make import prove
from statemachine.reproduce import Lab, reproduce_first
from statemachine.search import cache
from statemachine.search.context import SearchContext
from statemachine.search.offline import offline_plan, offline_search
from statemachine.services import Services
from statemachine.verdict import undetermined

# auto: the offline engine first, the models when it finds nothing; models: the chain first,
# the offline engine as its last fallback; offline: the offline engine only.
ENGINES = {"offline": ("offline",), "auto": ("offline", "models"), "models": ("models", "offline")}


class VerificationState(BaseModel):
    """A verification between the Step Functions steps (a blob of the session): what
    ``restore`` needs to go on where ``state`` left off."""

    request: VerifyRequest
    session: Session  # as prepared: analysis, reproduction, baseline, notes, timings
    started: float  # the session's start, epoch seconds (the steps run on different instances)
    files: dict[str, str]  # the staged project's files and hashes
    snapshot: str = ""  # the staged project as an archive in the depot (SHA-256); "" on one machine
    checks: Checks | None = None
    ranked: list[Candidate] = Field(default_factory=list)  # the ranking the batches run
    found: Found | None = None  # the offline engine's account before its search
    conclusion: Conclusion | None = None  # the session ended before any search
    signature: str | None = None
    models: bool = False  # the brain may ask the models (not "offline", keys set)


@dataclass
class Verification:
    req: VerifyRequest
    svc: Services
    session: Session
    events: Fanout
    started: float  # time.monotonic() at the session's start on this machine
    started_wall: float  # the same moment, epoch seconds
    path: Path | None = None  # the project (None once restored: it is staged)
    log_text: str | None = None
    staged: StagedProject | None = None
    snapshot: str = ""
    py_files: list[str] = field(default_factory=list)
    analyzed: Analyzed | None = None
    declarations: tuple[str, ...] = ()  # files that declare the project's environment
    spectrum: Spectrum = field(default_factory=Spectrum)
    pending: PendingOracle | None = None  # the regression baseline, while it still runs
    reproduce_started: float = 0.0
    checks: Checks | None = None
    signature: str | None = None
    ranked: list[Candidate] = field(default_factory=list)
    found: Found | None = None
    conclusion: Conclusion | None = None  # set by the phase that ended the session early
    models: bool = False
    _search_context: SearchContext | None = None

    # ------------------------------------------------------------------------- admit, stage

    @classmethod
    def admit(cls, req: VerifyRequest, svc: Services) -> Verification:
        """A request checked before anything is staged (bad input should cost nothing), its
        session stored as running at once: its page can tell who may watch it (the origin)
        before it ends. Raises BadInput."""
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
        session = Session(id=req.session_id or new_session_id(),
                          created_at=datetime.now(UTC).isoformat(timespec="seconds"), trigger=req.trigger,
                          project=str(path.resolve()), snippet=snippet, origin=req.origin,
                          requested_by=req.requested_by, unlisted=req.unlisted)
        svc.store.put_session(session)
        return Verification(req=req, svc=svc, session=session, events=console(svc, session.id), started=time.monotonic(),
                   started_wall=time.time(), path=path.resolve(), log_text=log_text)

    def stage(self) -> StagedProject:
        """The project copied where the sandbox reads it, owned by the request's tenant."""
        assert self.path is not None, "a restored verification is staged from its snapshot"
        self.staged = self.svc.sandbox.stage(self.path, single_file=self.session.snippet)
        self.staged.tenant = tenant_of(self.req.origin)
        return self.staged

    async def close(self, *, release: bool = True) -> None:
        """The staged project gone (and, on one machine, its warm sandboxes released)."""
        if self.staged is None:
            return
        if release:
            with contextlib.suppress(Exception):  # nothing to keep: the session's answer stands either way
                await self.svc.sandbox.release(self.staged)
        self.svc.sandbox.cleanup(self.staged)

    # ------------------------------------------------------------------------- prepare

    async def prepare(self) -> bool:
        """Analyze the report and build the environment. False when the session ends here
        (``conclusion``)."""
        session, staged, req = self.session, self._staged(), self.req
        session.input_sha256 = dict(staged.files)
        if req.error_log is not None:
            session.error_log_sha256 = hashlib.sha256(req.error_log).hexdigest()
        self.py_files = sorted(p for p in staged.files if p.endswith((".py", ".pyw")))
        await self._analyze()
        t1 = time.monotonic()
        try:
            self.declarations = await build_environment(req, self.svc, session, staged, self.events)
        except DependencyError as exc:
            self.events.emit("environment", f"Installing the project's dependencies... {exc.message}", "FAILED")
            self.conclusion = dependencies_failed(exc.message)
            return False
        finally:
            session.timings_ms["environment"] = (time.monotonic() - t1) * 1000
        return True

    async def _analyze(self) -> None:
        session, staged, req, events = self.session, self._staged(), self.req, self.events
        models_on = req.brain != "offline" and self.svc.models.off_reason is None
        analyzed = analyze(req, self.py_files, log_text=self.log_text,
                           snippet=staged.source.name if session.snippet else None, project=session.project,
                           read=staged.read_text, all_files=set(staged.files), model_may_write=models_on)
        session.analysis, session.notes = analyzed.analysis, analyzed.notes
        if analyzed.analysis is not None:
            events.emit("analyze", f"Analyzing logic... {analyzed.analysis.headline()}",
                        category=analyzed.analysis.category.value)
        elif analyzed.reproduction is not None:
            events.emit("analyze", f"Analyzing logic... no error log; reproducing with {analyzed.reproduction.display()}")
        for note in analyzed.notes:
            events.emit("analyze", f"Note: {note}")
        if analyzed.reproduction is None:
            analyzed = await self._model_reproduction(analyzed)
        self.analyzed = analyzed
        session.reproduction = analyzed.reproduction
        session.timings_ms["analyze"] = (time.monotonic() - self.started) * 1000

    async def _model_reproduction(self, analyzed: Analyzed) -> Analyzed:
        """No test, script or code block in the report: a model writes the reproduction, which
        counts only once it has failed as reported in the sandbox."""
        # Imported here: the model SDKs load only when a key is set.
        from statemachine.model_reproduce import write_reproduction

        assert analyzed.analysis is not None  # only a log's failure can leave the reproduction to a model
        untrusted = "\n\n".join(x for x in (self.req.issue_text, self.log_text) if x) or None
        repro, report = await write_reproduction(analyzed.analysis, models=self.svc.models, sandbox=self.svc.sandbox,
                                                 staged=self._staged(), py_files=self.py_files,
                                                 pythonpath=importable_folders(self.py_files),
                                                 untrusted_text=untrusted, events=self.events)
        self.session.brain = report
        if repro is None:
            raise BadInput("could not derive a reproduction from the error log: it names no test, starts in no "
                           "project script, has no code block that uses the project, and no model's reproduction "
                           "failed as reported", hint="say how to trigger it: --test \"pytest tests/test_x.py::test_y\"",
                           code="no-reproduction")
        self.session.notes.append(f"no reproduction in the report: {repro.derived_from} wrote one, and it failed as "
                                  "reported")
        return analyzed.model_copy(update={"reproduction": repro})

    # ------------------------------------------------------------------------- reproduce

    async def reproduce(self, *, baseline_first: bool = False) -> bool:
        """The reproduction on the original code, the regression baseline beside it. False when
        the session ends here (not reproduced, or nothing to fix). ``baseline_first``: the
        baseline is awaited here (the AWS engine judges no candidate before its Map), else it
        goes on running beside the search."""
        assert self.analyzed is not None, "prepare first"
        t1 = self.reproduce_started = time.monotonic()
        settings, staged = self.svc.settings, self._staged()
        lab = Lab(self.svc.sandbox, staged, self.events, slots=settings.slots, oracle_seconds=settings.oracle_seconds,
                  baseline_cache=settings.home / "baselines" if self.req.cache else None)
        reproduced, self.pending = await reproduce_first(self.analyzed, self.req, self.py_files, lab)
        self.record(reproduced)
        self.session.timings_ms["reproduce"] = (time.monotonic() - t1) * 1000
        self.spectrum = reproduced.spectrum
        if not reproduced.ok:
            self.conclusion = not_reproduced(reproduced.why)
            return False
        checks = reproduced.checks
        if self.pending is not None and (baseline_first or checks is None):
            self.record(await self.pending.result())
            if baseline_first:
                self.session.timings_ms["baseline"] = (time.monotonic() - t1) * 1000
                checks = self.pending.latest(checks) if checks is not None else None
                self.pending = None  # settled: the search holds candidates to it from the start
        if checks is None:
            self.conclusion = nothing_to_fix()
            return False
        self.checks = checks.model_copy(update={"declarations": self.declarations})
        return True

    def record(self, reproduced: Reproduced) -> None:
        """What the reproduce step found, as the session keeps it (again once the baseline is in)."""
        session = self.session
        session.before, session.baseline, session.analysis = reproduced.before, reproduced.baseline, reproduced.analysis
        session.oracle_note = reproduced.oracle_note
        session.oracle_files, session.oracle_left_out = reproduced.oracle_files, reproduced.oracle_left_out
        session.localization_runs = reproduced.traced

    async def settle_baseline(self) -> None:
        """The search is over while the baseline may still run: recorded as it ended, or
        stopped when no verdict needs it."""
        pending, t1 = self.pending, self.reproduce_started
        if pending is None:
            return
        if not pending.done():
            # No candidate passed the reproduction (one that did would have waited for it), so no
            # verdict needs it. It is stopped, not awaited: on a large suite it would add half a
            # minute to a session that is over.
            await pending.cancel()
            self.session.oracle_note = ("none: not needed (no candidate passed the reproduction; the baseline "
                                        f"was stopped after {time.monotonic() - t1:.0f} s, unfinished)")
        else:  # the search ran beside the baseline: the session records it as it ended
            self.record(await pending.result())
            assert self.checks is not None
            self.checks = pending.latest(self.checks)
            self.session.timings_ms["baseline"] = (time.monotonic() - t1) * 1000

    async def stop_baseline(self) -> None:
        """Whatever happened, no baseline outlives its verification (the drivers' ``finally``)."""
        if self.pending is not None:
            await self.pending.cancel()

    # ------------------------------------------------------------------------- search, judge

    def search_context(self) -> SearchContext:
        """What every search works with, made once per verification."""
        if self._search_context is None:
            assert self.checks is not None, "reproduce first"
            self._search_context = SearchContext(
                req=self.req, checks=self.checks, spectrum=self.spectrum, py_files=self.py_files,
                sandbox=self.svc.sandbox, staged=self._staged(), events=self.events, settings=self.svc.settings,
                models=self.svc.models, started=self.started, pending=self.pending)
        return self._search_context

    def brain(self) -> BrainReport:
        """The session's account of the search's brains, opened for the request's brain."""
        report = self.session.brain or BrainReport()
        report.mode, report.models = self.req.brain, self.svc.models.describe()
        self.session.brain = report
        return report

    async def search(self) -> None:
        """The cache, then the engines in turn, until one has a verified fix."""
        report, ctx = self.brain(), self.search_context()
        await self._cache()  # a fix it re-verified settles the search: the loop below then tries nothing
        for engine in ENGINES[self.req.brain]:
            if any(settles(v) for v in self.session.verdicts):
                break
            if engine == "offline":
                self.fold(await offline_search(ctx, first_id=len(self.session.candidates) + 1))
            elif self.svc.models.off_reason:
                report.notes.append(self.svc.models.off_reason)  # the CLI says it once, at the start
            else:
                await self.ask_models()

    async def ask_models(self, first_id: int | None = None) -> Found:
        """The model brain's search, folded into the session."""
        # Imported here: the model step and its SDK glue cost start-up time only when a key is set.
        from statemachine.search.models import model_search

        found = await model_search(self.search_context(), first_id=first_id or len(self.session.candidates) + 1)
        self.fold(found)
        return found

    async def _cache(self) -> bool:
        """The last verified fix for the same error signature, re-verified here. True when it was."""
        assert self.checks is not None
        report = self.brain()
        self.signature = error_signature(self.checks.analysis, self._staged().read_text)
        report.signature = self.signature or ""
        if self.signature is None or not self.req.cache:
            return False
        found, report.cache = await cache.cache_search(self.search_context(), self.svc.store, self.signature,
                                                       first_id=1)
        self.fold(found)
        return found.verified()

    async def plan(self) -> None:
        """The search as batches (the AWS engine): the cache's re-verified fix, or the offline
        engine's ranking, which the batches then run; the models' turn comes after them."""
        report = self.brain()
        if self.req.brain != "offline":
            # As on one machine: the offline engine first, then the models (a step of their own,
            # after the batches), or the reason they are off. "models" first is the CLI's only.
            self.models = self.svc.models.off_reason is None
            if self.svc.models.off_reason:
                report.notes.append(self.svc.models.off_reason)
        if await self._cache():
            return
        self.ranked, self.found = offline_plan(self.search_context(), first_id=len(self.session.candidates) + 1)

    async def judge(self) -> None:
        """Someone else's fix (a pull request's head): judged as the one candidate, not searched for."""
        given = self.req.judge
        assert given is not None
        if self.session.brain is None:
            self.session.brain = BrainReport(mode="judge")
        self.session.judged = given
        self.fold(await judge_given_fix(self.search_context(), given))

    def fold(self, found: Found) -> None:
        """A search's answer into the session."""
        session = self.session
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

    # ------------------------------------------------------------------------- decide, prove

    def decide(self) -> Conclusion:
        """The verdicts in, the conclusion out (winner, oracle, words) and into the session; a
        verified fix is remembered for its error signature."""
        conclusion = self.conclusion or self._conclude()
        session = self.session
        session.status, session.message = conclusion.status, conclusion.message
        session.winner, session.oracle = conclusion.winner, conclusion.oracle
        if session.search is not None and conclusion.oracle_passed:
            session.search.oracle = conclusion.oracle_passed
        return conclusion

    def _conclude(self) -> Conclusion:
        session, checks = self.session, self.checks
        assert checks is not None
        repro = checks.repro
        undetermined(session.verdicts, session.candidates)  # fixes the tests cannot tell apart are not verified
        conclusion = conclude(session.verdicts, repro, checks.analysis, checks.baseline,
                              repro_source=repro.script or _script_text(self._staged(), repro.kind, repro.files),
                              brain=self.req.brain, stop=session.search.stop if session.search else None,
                              still_failing=checks.others_failing)
        fix = next((c for c in session.candidates if c.id == conclusion.winner), None)
        if conclusion.status is not SessionStatus.VERIFIED:
            fix = None  # only a verified fix is remembered for its error signature
        report = session.brain or BrainReport()
        if self.signature is not None and fix is not None and self.req.cache:
            cache.remember(self.svc.store, self.signature, fix, self._staged(), session.id)
            if not report.cache.startswith("hit, re-verified"):
                report.cache = (report.cache + "; " if report.cache else "") + "stored"
        return conclusion

    def prove(self) -> Session:
        """The execution proof rendered, signed and stored with the fix; the session stored (and
        then, not before, its live readers told it is over: their page reloads with the result)."""
        session = prove(self.session, signer=self.svc.signer, store=self.svc.store,
                        sandbox=self.svc.sandbox.describe(), events=self.events, started=self.started)
        if self.svc.live is not None:
            self.svc.live.done(session.id, session.status.value)
        return session

    # ------------------------------------------------------------------------- state

    def state(self) -> VerificationState:
        staged = self._staged()
        return VerificationState(request=self.req, session=self.session, started=self.started_wall,
                                 files=dict(staged.files), snapshot=self.snapshot, checks=self.checks,
                                 ranked=self.ranked, found=self.found, conclusion=self.conclusion,
                                 signature=self.signature, models=self.models)

    @classmethod
    def restore(cls, state: VerificationState, svc: Services, events: Fanout) -> Verification:
        """A verification where ``state`` left it, on this machine's clock, not yet staged
        (``staged`` is the caller's: the snapshot is the engine's)."""
        started = time.monotonic() - (time.time() - state.started)
        return cls(req=state.request, svc=svc, session=state.session, events=events, started=started,
                   started_wall=state.started, snapshot=state.snapshot, checks=state.checks,
                   py_files=sorted(p for p in state.files if p.endswith((".py", ".pyw"))), ranked=state.ranked,
                   found=state.found, conclusion=state.conclusion, signature=state.signature, models=state.models)

    def _staged(self) -> StagedProject:
        assert self.staged is not None, "the project is not staged"
        return self.staged


def console(svc: Services, session_id: str, after: int = 0) -> Fanout:
    """A session's own console: its watchers, the store under this session's id only, and its
    live readers where they are connected elsewhere (``Services.live``)."""
    keep = [lambda e: svc.store.append_event(session_id, e)]
    live = svc.live
    if live is not None:
        keep.append(lambda e: live.post(session_id, e))
    return Fanout(*svc.watchers, *keep, after=after)


def _script_text(staged: StagedProject, kind: ReproKind, files: list[str]) -> str | None:
    if kind is ReproKind.PYTEST or not files:
        return None
    try:
        return staged.read_text(files[0])
    except FileNotFoundError:
        return None
