"""Step 3, search with the offline engine: localize, rank the engine's candidates, and try them
in parallel sandboxes within the budgets (``statemachine.search``)."""

from __future__ import annotations

import time

from brain import repair
from brain.localize import Spectra, localize, spectra_from
from pve.events import Fanout
from pve.models import Candidate, Found, SearchSummary, Spectrum, Verdict
from statemachine.search import Budget, search
from statemachine.search_context import SearchContext
from statemachine.validate import validate


def offline_plan(ctx: SearchContext, first_id: int) -> tuple[list[Candidate], Found]:
    """Localize and rank the engine's candidates (ids from ``first_id``), and say so."""
    events, settings, staged = ctx.events, ctx.settings, ctx.staged
    t0 = time.monotonic()
    spectra, note = spectra_of(ctx.spectrum)
    suspects = localize(ctx.checks.analysis, spectra, ctx.editable, staged.read_text)
    # one past the budget, so the search can tell "budget reached" from "all tried"
    plan = repair.plan(ctx.checks.analysis, suspects, staged.read_text, ctx.editable, ctx.py_files,
                       limit=settings.max_candidates + 1)
    candidates = [c.model_copy(update={"id": first_id + i}) for i, c in enumerate(plan.candidates)]
    summary = SearchSummary(suspects=[f"{x.path}:{x.line} ({x.score:.2f}: {x.why})" for x in suspects[:10]],
                            spectra=note, proposed=plan.proposed, ranked=len(candidates))
    found = Found(summary=summary, timings_ms={"generate": (time.monotonic() - t0) * 1000})
    if suspects:
        top = ", ".join(f"{x.path}:{x.line}" for x in suspects[:3])
        events.emit("localize", f"Localized: {top} ({note})")
    events.emit("generate", f"Generated {len(candidates)} candidate{'s' if len(candidates) != 1 else ''} "
                            f"(offline engine, {len(suspects)} suspicious lines)")
    if not candidates:
        summary.stop = "no candidates"
    return candidates, found


async def offline_search(ctx: SearchContext, first_id: int) -> Found:
    candidates, found = offline_plan(ctx, first_id)
    if not candidates:
        return found
    settings = ctx.settings
    t1 = time.monotonic()
    outcome = await search(
        candidates, lambda c: validate(c, ctx.sandbox, ctx.staged, ctx.checks, ctx.events, ctx.pending),
        parallel=settings.slots, budget=Budget(settings.max_candidates, settings.search_seconds, settings.search_window))
    first_ms = (t1 - ctx.started + outcome.first_verified_s) * 1000 if outcome.first_verified_s is not None else None
    return searched(found, candidates, outcome.verdicts, outcome.stop, (time.monotonic() - t1) * 1000, first_ms,
                    ctx.events)


def searched(found: Found, candidates: list[Candidate], verdicts: list[Verdict], stop: str, validate_ms: float,
             first_verified_ms: float | None, events: Fanout) -> Found:
    """The tried prefix of the ranking and its verdicts into ``found``, with the search's account
    (one place for both engines: in-process and Step Functions)."""
    summary = found.summary
    assert summary is not None
    found.verdicts = verdicts
    found.candidates = candidates[: len(verdicts)]
    found.timings_ms["validate"] = validate_ms
    summary.tried = len(verdicts)
    summary.rejected = sum(1 for v in verdicts if not v.preflight.ok)
    summary.plausible = sum(1 for v in verdicts if v.verified or v.regression is not None)
    summary.stop = stop
    summary.first_verified_ms = first_verified_ms  # from the session's start
    events.emit("search", f"Tried {summary.tried} of {summary.ranked} candidates ({summary.rejected} rejected by "
                          f"preflight, {summary.plausible} passed the reproduction); stopped: {summary.stop}")
    return found


def spectra_of(spectrum: Spectrum) -> tuple[Spectra | None, str]:
    """The spectra localization ranks by, and one line on what it had."""
    if not spectrum.failing:
        return None, spectrum.note
    spectra = spectra_from(spectrum.coverages, set(spectrum.failing), set(spectrum.passing))
    return spectra, f"spectra of {len(spectra.failing)} failing / {len(spectra.passing)} passing tests"
