"""The search loop: rank order, bounded parallelism, budgets, early exit with a ranking window, determinism."""

from __future__ import annotations

import asyncio
import random

from pve.models import Candidate, FileEdit, Preflight, Verdict
from statemachine.search.budget import Budget, next_batch, search


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


def lockstep(n: int, verified: set[int], size: int, budget: Budget) -> tuple[list[list[int]], int, str]:
    """The search as Step Functions runs it: a batch of ``size``, then ``next_batch``."""
    outcomes: list[bool] = []
    batches = []
    while (batch := next_batch(outcomes, n, budget, size, elapsed_s=0.0)).ranks:
        batches.append(batch.ranks)
        outcomes += [r + 1 in verified for r in batch.ranks]
    return batches, batch.counted, batch.stop


def test_batches_try_the_same_ranks_and_stop_for_the_same_reason_as_the_streaming_search():
    rng = random.Random(7)
    for _ in range(60):
        n, size = rng.randint(0, 40), rng.randint(1, 4)
        verified = {i for i in range(1, n + 1) if rng.random() < 0.08}
        budget = Budget(max_candidates=rng.randint(1, 45), max_seconds=60, window=rng.randint(0, 4))
        batches, counted, stop = lockstep(n, verified, size, budget)
        streamed = asyncio.run(search(cands(n), FakeRuns(verified, delay=0.001), size, budget))
        assert counted == len(streamed.verdicts) and stop == streamed.stop, (n, size, verified, budget)
        assert all(len(b) <= size for b in batches)
        assert [r for b in batches for r in b][:counted] == list(range(counted))


def test_batches_end_on_the_time_budget_with_what_was_tried():
    budget = Budget(max_candidates=100, max_seconds=30, window=3)
    late = next_batch([False] * 6, 50, budget, 3, elapsed_s=31.0)
    assert (late.ranks, late.counted, late.stop) == ([], 6, "time budget (30 s)")
    found = next_batch([False, True, False], 50, budget, 3, elapsed_s=0.0)
    assert (found.ranks, found.stop) == ([3, 4], "")  # the window: ranks 2..4 after rank 1
    over = next_batch([False, True, False, False, False], 50, budget, 3, elapsed_s=0.0)
    assert (over.ranks, over.counted, over.stop) == ([], 5, "verified fix found")


def test_past_the_first_candidates_the_search_goes_on_only_while_it_is_quick():
    budget = Budget(max_candidates=400, max_seconds=60, window=3, extend_after=150, extend_seconds=20)
    assert next_batch([False] * 120, 900, budget, 3, elapsed_s=25.0).ranks == [120, 121, 122]  # the first 150: 60 s
    slow = next_batch([False] * 150, 900, budget, 3, elapsed_s=25.0)
    assert (slow.ranks, slow.counted, slow.stop) == ([], 150, "time budget past 150 candidates (20 s)")
    assert next_batch([False] * 150, 900, budget, 3, elapsed_s=8.0).ranks == [150, 151, 152]  # quick: deeper
    assert next_batch([False] * 400, 900, budget, 3, elapsed_s=8.0).stop == "candidate budget (400)"


class PlausibleRuns(FakeRuns):
    """Plausible (passed the reproduction only) for the given ids; a workaround for others."""

    def __init__(self, plausible: set[int], workaround: set[int] = frozenset(), verified: set[int] = frozenset()):
        super().__init__(verified=set(verified))
        self.plausible, self.workaround = plausible, workaround

    async def __call__(self, c: Candidate) -> Verdict:
        v = await super().__call__(c)
        if c.id in self.plausible | self.workaround:
            v.plausible, v.reason = True, "plausible, not verified: no test that passed before runs the edited code"
            v.preflight = Preflight(ok=True, workaround=["deletes a control statement"] if c.id in self.workaround else [])
        return v


def test_a_plausible_fix_ends_the_search_after_its_window_and_a_workaround_does_not():
    out = run(cands(40), PlausibleRuns(plausible={5}), window=3)
    assert [v.candidate_id for v in out.verdicts] == list(range(1, 9))
    assert out.stop.startswith("plausible fix found") and out.first_verified_s is None
    # a workaround never settles the search; a verified fix inside the window still wins it
    out = run(cands(40), PlausibleRuns(plausible=set(), workaround={5}), window=3)
    assert len(out.verdicts) == 40 and out.stop == "all candidates tried"
    out = run(cands(40), PlausibleRuns(plausible={5}, verified={7}), window=3)
    assert out.stop == "verified fix found" and len(out.verdicts) == 8
