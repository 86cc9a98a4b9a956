"""Background runs (the baseline): slots of their own at the least CPU weight, until someone
waits for them. Measured with real sandboxes spinning on this machine's cores."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from pve.models import RunMode, RunSpec
from pve.settings import SandboxSettings
from sandbox.bwrap import BubblewrapSandbox
from statemachine.pending import PendingOracle

pytestmark = pytest.mark.sandbox

# Spins until the deadline it is given (the host's clock: the sandbox shares it), then prints the
# CPU time it got.
SPIN = "import sys, time\nwhile time.time() < float(sys.argv[1]):\n    pass\nprint(time.process_time())\n"


@pytest.fixture(scope="module")
def sandbox() -> BubblewrapSandbox:
    sb = BubblewrapSandbox(SandboxSettings(timeout_s=30.0), slots=os.cpu_count() or 2)
    if not sb.background_slots:
        pytest.fail(f"no background slots here: {sb.cgroups.describe()} (PVE runs as root with cgroups in CI)")
    return sb


@pytest.fixture
def staged(sandbox, tmp_path):
    (tmp_path / "spin.py").write_text(SPIN)
    st = sandbox.stage(tmp_path)
    yield st
    sandbox.cleanup(st)


def race(sandbox, staged, hurry_after: float | None) -> tuple[float, list[float]]:
    """One background spinner beside one foreground spinner per core, all until the same
    deadline: (the CPU seconds the background one got, those each foreground one got)."""
    deadline = time.time() + 3.0
    spin = RunSpec(mode=RunMode.SCRIPT, target="spin.py", argv=[repr(deadline)])

    async def go():
        background = asyncio.ensure_future(sandbox.run(staged, spin.model_copy(update={"background": True})))
        foreground = [asyncio.ensure_future(sandbox.run(staged, spin)) for _ in range(os.cpu_count() or 2)]
        if hurry_after is not None:
            await asyncio.sleep(hurry_after)
            sandbox.hurry(staged)
        runs = [await background, *(await asyncio.gather(*foreground))]
        assert all(r.exit_code == 0 for r in runs), [r.stderr for r in runs]
        cpu = [float(r.stdout.split()[0]) for r in runs]
        return cpu[0], cpu[1:]

    return asyncio.run(go())


def test_a_background_run_waits_while_the_cores_are_busy(sandbox, staged):
    background, foreground = race(sandbox, staged, hurry_after=None)
    # at the least weight it got next to nothing while every core was spinning for someone else
    assert background < 0.2 * min(foreground), (background, foreground)


def test_once_hurried_it_goes_first(sandbox, staged):
    background, foreground = race(sandbox, staged, hurry_after=0.3)
    assert background > max(foreground), (background, foreground)


def test_a_candidate_waiting_for_the_baseline_hurries_it():
    """statemachine/pending.py: waiting for an unfinished baseline hurries it; a finished one is
    not hurried (nothing runs)."""
    called: list[str] = []

    async def go(wait_first: bool):
        async def baseline():
            await asyncio.sleep(0.05)
        pending = PendingOracle(asyncio.ensure_future(baseline()), lambda: called.append("hurry"))  # type: ignore[arg-type]
        if wait_first:
            await pending.task
        await pending.result()

    asyncio.run(go(wait_first=True))
    assert called == []
    asyncio.run(go(wait_first=False))
    assert called == ["hurry"]
