"""PVE's speed benchmarks. One command: ``uv run python benchmarks/run.py``.

1. Sandbox start overhead: median wall of ``python3 -I -S -c pass`` under the exact hardening of a
   real run (bwrap, namespaces, seccomp, slot uid) minus the same command bare. Target <= 10 ms.
2. ``pve verify`` on the quickstart example, as a user runs it (a new process each time): median
   wall <= 1.5 s, and PVE's own overhead (wall minus the time during which at least one sandboxed
   program ran) <= 300 ms.
3. Validation throughput: 50 candidates through preflight, sandboxed run and decision, with the
   default 3 slots. Target >= 40 candidates/s.

Prints a table and writes ``benchmarks/results.json``. Exit 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pve.events import Fanout  # noqa: E402
from pve.models import (  # noqa: E402
    Analysis,
    Candidate,
    Category,
    Checks,
    ExceptionInfo,
    FileEdit,
    Frame,
    Reproduction,
    ReproKind,
    RunMode,
    RunSpec,
)
from pve.settings import Settings  # noqa: E402
from sandbox.bwrap import BubblewrapSandbox  # noqa: E402
from statemachine.reproduce import run_spec  # noqa: E402
from statemachine.validate import validate  # noqa: E402


def _time(args: list[str], **kw) -> float:
    t = time.perf_counter()
    subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, **kw)
    return (time.perf_counter() - t) * 1000


def bench_start(runs: int) -> dict:
    sb = BubblewrapSandbox(slots=1)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "x.py").write_text("pass\n")
        staged = sb.stage(Path(tmp))
        try:
            cmd = [sb.interpreter.executable, "-I", "-S", "-c", "pass"]
            bare, boxed = [], []
            for _ in range(3):  # warm the page cache
                _time(cmd)
            for _ in range(runs):  # interleaved, so drift hits both alike
                bare.append(_time(cmd, env={}))
                args, kw, fds = sb.bare_command(staged, cmd)
                try:
                    boxed.append(_time(args, pass_fds=fds, **kw))
                finally:
                    for fd in fds:
                        os.close(fd)
        finally:
            sb.cleanup(staged)
    mb, ms = statistics.median(bare), statistics.median(boxed)
    return {"runs": runs, "bare_ms": round(mb, 2), "sandboxed_ms": round(ms, 2), "overhead_ms": round(ms - mb, 2),
            "target_ms": 10.0, "ok": ms - mb <= 10.0}


def bench_verify(runs: int) -> dict:
    walls, overheads, busy = [], [], []
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "PVE_HOME": home}
        # --no-cache: every run does the whole search (a cache hit is measured apart, below)
        cmd = [str(ROOT / ".venv" / "bin" / "pve"), "verify", "examples/stats", "--error-log", "examples/stats/ci.log",
               "--json", "--no-cache"]
        subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, check=True)  # first use: key, runtime staging
        for _ in range(runs):
            t = time.perf_counter()
            r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True)
            wall = (time.perf_counter() - t) * 1000
            session = json.loads(r.stdout)
            assert r.returncode == 0 and session["status"] == "verified", r.stderr
            walls.append(wall)
            busy.append(session["sandbox_busy_ms"])
            overheads.append(wall - session["sandbox_busy_ms"])
        cached = []
        cmd = cmd[:-1]  # the semantic cache on: the first run stores the fix, the rest re-verify it
        subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, check=True)
        for _ in range(max(3, runs // 2)):
            t = time.perf_counter()
            r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True)
            cached.append((time.perf_counter() - t) * 1000)
            assert json.loads(r.stdout)["brain"]["cache"] == "hit, re-verified", r.stdout[:400]
    mw, mo = statistics.median(walls), statistics.median(overheads)
    return {"runs": runs, "median_wall_ms": round(mw), "p90_wall_ms": round(sorted(walls)[int(0.9 * (runs - 1))]),
            "median_sandbox_busy_ms": round(statistics.median(busy)), "median_overhead_ms": round(mo),
            "cache_hit_median_wall_ms": round(statistics.median(cached)),
            "target_wall_ms": 1500, "target_overhead_ms": 300, "ok": mw <= 1500 and mo <= 300}


# The function documents the value the reproduction expects: a guard that returns it is not a
# constant fitted to the expected value (statemachine/shortcuts/fitted.py), so it passes preflight.
SNIPPET = ("def ratio(a, b):\n    \"\"\"a / b; 42 when b is 0 (the documented fallback).\"\"\"\n    return a / b\n\n\n"
           "assert ratio(1, 0) == {want}\nprint('ok')\n")


def bench_throughput(n: int, slots: int) -> dict:
    settings = Settings.from_env()
    sb = BubblewrapSandbox(settings.sandbox, slots=slots)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "ratio.py"
        src.write_text(SNIPPET.format(want=42))
        staged = sb.stage(src, single_file=True)
        repro = Reproduction(kind=ReproKind.SCRIPT, target="ratio.py", files=["ratio.py"], snippet=True)
        exc = ExceptionInfo(type="ZeroDivisionError", qualified_type="ZeroDivisionError", message="division by zero",
                            frames=[Frame(file="ratio.py", line=3, function="ratio", project_path="ratio.py")])
        analysis = Analysis(exception=exc, category=Category.ARITHMETIC, failing_frame=exc.frames[0], project_frames=exc.frames)
        # 50 distinct guards; exactly one returns the value the reproduction asserts
        cands = [Candidate(id=i + 1, rule="bench", rationale="", edits=[FileEdit(
            path="ratio.py", new_text=SNIPPET.format(want=42).replace("    return a / b", f"    if b == 0:\n        return {i}\n    return a / b"))])
            for i in range(n)]

        async def go():
            before = await sb.run(staged, RunSpec(mode=RunMode.SCRIPT, target="ratio.py"))
            t = time.perf_counter()
            checks = Checks(repro=repro, analysis=analysis, before=before, repro_spec=run_spec(repro))
            events = Fanout()
            # every candidate at once: the sandbox's slots bound the parallelism
            verdicts = await asyncio.gather(*(validate(c, sb, staged, checks, events) for c in cands))
            return verdicts, time.perf_counter() - t

        try:
            verdicts, secs = asyncio.run(go())
        finally:
            sb.cleanup(staged)
    # a snippet has no tests besides its reproduction: the one fix is plausible, not verified
    passed = [v.candidate_id for v in verdicts if v.verified or v.plausible]
    assert passed == [43], passed  # candidate 43 returns 42
    rate = n / secs
    return {"candidates": n, "slots": slots, "seconds": round(secs, 3), "per_second": round(rate, 1),
            "passed": len(passed), "target_per_second": 40, "ok": rate >= 40}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start-runs", type=int, default=40)
    parser.add_argument("--verify-runs", type=int, default=10)
    parser.add_argument("--candidates", type=int, default=50)
    args = parser.parse_args()
    results = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, as uid {os.geteuid()}",
        "sandbox_start": bench_start(args.start_runs),
        "verify_quickstart": bench_verify(args.verify_runs),
        "throughput": bench_throughput(args.candidates, Settings.from_env().slots),
    }
    s, v, t = results["sandbox_start"], results["verify_quickstart"], results["throughput"]
    rows = [
        ("sandbox start overhead (median)", f"{s['overhead_ms']} ms  (bare {s['bare_ms']} ms, sandboxed {s['sandboxed_ms']} ms, n={s['runs']})", "<= 10 ms", s["ok"]),
        ("pve verify quickstart, median wall", f"{v['median_wall_ms']} ms  (p90 {v['p90_wall_ms']} ms, n={v['runs']}; "
                                               f"cache hit {v['cache_hit_median_wall_ms']} ms)", "<= 1500 ms", v["median_wall_ms"] <= 1500),
        ("pve verify, PVE's own overhead", f"{v['median_overhead_ms']} ms  (sandboxes busy {v['median_sandbox_busy_ms']} ms)", "<= 300 ms", v["median_overhead_ms"] <= 300),
        ("validation throughput", f"{t['per_second']} candidates/s  ({t['candidates']} in {t['seconds']} s, {t['slots']} slots)", ">= 40/s", t["ok"]),
    ]
    print(f"PVE benchmarks on {results['machine']}")
    for name, value, target, ok in rows:
        print(f"  {name:38} {value:62} target {target:10} {'ok' if ok else 'MISSED'}")
    (ROOT / "benchmarks" / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0 if all(r[3] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
