"""Step 3b: ask the models, when the offline engine found no verified fix (or ``--brain models``).

Groq (or the offline classifier) names the error class; the generator chain (Gemini, then
DeepSeek, then a self-hosted endpoint, as configured) is asked for a reproduction script and
candidate fixes. Nothing a model says is trusted:

- its reproduction must itself fail on the original code with the reported exception, in the
  reported frame, and must not already print the success marker, before any candidate counts;
- its edits must apply exactly or by one unambiguous fuzzy match, and compile;
- each candidate then passes preflight, PVE's own reproduction, the model's reproduction (exit
  0 and the marker line), and the regression suite, all in the sandbox.

The next provider is asked only when the previous one gave nothing verified.
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass, field, replace

from brain.categorize import classify
from brain.chain import CallLog, answers
from brain.edits import to_candidates
from brain.prompt import REPRO_FILE, PromptInput, build
from brain.providers import Provider, make
from pve.models import BrainReport, Candidate, Reproduction, ReproKind, RunMode, RunSpec, Verdict
from sandbox.backend import StagedProject
from statemachine.decide import check_reproduction
from statemachine.search import Budget, search
from statemachine.services import Services
from statemachine.validate import Checks, candidate_timeout, validate


@dataclass
class ModelOutcome:
    candidates: list[Candidate] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)


async def ask_models(svc: Services, staged: StagedProject, checks: Checks, report: BrainReport, *,
                     project_files: list[str], untrusted_text: str | None,
                     first_id: int) -> ModelOutcome:
    config = svc.models
    log = CallLog(report.calls)
    groq = make(config.categorizer) if config.categorizer else None
    generators = [make(p) for p in config.generators]
    try:
        return await _ask(svc, staged, checks, report, log, groq, generators, project_files, untrusted_text, first_id)
    finally:
        for provider in [*generators, *([groq] if groq else [])]:
            with contextlib.suppress(Exception):  # a failed close must not hide the result
                await provider.aclose()


async def _ask(svc: Services, staged: StagedProject, checks: Checks, report: BrainReport, log: CallLog,
               groq: Provider | None, generators: list[Provider], project_files: list[str],
               untrusted_text: str | None, first_id: int) -> ModelOutcome:
    config = svc.models
    events = svc.events
    analysis = checks.analysis
    out = ModelOutcome()
    code_line = analysis.failing_frame.code if analysis.failing_frame else None
    error_class, by = await classify(groq, analysis, code_line, log, max_retry_after_s=config.max_retry_after_s)
    report.error_class, report.classified_by = error_class.value, by
    events.emit("classify", f"Error class: {error_class.value} ({by})")

    marker = f"PVE-FIXED {secrets.token_hex(8)}"
    inp = PromptInput(analysis=analysis, error_class=error_class, repro=checks.repro, read=staged.read_text,
                      project_files=project_files, marker=marker, candidates=config.candidates,
                      untrusted_text=untrusted_text)
    async for got in answers(generators, lambda p: build(inp, p.config.context_tokens), log,
                             max_retry_after_s=config.max_retry_after_s):
        label = got.provider.config.label()
        spec = RunSpec(mode=RunMode.SCRIPT, target=REPRO_FILE, patches={REPRO_FILE: got.answer.reproduction},
                       label=f"{label} reproduction")
        run = await svc.sandbox.run(staged, spec)
        model_repro = Reproduction(kind=ReproKind.SCRIPT, target=REPRO_FILE, files=[REPRO_FILE],
                                   derived_from=f"model: {label}")
        ok, why = check_reproduction(run, model_repro, analysis)
        if ok and marker in run.stdout.splitlines():
            ok, why = False, "it prints the success marker on the original code"
        report.notes.append(f"{label} reproduction {'verified: ' if ok else 'rejected: '}{why}")
        events.emit("reproduce", f"Checking {label}'s reproduction in sandbox {run.sandbox_id}...",
                    "FAILED as reported" if ok else "REJECTED", detail=why)
        if not ok:
            continue
        cands, dropped = to_candidates(got.answer.candidates[: config.candidates], staged.read_text,
                                       source=label, first_id=first_id + len(out.candidates))
        report.notes.extend(dropped)
        events.emit("generate", f"Generated {len(cands)} candidate{'s' if len(cands) != 1 else ''} ({label}"
                                + (f", {len(dropped)} dropped" if dropped else "") + ")")
        if not cands:
            continue
        model_checks = replace(checks, marker=marker,
                               model_repro_spec=spec.model_copy(update={"timeout_s": candidate_timeout(run)}))
        outcome = await search(cands, lambda c, mc=model_checks: validate(c, svc.sandbox, staged, mc, events),
                               parallel=svc.settings.slots,
                               budget=Budget(len(cands), svc.settings.search_seconds, window=len(cands)))
        out.candidates.extend(cands[: len(outcome.verdicts)])
        out.verdicts.extend(outcome.verdicts)
        if any(v.verified for v in outcome.verdicts):
            break
    return out
