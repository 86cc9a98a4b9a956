"""Screening throughput: candidates judged per second of search, the same bugs and budget, three ways.

    uv run python benchmarks/repair/screening.py [--budget 150] [--json PATH]

The bugs are the repair benchmark's that no engine fixes within the budget (each search runs the
whole budget, so the rate is the search's steady state, not a session's start): wrong answers,
crashes, multi-fault programs and loops. Each runs three ways, alternating per bug so machine
noise falls on all three alike:

- ``fresh``: every candidate in a fresh sandbox (``PVE_SCREENING=0``): what a candidate cost
  when issue 15 was filed ("a fresh sandbox, a fresh interpreter and a fresh pytest import");
- ``pytest``: screened in the slot's warm server under pytest (``PVE_DIRECT_SCREENING=0``);
- ``direct``: screened, plain tests called directly (the default).

The same candidates are judged each way (the outcomes are deterministic): the figure is
candidates / seconds of search, summed over the bugs. Writes benchmarks/repair/screening.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))
sys.path.insert(0, str(HERE))

import run as bench  # noqa: E402

from entrypoints import bootstrap  # noqa: E402
from pve.models import VerifyRequest  # noqa: E402
from pve.settings import Settings  # noqa: E402
from statemachine.runner import verify  # noqa: E402

# No fix within 150 candidates (repair benchmark, 2026-12-04): the search runs its whole budget.
BUGS = ["rpn-3", "textutil-2", "intervals-7", "cart-8", "roman-6", "algos-7", "algos-31", "grades-m8", "grades-m12",
        "grades-m15", "algos-m2", "algos-m4"]
WAYS = {"fresh": {"PVE_SCREENING": "0"}, "pytest": {"PVE_DIRECT_SCREENING": "0"}, "direct": {}}


async def one(bug: bench.Bug, way: str, budget: int, tmp: Path) -> dict:
    env = {**WAYS[way], "PVE_MAX_CANDIDATES": str(budget)}
    settings = replace(Settings.from_env(env), home=tmp / f"home-{way}")
    services = bootstrap.services(settings)
    project = bench.build(bug, tmp / way)
    t0 = time.monotonic()
    session = await verify(VerifyRequest(path=project, test=f"tests/test_{bug.program}.py", brain="offline",
                                         cache=False), services)
    search_s = session.timings_ms.get("validate", 0.0) / 1000
    tried = session.search.tried if session.search else 0
    return {"bug": bug.id, "way": way, "tried": tried, "search_s": round(search_s, 3),
            "session_s": round(time.monotonic() - t0, 3), "status": session.status.value}


async def main_async(args: argparse.Namespace) -> int:
    bugs = [b for b in bench.load_bugs() if b.id in BUGS]
    tmp = Path(tempfile.mkdtemp(prefix="pve-screening-bench-"))
    rows = []
    try:
        for bug in bugs:
            for way in WAYS:
                row = await one(bug, way, args.budget, tmp)
                rows.append(row)
                print(f"  {row['bug']:12} {way:7} {row['tried']:>4} tried in {row['search_s']:6.2f} s of search "
                      f"({row['tried'] / row['search_s']:.1f}/s)", file=sys.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    summary = {}
    for way in WAYS:
        sel = [r for r in rows if r["way"] == way]
        tried, seconds = sum(r["tried"] for r in sel), sum(r["search_s"] for r in sel)
        summary[way] = {"candidates": tried, "search_s": round(seconds, 2), "per_s": round(tried / seconds, 1)}
    base = summary["fresh"]["per_s"]
    print(f"\n{'':8} {'candidates':>10} {'search s':>9} {'cand/s':>7} {'x fresh':>8}")
    for way, s in summary.items():
        print(f"{way:8} {s['candidates']:>10} {s['search_s']:>9.1f} {s['per_s']:>7.1f} {s['per_s'] / base:>8.1f}")
    out = {"machine": f"{platform.system()} {platform.machine()}, {__import__('os').cpu_count()} cores",
           "budget": args.budget, "bugs": BUGS, "summary": summary, "rows": rows}
    Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--budget", type=int, default=150, help="candidates per search (default 150)")
    p.add_argument("--json", default=str(HERE / "screening.json"))
    return asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
