"""Search (``Verification.search``), with the offline engine: localize, rank the engine's candidates, and try them
in parallel sandboxes within the budgets (``statemachine.search.budget``)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from brain.offline import rank
from brain.offline.localize import Spectra, localize, spectra_from
from pve.events import Fanout
from pve.models import Candidate, Found, ReproKind, SearchSummary, Spectrum, Verdict, settles
from statemachine import spectrum
from statemachine.reproduce import coverage_run_spec
from statemachine.search.budget import Budget, search, stop_reason
from statemachine.search.context import SearchContext
from statemachine.stones import Stone, combine, overlay, remap, stone_of
from statemachine.validate import validate


def offline_plan(ctx: SearchContext, first_id: int) -> tuple[list[Candidate], Found]:
    """Localize and rank the engine's candidates (ids from ``first_id``), and say so."""
    events, settings, staged = ctx.events, ctx.settings, ctx.staged
    t0 = time.monotonic()
    spectra, note = spectra_of(ctx.spectrum)
    suspects = localize(ctx.checks.analysis, spectra, ctx.editable, staged.read_text)
    # one past the budget, so the search can tell "budget reached" from "all tried"
    plan = rank.plan(ctx.checks.analysis, suspects, staged.read_text, ctx.editable, ctx.py_files,
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
    budget = Budget(settings.max_candidates, settings.search_seconds, settings.search_window,
                    settings.search_extend_after, settings.search_extend_seconds)
    rounds = _Rounds(ctx, candidates, first_id + len(candidates), spectra_of(ctx.spectrum)[0],
                     stones_until=t1 + STONES_SHARE * budget.max_seconds)
    tried: list[Candidate] = []
    verdicts: list[Verdict] = []
    first_s: float | None = None
    try:
        stop, first_s = await _run_rounds(ctx, rounds, budget, t1, tried, verdicts)
    finally:
        await rounds.close()
    assert found.summary is not None  # offline_plan made it
    found.summary.ranked = rounds.ranked
    first_ms = (t1 - ctx.started + first_s) * 1000 if first_s is not None else None
    return searched(found, tried, verdicts, stop, (time.monotonic() - t1) * 1000, first_ms, ctx.events)


async def _run_rounds(ctx: SearchContext, rounds: _Rounds, budget: Budget, t1: float, tried: list[Candidate],
                      verdicts: list[Verdict]) -> tuple[str, float | None]:
    """Round after round until a verified fix or a budget: (why it stopped, seconds to the fix)."""
    settings = ctx.settings
    first_s: float | None = None
    while True:
        left, elapsed = budget.max_candidates - len(verdicts), time.monotonic() - t1
        if left <= 0 or elapsed > budget.max_seconds:
            stop = stop_reason(False, elapsed > budget.max_seconds, budget.max_candidates + 1, budget)
            break
        if budget.extended_too_long(len(verdicts), elapsed):
            stop = stop_reason(False, True, budget.max_candidates + 1, budget, extended=True)
            break
        if budget.extend_after is not None and len(verdicts) < budget.extend_after:
            left = min(left, budget.extend_after - len(verdicts))  # a round ends at the line, to check the clock
        batch, depth = await rounds.next(left)
        if not batch:
            stop = "all candidates tried"
            break
        outcome = await search(batch, lambda c: validate(c, ctx.sandbox, ctx.staged, ctx.checks, ctx.events, ctx.pending),
                               parallel=settings.slots,
                               budget=Budget(len(batch), budget.max_seconds - elapsed, budget.window))
        tried += batch[: len(outcome.verdicts)]
        verdicts += outcome.verdicts
        if outcome.first_verified_s is not None:
            first_s = elapsed + outcome.first_verified_s
            stop = outcome.stop
            break
        if any(settles(v) for v in outcome.verdicts):
            stop = outcome.stop  # a plausible fix and its window: a deeper search finds fits, not fixes
            break
        if outcome.stop.startswith("time"):
            stop = stop_reason(False, True, budget.max_candidates + 1, budget)  # the session's budget, not the round's rest
            break
        rounds.learn(batch, outcome.verdicts, depth)
    return stop, first_s


# The rounds (statemachine/stones.py says why): the ranking's first FIRST_ROUND candidates hold
# most single-edit fixes; after them, two rounds of STONE_ROUND go to the stepping stones (a new
# stone, best first, or else the stone with the fewest rounds so far) for each round of ROUND of
# the rest of the ranking; up to MAX_DEPTH steps and MAX_STONES stones a session. A stone's
# next step is usually among its first candidates (its new failure localizes sharply), so its
# rounds are short and many stones get one.
FIRST_ROUND = 40
ROUND = 20
STONE_ROUND = 15
MAX_DEPTH = 3
MAX_STONES = 10
PREFETCH = 2  # stones whose coverage run and plan are computed ahead, beside the rounds
# Measured on real repositories (benchmarks/realworld.py, more-itertools): stones there led nowhere
# and their candidates took no-fix sessions that used to end when the ranking ran out (~50
# candidates, 8-27 s) to the whole budget (150, 34-66 s). Multi-fault code is small code
# (exercises, scripts, snippets): stones are searched where the editable code is at most
# SMALL_LINES lines and the reproduction is quick, and new ones only in the first STONES_SHARE of
# the search's seconds.
STONES_SHARE = 0.4
CHEAP_RUN_MS = 1000.0
SMALL_LINES = 2000


@dataclass
class _Source:
    candidates: list[Candidate]
    depth: int  # of its candidates: 0 for the ranking, 1 for a stone's
    at: int = 0
    rounds: int = 0
    stone: Stone | None = None

    def take(self, n: int) -> list[Candidate]:
        batch = self.candidates[self.at:self.at + n]
        self.at += len(batch)
        self.rounds += 1
        return batch

    @property
    def left(self) -> int:
        return len(self.candidates) - self.at


class _Rounds:
    """Which candidates run next: deterministic for a given input (the order of rounds depends
    only on the verdicts, which are the ranking's prefixes)."""

    def __init__(self, ctx: SearchContext, ranking: list[Candidate], next_id: int, spectra: Spectra | None, *,
                 stones_until: float) -> None:
        self.ctx, self.spectra, self.next_id = ctx, spectra, next_id
        self.stones_until = stones_until  # time.monotonic() after which no new stone is taken
        self.stones_on = ctx.checks.before.duration_ms <= CHEAP_RUN_MS and _editable_lines(ctx) <= SMALL_LINES
        self.ranking = _Source(ranking, 0)
        self.stones: list[Stone] = []  # found, not yet expanded
        self.expanded: list[_Source] = []
        self.turn = 0
        self.ranked = len(ranking)
        self.seen = {_key(c) for c in ranking}
        self.parents: dict[int, Stone] = {}  # combined candidate id -> the stone it stands on
        self.planned: dict[int, asyncio.Future[list[Candidate]]] = {}  # id(stone) -> its steps, computed ahead

    async def next(self, left: int) -> tuple[list[Candidate], int]:
        """The next round (and the depth its candidates are at)."""
        self.turn += 1
        stone = await self._stone_source() if self.turn % 3 != 1 or not self.ranking.left else None
        source = stone or (self.ranking if self.ranking.left else await self._stone_source())
        if source is None:
            return [], 0
        size = STONE_ROUND if source is not self.ranking else FIRST_ROUND if self.turn == 1 else ROUND
        return source.take(min(left, size)), source.depth

    def learn(self, batch: list[Candidate], verdicts: list[Verdict], depth: int) -> None:
        """Stepping stones among a round's rejected candidates."""
        if depth >= MAX_DEPTH or not self.stones_on:
            return
        for c, v in zip(batch, verdicts, strict=False):
            stone = stone_of(c, v, self.ctx.checks, self.ctx.staged.read_text, depth + 1, self.parents.get(c.id))
            if stone is not None:
                self.stones.append(stone)
        self.stones.sort(key=lambda s: s.key)
        self._prefetch()

    def _prefetch(self) -> None:
        """Start the next stones' coverage runs (and then their planning) now, beside the rounds
        that run meanwhile: done one after another between rounds, ten stones' runs (~0.2 s
        each) left every slot idle for seconds of a search whose candidates cost ~10 ms.
        Only what a stone's candidates are is computed ahead (it depends on the stone alone);
        which round runs when is decided as before, so the search is the same."""
        room = MAX_STONES - len(self.expanded)
        for stone in self.stones[:max(0, min(PREFETCH, room))]:
            if id(stone) not in self.planned and time.monotonic() < self.stones_until:
                self.planned[id(stone)] = asyncio.ensure_future(self._steps(stone))

    async def close(self) -> None:
        """Stop planning nobody will use (a cancelled coverage run kills its sandbox) and wait for it."""
        for task in self.planned.values():
            if not task.done():
                task.cancel()
        await asyncio.gather(*self.planned.values(), return_exceptions=True)

    async def _stone_source(self) -> _Source | None:
        """A new stone's candidates (best first), or else the stone with the fewest rounds."""
        while self.stones and len(self.expanded) < MAX_STONES and time.monotonic() < self.stones_until:
            source = await self._expand(self.stones.pop(0))
            if source.left:
                return source
        waiting = [s for s in self.expanded if s.left]
        if not waiting:
            return None
        # Rounds by merit: the k-th best stone waits until it has k rounds fewer than the best
        # one (a stone that fixed one fault of two usually moves the values most, and its next
        # step may sit ~70 deep in its own ranking; equal turns gave it 1 round in 10).
        order = {id(x): k for k, x in enumerate(sorted(waiting, key=lambda x: x.stone.key if x.stone else ()))}
        return min(waiting, key=lambda x: (x.rounds + order[id(x)], order[id(x)]))

    async def _steps(self, stone: Stone) -> list[Candidate]:
        """The candidates of a search on the stone's code (each a step from the stone)."""
        ctx = self.ctx
        on_stone = overlay(ctx.staged.read_text, stone.candidate)
        analysis = stone.analysis or ctx.checks.analysis
        spectra = await self._spectra_on(stone)
        # Planning stays on the event loop: CPython 3.11's parser is not safe in a second thread
        # beside another parse ("AST constructor recursion depth mismatch", measured here).
        suspects = localize(analysis, spectra, ctx.editable, on_stone)
        return rank.plan(analysis, suspects, on_stone, ctx.editable, ctx.py_files, limit=ctx.settings.max_candidates).candidates

    async def _expand(self, stone: Stone) -> _Source:
        ctx, read = self.ctx, self.ctx.staged.read_text
        task = self.planned.pop(id(stone), None)
        steps = await task if task is not None else await self._steps(stone)
        self._prefetch()
        children = []
        for step in steps:
            c = combine(stone.candidate, step, read, self.next_id)
            if _key(c) in self.seen:
                continue
            self.seen.add(_key(c))
            self.next_id += 1
            self.parents[c.id] = stone
            children.append(c)
        source = _Source(children, stone.depth, stone=stone)
        self.expanded.append(source)
        self.ranked += len(children)
        ctx.events.emit("search", f"Stepping stone: candidate {stone.candidate.id} ({stone.candidate.rule}): "
                                  f"{stone.describe()}; searching again from it ({len(children)} candidates, "
                                  f"step {stone.depth + 1})")
        return source


    async def _spectra_on(self, stone: Stone) -> Spectra | None:
        """Coverage of what still fails, run on the stone's code: lines the first fault kept from
        running (the next fault is often there) now have spectra. Passing tests keep the
        original's coverage, moved to the stone's lines."""
        ctx = self.ctx
        moved = remap(self.spectra, stone.candidate, ctx.staged.read_text)
        repro, run = ctx.checks.repro, stone.candidate_run
        patches = {**{e.path: e.new_text for e in stone.candidate.edits}, **ctx.checks.repro_spec.patches}
        seconds = ctx.settings.sandbox.timeout_s
        if repro.kind is ReproKind.PYTEST:
            failing = sorted(t for t, o in (run.record.outcomes if run else {}).items() if o != "passed")
            if not failing:
                return moved
            spec = spectrum.coverage_spec(failing, repro, seconds, after=run)
        else:
            failing = ["<run>"]
            traced = coverage_run_spec(repro)
            if traced is None:
                return moved
            spec = traced
        spec = spec.model_copy(update={"patches": patches, "label": "coverage (stepping stone)"})
        # Coverage is advisory (it orders candidates, never judges one): the slot's warm server
        # may trace it, at a tenth of a fresh run's cost; a fresh run if it cannot.
        screened = await ctx.sandbox.screen(ctx.staged, spec.model_copy(update={"wall_s": None, "timeout_s": seconds}))
        traced_run = screened if screened is not None and screened.record.coverage is not None \
            else await ctx.sandbox.run(ctx.staged, spec)
        fresh = spectra_from([traced_run.record.coverage], set(failing), set())
        if not fresh.failing:
            return moved
        return Spectra(failing=fresh.failing, passing=moved.passing if moved else [])


def _editable_lines(ctx: SearchContext) -> int:
    total = 0
    for path in ctx.py_files:
        if ctx.editable(path):
            try:
                total += ctx.staged.read_text(path).count("\n")
            except (FileNotFoundError, UnicodeDecodeError):
                continue
        if total > SMALL_LINES:
            break
    return total


def _key(c: Candidate) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((e.path, e.new_text) for e in c.edits))


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
    summary.plausible = sum(1 for v in verdicts if v.verified or v.plausible or v.regression is not None)
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
