"""The Lambda steps of the AWS engine (see the package's docstring for the machine).

Each step is a function of a ``Flow`` (the state: which job, which session, which ranks) and an
``Engine`` (what it may use); everything bigger is a blob of the session's (the verification's
``state()``, the verdicts) or a snapshot in the depot. The steps drive the same ``Verification``
as the local runner: its phases, split between Lambda functions, its state carried in S3.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import BaseModel, Field

from pve.events import Fanout
from pve.models import (
    Found,
    Session,
    SessionStatus,
    Verdict,
    VerifyRequest,
    settles,
)
from sandbox.remote import RemoteSandbox
from statemachine.github.dispatch import handle
from statemachine.github.runtime import AppRuntime
from statemachine.search.budget import Budget, next_batch
from statemachine.search.offline import searched
from statemachine.services import Services
from statemachine.stepfunctions import limits
from statemachine.stepfunctions.replay import NeedsVerification, StepFailed, replay_verifier
from statemachine.validate import validate
from statemachine.verification import Verification, VerificationState, console
from store.base import MAX_ATTEMPTS, Job

log = logging.getLogger("pve.stepfunctions")
CONTEXT = "stepfn-context.json"
MODELS = "stepfn-models.json"  # the model brain's Found


def verdict_blob(rank: int) -> str:
    return f"stepfn-verdict-{rank}.json"


class Flow(BaseModel):
    """The state between steps (a few hundred bytes, far below the 256 KB limit)."""

    job: int
    session: str = ""  # the verification in progress ("" when none)
    batch: list[int] = Field(default_factory=list)  # the ranks the next Map runs
    outcomes: list[bool] = Field(default_factory=list)  # settled the search (pve.models.settles)? ranks 0..n-1
    ranked: int = 0
    size: int = 3  # ranks per batch: the Map's MaxConcurrency
    search_started: float = 0.0  # epoch seconds
    first_verified_s: float | None = None  # from the session's start
    counted: int = 0  # ranks [0, counted) form the tried set once the search is over
    stop: str = ""  # why the search ended
    budget: tuple[int, float, int, int, float] = (400, 60.0, 3, 150, 20.0)  # candidates, seconds, window, extend after, extend seconds
    models: bool = False  # the model brain runs once the batches are over, if none was verified
    done: bool = False  # the job is over


class StartEvent(BaseModel):
    job: int = Field(ge=1)


class RankEvent(BaseModel):
    """One Map iteration's input."""

    session: str = Field(pattern=r"^[0-9a-f]{32}$")
    rank: int = Field(ge=0)


class FailedEvent(BaseModel):
    """The Catch's input: the state's input (a ``Flow``, or Start's ``{"job"}``) and the error."""

    job: int
    session: str = ""
    error: dict[str, Any] = Field(default_factory=dict)


class JobSource(Protocol):
    def get_job(self, job_id: int) -> Job | None: ...


@dataclass
class Engine:
    """What the steps use: the GitHub runtime (its services hold the remote sandbox and the
    DynamoDB + S3 store), the sandbox again with its type, and the job table."""

    runtime: AppRuntime
    sandbox: RemoteSandbox
    jobs: JobSource

    @property
    def services(self) -> Services:
        return self.runtime.services


# The console's numbers by step: steps run in separate functions (validate steps at once), so
# each writes its own range: prepare from 1, the candidate at rank r from (r + 1) * 1000, the
# models from 98,000,000, notify from 99,000,000. On this engine a session's console reads in
# step and rank order.
RANK_EVENTS = 1000
MODEL_EVENTS = 98_000_000  # ranks up to 97,998
NOTIFY_EVENTS = 99_000_000  # below EVENT#<8 digits>


def _events(engine: Engine, session_id: str, after: int) -> Fanout:
    return console(engine.services, session_id, after)


def _put(engine: Engine, session_id: str, name: str, model: BaseModel) -> None:
    engine.services.store.put_blob(session_id, name, model.model_dump_json().encode())


def _state(engine: Engine, session_id: str) -> VerificationState:
    data = engine.services.store.get_blob(session_id, CONTEXT)
    if data is None:
        raise LookupError(f"session {session_id}: no context (was it prepared?)")
    return VerificationState.model_validate_json(data)


def _restore(engine: Engine, session_id: str, after: int) -> Verification:
    """The verification where the last step left it, its project restored from the depot."""
    state = _state(engine, session_id)
    v = Verification.restore(state, engine.services, _events(engine, session_id, after))
    v.staged = engine.sandbox.restore(state.snapshot, state.files)
    return v


# ---------------------------------------------------------------------------- the handler


async def _replay(engine: Engine, job_id: int, failure: str | None = None) -> Flow:
    """Run the job's handler until it is over (done) or needs a verification (prepared)."""
    job = engine.jobs.get_job(job_id)
    if job is None:
        raise LookupError(f"job {job_id} is not in the store")
    # A copy: steps of other executions may share this engine (one per Lambda instance here,
    # but the tests and the replay benchmark run several executions in one process).
    rt = dataclasses.replace(engine.runtime)
    rt.verify = replay_verifier(rt.store, failure)
    if failure is not None:  # the handler's last attempt: its conversation tells the user
        job = dataclasses.replace(job, attempts=max(job.attempts, MAX_ATTEMPTS))
    try:
        await handle(job, rt)
    except NeedsVerification as need:
        return await prepare(engine, job_id, need.req, need.services)
    return Flow(job=job_id, done=True)


async def start(engine: Engine, event: dict[str, Any]) -> Flow:
    """Start (controller): the job's handler, up to its first verification, prepared."""
    return await _replay(engine, StartEvent.model_validate(event).job)


# ---------------------------------------------------------------------------- prepare


async def prepare(engine: Engine, job_id: int, req: VerifyRequest, svc: Services) -> Flow:
    """The verification's opening as on one machine, the baseline awaited (no candidate is
    judged before the Map, so every validate step has it), then a judged pull request, the
    cache's re-verified fix, or the offline engine's ranking for the batches."""
    settings, capped = limits.capped(svc.settings, req.timeout_s)  # Lambda's clocks (limits.py)
    svc = dataclasses.replace(svc, settings=settings)
    v = Verification.admit(req, svc)
    for note in capped:
        v.events.emit("limits", f"Note: {note}")
    v.snapshot = engine.sandbox.archive_of(v.stage())
    try:
        if await v.prepare() and await v.reproduce(baseline_first=True):
            if req.judge is not None:  # someone else's fix: judged here (two runs), not searched for
                await v.judge()
            else:
                await v.plan()
        v.session.notes.extend(capped)  # after prepare, which sets the analysis's notes
        state = v.state()
    finally:
        await v.close(release=False)
    _put(engine, v.session.id, CONTEXT, state)
    budget = (settings.max_candidates, settings.search_seconds, settings.search_window,
              settings.search_extend_after, settings.search_extend_seconds)
    flow = Flow(job=job_id, session=v.session.id, ranked=len(v.ranked), size=max(1, settings.slots),
                search_started=time.time(), budget=budget, models=v.models and v.found is not None)
    return _next(flow)


def _next(flow: Flow) -> Flow:
    batch = next_batch(flow.outcomes, flow.ranked, Budget(*flow.budget), flow.size, time.time() - flow.search_started,
                       any_verified=flow.first_verified_s is not None)
    return flow.model_copy(update={"batch": batch.ranks, "counted": batch.counted, "stop": batch.stop,
                                   "models": flow.models and not any(flow.outcomes)})


# ---------------------------------------------------------------------------- validate, tally


async def validate_rank(engine: Engine, event: dict[str, Any]) -> dict[str, Any]:
    """Validate (one Map iteration): one ranked candidate, its verdict stored under its rank."""
    parsed = RankEvent.model_validate(event)
    session_id, rank = parsed.session, parsed.rank
    state = _state(engine, session_id)
    if state.checks is None or not 0 <= rank < len(state.ranked):
        raise ValueError(f"session {session_id} has no candidate at rank {rank}")
    staged = engine.sandbox.restore(state.snapshot, state.files)
    try:
        verdict = await validate(state.ranked[rank], engine.sandbox, staged, state.checks,
                                 _events(engine, session_id, (rank + 1) * RANK_EVENTS))
    finally:
        engine.sandbox.cleanup(staged)
    _put(engine, session_id, verdict_blob(rank), verdict)
    return {"rank": rank, "verified": verdict.verified, "settles": settles(verdict)}


def tally(event: dict[str, Any]) -> Flow:
    """Tally (controller): the batch's outcomes in rank order, then the next batch or none."""
    results = sorted(event.pop("results", []) or [], key=lambda r: int(r["rank"]))
    flow = Flow.model_validate(event)
    if [int(r["rank"]) for r in results] != flow.batch:
        raise ValueError(f"the batch ran ranks {[r['rank'] for r in results]}, not {flow.batch}")
    outcomes = flow.outcomes + [bool(r.get("settles", r["verified"])) for r in results]
    first = flow.first_verified_s
    if first is None and any(r["verified"] for r in results):
        first = time.time() - flow.search_started
    return _next(flow.model_copy(update={"outcomes": outcomes, "first_verified_s": first}))


# ---------------------------------------------------------------------------- models


async def models(engine: Engine, event: dict[str, Any]) -> Flow:
    """Models (controller): the offline batches found nothing verified; the model brain's step,
    as ``pve serve`` runs it after the offline engine. Its calls go out from here (this function
    holds the keys); its reproduction and candidates run in the sandbox function."""
    flow = Flow.model_validate(event)
    v = _restore(engine, flow.session, MODEL_EVENTS)
    if v.checks is None:
        raise ValueError(f"session {flow.session} has nothing to search (no checks)")
    try:
        found = await v.ask_models(first_id=len(v.session.candidates) + flow.counted + 1)
    finally:
        await v.close(release=False)
    _put(engine, flow.session, MODELS, found)
    return flow.model_copy(update={"models": False})


# ---------------------------------------------------------------------------- notify, failed


async def notify(engine: Engine, event: dict[str, Any]) -> Flow:
    """Notify (notifier): the verdicts decided and proven, the session stored; then the handler
    again, which publishes it or asks for the next verification."""
    flow = Flow.model_validate(event)
    v = _restore(engine, flow.session, NOTIFY_EVENTS)
    try:
        if v.conclusion is None:
            if v.found is not None:
                verdicts = [_verdict(engine, v.session.id, rank) for rank in range(flow.counted)]
                first_ms = None
                if flow.first_verified_s is not None:
                    first_ms = (flow.search_started - v.started_wall + flow.first_verified_s) * 1000
                v.fold(searched(v.found, v.ranked, verdicts, flow.stop, (time.time() - flow.search_started) * 1000,
                                first_ms, v.events))
            asked = engine.services.store.get_blob(v.session.id, MODELS)
            if asked is not None:
                v.fold(Found.model_validate_json(asked))
        v.decide()
        v.prove()
    finally:
        await v.close(release=False)
    return await _replay(engine, flow.job)


def _verdict(engine: Engine, session_id: str, rank: int) -> Verdict:
    data = engine.services.store.get_blob(session_id, verdict_blob(rank))
    if data is None:
        raise LookupError(f"session {session_id}: no verdict for rank {rank}")
    return Verdict.model_validate_json(data)


async def failed(engine: Engine, event: dict[str, Any]) -> dict[str, Any]:
    """The Catch path: the session in progress is stored as failed (with the error), and the
    handler's last attempt tells the user; the machine then fails, so the execution shows it."""
    parsed = FailedEvent.model_validate(event)
    error, session_id = parsed.error, parsed.session
    said = f"{error.get('Error', 'States.TaskFailed')}: {_cause(error.get('Cause'))}"[:500]
    if session_id:
        store = engine.services.store
        data = store.get_blob(session_id, CONTEXT)
        session = (VerificationState.model_validate_json(data).session if data is not None else
                   Session(id=session_id, created_at=datetime.now(UTC).isoformat(timespec="seconds"), project=""))
        session.status, session.message = SessionStatus.FAILED, f"the AWS engine failed: {said}"
        store.put_session(session)
    try:
        # The stored failed session is published like any other; before any session, the
        # handler's conversation says it gave up. Best effort: GitHub may be what failed.
        await _replay(engine, parsed.job, failure=said)
    except StepFailed:
        pass
    except Exception:
        log.exception("job %s: telling the user of the failure failed too", parsed.job)
    return {"job": parsed.job, "session": session_id, "error": said}


def _cause(cause: Any) -> str:
    """A Lambda error's cause is JSON with ``errorMessage``; anything else, as it came."""
    if isinstance(cause, str):
        try:
            parsed = json.loads(cause)
        except ValueError:
            return cause
        if isinstance(parsed, dict):
            return str(parsed.get("errorMessage") or parsed)
    return str(cause)
