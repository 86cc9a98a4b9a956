"""Step 5, search: validate ranked candidates in parallel until a budget or a verified fix.

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

from pve.models import Candidate, Verdict


@dataclass(frozen=True)
class Budget:
    max_candidates: int
    max_seconds: float
    window: int  # ranks tried after the first verified one, for the ranking


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
                if verdict.verified:
                    if first_s is None:
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
    if any(v.verified for v in verdicts):
        stop = "verified fix found"
    elif out_of_time:
        stop = f"time budget ({budget.max_seconds:.0f} s)"
    elif len(candidates) > budget.max_candidates:
        stop = f"candidate budget ({budget.max_candidates})"
    else:
        stop = "all candidates tried"
    return Outcome(verdicts, stop, first_s, next_i)
