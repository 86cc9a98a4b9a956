"""The search loop: rank order, bounded parallelism, budgets, early exit with a ranking window, determinism."""

from __future__ import annotations

import asyncio
import random

from pve.models import Candidate, FileEdit, Preflight, Verdict
from statemachine.search import Budget, search


def cands(n: int) -> list[Candidate]:
    return [Candidate(id=i, rule="r", rationale="", edits=[FileEdit(path="a.py", new_text=str(i))]) for i in range(1, n + 1)]


class FakeRuns:
    """validate() stand-in: verified for the given ids, random run times, records concurrency."""

    def __init__(self, verified: set[int], seed: int = 0, delay: float = 0.01):
        self.verified = verified
        self.rng = random.Random(seed)
        self.delay = delay
        self.started: list[int] = []
        self.running = 0
        self.peak = 0

    async def __call__(self, c: Candidate) -> Verdict:
        self.started.append(c.id)
        self.running += 1
        self.peak = max(self.peak, self.running)
        await asyncio.sleep(self.rng.uniform(0, self.delay))
        self.running -= 1
        ok = c.id in self.verified
        return Verdict(candidate_id=c.id, verified=ok, reason="verified" if ok else "failed", preflight=Preflight(ok=True))


def run(candidates, fake, parallel=3, max_candidates=100, max_seconds=60.0, window=3):
    return asyncio.run(search(candidates, fake, parallel, Budget(max_candidates, max_seconds, window)))


def test_starts_in_rank_order_and_never_exceeds_the_parallelism():
    fake = FakeRuns(verified=set())
    out = run(cands(20), fake, parallel=3)
    assert fake.started == list(range(1, 21))
    assert fake.peak <= 3
    assert [v.candidate_id for v in out.verdicts] == list(range(1, 21))
    assert out.stop == "all candidates tried"


def test_stops_after_the_window_past_the_first_verified_fix():
    fake = FakeRuns(verified={6, 12})
    out = run(cands(40), fake, window=3)
    assert [v.candidate_id for v in out.verdicts] == list(range(1, 10))  # ranks 1..6 and 3 more
    assert out.stop == "verified fix found"
    assert out.first_verified_s is not None
    assert max(fake.started) <= 9 + 2  # at most the runs already in flight went past it


def test_the_tried_set_does_not_depend_on_which_run_finished_first():
    seen = set()
    for seed in range(8):
        out = run(cands(30), FakeRuns(verified={5, 7}, seed=seed, delay=0.02), window=2)
        seen.add(tuple(v.candidate_id for v in out.verdicts))
    assert seen == {tuple(range(1, 8))}  # 1..5, then the 2-rank window


def test_candidate_budget():
    out = run(cands(50), FakeRuns(verified={45}), max_candidates=10)
    assert len(out.verdicts) == 10
    assert out.stop == "candidate budget (10)"


def test_time_budget_stops_new_runs_but_finishes_started_ones():
    fake = FakeRuns(verified=set(), delay=0.05)
    out = run(cands(200), fake, parallel=2, max_seconds=0.12)
    assert out.stop.startswith("time budget")
    assert 2 <= len(out.verdicts) < 200
    assert len(out.verdicts) == len(fake.started)  # nothing launched was dropped or left running


def test_window_zero_stops_at_the_first_verified_rank():
    out = run(cands(10), FakeRuns(verified={1}), window=0)
    assert [v.candidate_id for v in out.verdicts] == [1]
