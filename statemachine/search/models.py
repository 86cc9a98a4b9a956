"""Search (``Verification.search``), with the models: when the offline engine found no verified fix (or first, with
``--brain models``).

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
import time
from functools import partial

from brain.intake.logtext import decode_log
from brain.models.categorize import classify
from brain.models.chain import CallLog, answers
from brain.models.edits import to_candidates
from brain.models.prompt import REPRO_FILE, PromptInput, build
from brain.models.providers import Provider, make
from pve.models import (
    BrainReport,
    Candidate,
    Checks,
    Found,
    Reproduction,
    ReproKind,
    RunMode,
    RunSpec,
    Verdict,
    settles,
)
from statemachine.search.budget import Budget, search
from statemachine.search.context import SearchContext
from statemachine.validate import candidate_timeout, validate
from statemachine.verdict import check_reproduction


async def model_search(ctx: SearchContext, first_id: int) -> Found:
    """The candidates the models proposed and their verdicts; ``Found.report`` says what was
    asked, answered and spent. The caller checks ``ctx.models.off_reason`` first."""
    t0 = time.monotonic()
    report = BrainReport()
    log = CallLog(report.calls)
    groq = make(ctx.models.categorizer) if ctx.models.categorizer else None
    generators = [make(p) for p in ctx.models.generators]
    try:
        found = await _ask(ctx, report, log, groq, generators, first_id)
    finally:
        for provider in [*generators, *([groq] if groq else [])]:
            with contextlib.suppress(Exception):  # a failed close must not hide the result
                await provider.aclose()
    found.report = report
    found.timings_ms["models"] = (time.monotonic() - t0) * 1000
    cost = report.cost_usd()
    tin, tout = report.tokens()
    ctx.events.emit("models", f"Models: {len(report.calls)} call(s), {tin} tokens in / {tout} out, "
                              f"cost {'unknown' if cost is None else f'${cost:.4f}'}")
    return found


def _untrusted_text(ctx: SearchContext) -> str | None:
    """What the user wrote (issue, log): data for the prompt, never instructions."""
    log_text = decode_log(ctx.req.error_log) if ctx.req.error_log is not None else None
    return "\n\n".join(x for x in (ctx.req.issue_text, log_text) if x) or None


async def _ask(ctx: SearchContext, report: BrainReport, log: CallLog, groq: Provider | None,
               generators: list[Provider], first_id: int) -> Found:
    config, events, staged, checks = ctx.models, ctx.events, ctx.staged, ctx.checks
    analysis = checks.analysis
    out = Found()
    code_line = analysis.failing_frame.code if analysis.failing_frame else None
    error_class, by = await classify(groq, analysis, code_line, log, max_retry_after_s=config.max_retry_after_s)
    report.error_class, report.classified_by = error_class.value, by
    events.emit("classify", f"Error class: {error_class.value} ({by})")

    marker = f"PVE-FIXED {secrets.token_hex(8)}"
    inp = PromptInput(analysis=analysis, error_class=error_class, repro=checks.repro, read=staged.read_text,
                      project_files=ctx.py_files, marker=marker, candidates=config.candidates,
                      untrusted_text=_untrusted_text(ctx))
    async for got in answers(generators, lambda p: build(inp, p.config.context_tokens), log,
                             max_retry_after_s=config.max_retry_after_s):
        label = got.provider.config.label()
        spec = RunSpec(mode=RunMode.SCRIPT, target=REPRO_FILE, patches={REPRO_FILE: got.answer.reproduction},
                       label=f"{label} reproduction")
        run = await ctx.sandbox.run(staged, spec)
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
        model_checks = checks.model_copy(update={
            "marker": marker, "model_repro_spec": spec.model_copy(update={"timeout_s": candidate_timeout(run)})})
        outcome = await search(cands, partial(_validate, ctx, model_checks),
                               parallel=ctx.settings.slots,
                               budget=Budget(len(cands), ctx.settings.search_seconds, window=len(cands)))
        out.candidates.extend(cands[: len(outcome.verdicts)])
        out.verdicts.extend(outcome.verdicts)
        if any(settles(v) for v in outcome.verdicts):
            break
    return out


async def _validate(ctx: SearchContext, checks: Checks, candidate: Candidate) -> Verdict:
    return await validate(candidate, ctx.sandbox, ctx.staged, checks, ctx.events, ctx.pending)
