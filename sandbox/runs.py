"""What every backend does around one run, whatever isolates it: the patch paths checked, the
harness's record read and its nonce checked (outside the run), the command shown."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable
from pathlib import Path

from pve.errors import BadInput
from pve.models import HarnessRecord, RunSpec
from sandbox.capture import Capture

RESULT_CAP = 4 << 20  # the harness's record (outcomes, coverage): more is a run gone wrong


def parse_record(res: Capture, nonce: str) -> tuple[HarnessRecord, bool]:
    if not res.total or res.truncated:
        return HarnessRecord(), False
    try:
        raw = json.loads(bytes(res.head + res.tail))
        ok = secrets.compare_digest(str(raw.pop("nonce", "")), nonce)
        record = HarnessRecord.model_validate({**raw, "completed": ok})
    except (ValueError, TypeError):
        return HarnessRecord(), False
    return record, ok


def inside_project(patches: dict[str, str]) -> None:
    """Every patched path is relative and stays inside the project (fresh runs and screens alike)."""
    for rel in patches:
        parts = Path(rel).parts
        if Path(rel).is_absolute() or ".." in parts or not parts:
            raise BadInput(f"a candidate tried to write outside the project: {rel!r}")


def test_seconds(spec: RunSpec, wall_s: float, run_s: float) -> float | None:
    """How long one pytest test may run before the harness stops it with a ``TimeoutError``
    raised where it is (an endless loop is a failure with a traceback, and the other tests still
    run). The spec's own limit if it sets a tighter one; else half the run's wall clock for the
    reproduction and the candidates' runs, and for runs with a clock of their own (the baseline,
    regression and coverage runs, ``wall_s``) what one test may take in a reproduction (half of
    ``run_s``, the sandbox's timeout): a test slower than that could not pass in a candidate's
    reproduction either, and one that loops no longer costs the baseline or the coverage run
    its whole clock (a wrong-answer bug that loops in three tests took the coverage run to its
    60 s and left localization without spectra)."""
    if spec.mode.value != "pytest":
        return None
    usual = max(1.0, wall_s / 2) if spec.wall_s is None else max(1.0, min(run_s, wall_s) / 2)
    return min(spec.test_seconds, usual) if spec.test_seconds else usual


def display(spec: RunSpec) -> str:
    if spec.mode.value == "pytest":
        only = f" (only {len(spec.only)} node ids)" if spec.only else ""
        only += f" (part {spec.part[0] + 1} of {spec.part[1]})" if spec.part else ""
        return " ".join(["pytest", *spec.argv]) + only
    if spec.mode.value == "module":
        return " ".join(["python", "-m", spec.target, *spec.argv])
    return " ".join(["python", spec.target, *spec.argv])


async def pump(stream: asyncio.StreamReader | None, cap: Capture, limit: int, over: Callable[[str], None],
               what: str) -> None:
    """A run's stream read to its end into ``cap``; past ``limit`` bytes, ``over(what)`` (the run
    is killed), and the stream is still drained so the child never blocks on a full pipe while it dies."""
    if stream is None:
        return
    while chunk := await stream.read(1 << 16):
        cap.feed(chunk)
        if cap.total > limit:
            over(what)
