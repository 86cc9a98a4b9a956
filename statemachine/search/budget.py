"""Search, its batches and budgets: validate ranked candidates in parallel until a budget or a verified fix.

Candidates start in rank order, as many at once as the sandbox has slots. When one is
verified, the search keeps going only for ``window`` more ranks (so the winner is picked among
near neighbours: faster, smaller) and then stops. The set of candidates counted is always the
prefix ``[0, first verified + window]`` of the ranking, whatever order the runs finished in, so
a given input gives the same tried set and the same winner on any machine; only the seconds
budget, which stops launching new candidates, depends on the machine's speed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from pve.models import Candidate, Verdict, settles


@dataclass(frozen=True)
class Budget:
    max_candidates: int
    max_seconds: float
    window: int  # ranks tried after the first verified one, for the ranking
    # Past the first ``extend_after`` candidates, none starts once ``extend_seconds`` have gone:
    # where candidates are cheap (plain tests screened directly, ~10 ms) the search goes deep,
    # where each costs a third of a second (a large package) it ends about where it used to.
    extend_after: int | None = None
    extend_seconds: float | None = None

    def extended_too_long(self, started: int, elapsed_s: float) -> bool:
        return self.extend_after is not None and self.extend_seconds is not None \
            and started >= self.extend_after and elapsed_s > self.extend_seconds


@dataclass
class Outcome:
    verdicts: list[Verdict]
    stop: str  # why the search ended
    first_verified_s: float | None  # seconds from the search's start to the first verified fix
    launched: int  # runs started, including any past the window that were not counted


async def search(candidates: list[Candidate], validate: Callable[[Candidate], Coroutine[Any, Any, Verdict]],
                 parallel: int, budget: Budget) -> Outcome:
    t0 = time.monotonic()
    bound = min(len(candidates), budget.max_candidates) - 1
    results: dict[int, Verdict] = {}
    running: dict[asyncio.Task[Verdict], int] = {}
    first_s: float | None = None
    next_i = 0
    out_of_time = False
    try:
        while True:
            while len(running) < max(1, parallel) and next_i <= bound:
                if time.monotonic() - t0 > budget.max_seconds:
                    out_of_time = True
                    break
                running[asyncio.create_task(validate(candidates[next_i]))] = next_i
                next_i += 1
            if not running:
                break
            done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in sorted(done, key=lambda t: running[t]):
                i = running.pop(task)
                if task.cancelled():  # past the window (below): never counted
                    continue
                verdict = task.result()
                results[i] = verdict
                if settles(verdict):
                    if first_s is None and verdict.verified:
                        first_s = time.monotonic() - t0
                    bound = min(bound, i + budget.window)
            # Runs started before the window closed on them are no longer needed: cancelled,
            # their sandboxes go down at once (a cancelled run kills its sandbox and waits for
            # it, sandbox/bwrap.py) instead of holding the session for a verdict never counted.
            # Once each: a second cancel() would cut short the sandbox's own wait for its end.
            for task, i in running.items():
                if i > bound and not task.cancelling():
                    task.cancel()
    finally:
        # Every run is awaited to its end: none is left running unobserved.
        if running:
            await asyncio.gather(*running, return_exceptions=True)
    verdicts = [results[i] for i in sorted(results) if i <= bound]
    return Outcome(verdicts, stop_reason(any(v.verified for v in verdicts), out_of_time, len(candidates), budget,
                                         plausible=any(settles(v) for v in verdicts)),
                   first_s, next_i)


def stop_reason(verified: bool, out_of_time: bool, ranked: int, budget: Budget, extended: bool = False,
                plausible: bool = False) -> str:
    if verified:
        return "verified fix found"
    if plausible:
        return "plausible fix found (nothing verified within the window after it)"
    if extended:
        return f"time budget past {budget.extend_after} candidates ({budget.extend_seconds:.0f} s)"
    if out_of_time:
        return f"time budget ({budget.max_seconds:.0f} s)"
    if ranked > budget.max_candidates:
        return f"candidate budget ({budget.max_candidates})"
    return "all candidates tried"


@dataclass(frozen=True)
class Batch:
    ranks: list[int]  # the next ranks to run, all at once; empty: the search is over
    counted: int  # ranks [0, counted) are the search's tried set
    stop: str  # why it is over ("" while it goes on)


def next_batch(verified: list[bool], ranked: int, budget: Budget, size: int, elapsed_s: float,
               any_verified: bool | None = None) -> Batch:
    """The same search in lock-step batches, for an engine that runs a batch and then decides
    (Step Functions: a Map of ``size`` runs, then this): ``verified`` holds, for ranks
    ``[0, len(verified))``, whether each settled the search (``pve.models.settles``). The tried set and the winner are those of ``search`` for the
    same ranking, as the window is counted in ranks, not in finishing order. ``any_verified``:
    whether a settling rank was verified (else plausible), for the stop's words."""
    bound = min(ranked, budget.max_candidates) - 1
    first = next((i for i, ok in enumerate(verified) if ok), None)
    if first is not None:
        bound = min(bound, first + budget.window)
    start = len(verified)
    verified_first = first is not None and any_verified is not False
    plausible_first = first is not None and any_verified is False
    if start > bound:
        return Batch([], bound + 1, stop_reason(verified_first, False, ranked, budget, plausible=plausible_first))
    if elapsed_s > budget.max_seconds or budget.extended_too_long(start, elapsed_s):
        return Batch([], start, stop_reason(verified_first, True, ranked, budget,
                                            extended=elapsed_s <= budget.max_seconds, plausible=plausible_first))
    return Batch(list(range(start, min(bound, start + max(1, size) - 1) + 1)), start, "")
