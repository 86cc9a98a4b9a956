"""The permalink page's server time with 100,000 stored sessions (issue 18: p95 <= 50 ms).

    uv run python benchmarks/web.py [--sessions 100000] [--requests 300]

Fills a SQLite store (as ``pve serve`` keeps it) with N verified sessions of realistic size: a
verified fix with its diff, 6 candidates with verdicts and run results, and a 25-line console
each; then times ``GET /s/<id>`` on random ones through the app in-process (the ASGI app as
uvicorn calls it: routing, the store, rendering; no network), and the live stream's first
answer. Writes ``benchmarks/web.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fastapi import FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from pve.events import Event  # noqa: E402
from pve.models import (  # noqa: E402
    Candidate,
    FileEdit,
    HarnessRecord,
    Oracle,
    Preflight,
    RunResult,
    Session,
    SessionStatus,
    Verdict,
)
from store.sqlite import SQLiteStore  # noqa: E402
from web import permalinks, shell  # noqa: E402

DIFF = ("--- a/stats/core.py\n+++ b/stats/core.py\n@@ -9,6 +9,8 @@ def total(values):\n \n def mean(values):\n"
        '     """Arithmetic mean."""\n+    if not values:\n+        return 0.0\n     return total(values) / len(values)\n \n \n')


def session(i: int, rng: random.Random) -> Session:
    sid = f"{rng.getrandbits(128):032x}"
    run = RunResult(label="candidate", sandbox_id="sbx-1", command="pytest tests/test_core.py", exit_code=1,
                    duration_ms=200.0, stdout="." * 400, stderr="", record=HarnessRecord(outcomes={
                        f"tests/test_core.py::test_{k}": "passed" for k in range(20)}))
    candidates = [Candidate(id=k, rule="zero.guard", rationale="guard the empty sample",
                            edits=[FileEdit(path="stats/core.py", new_text="x" * 600)], diff=DIFF) for k in range(1, 7)]
    verdicts = [Verdict(candidate_id=k, verified=k == 1, reason="verified" if k == 1 else "tests/test_core.py::test_1 failed",
                        preflight=Preflight(ok=True), run=run, duration_ms=210.0) for k in range(1, 7)]
    return Session(id=sid, created_at=f"2026-11-{1 + i % 28:02d}T10:00:00+00:00", project="/tmp/p", trigger="issue_comment",
                   status=SessionStatus.VERIFIED, candidates=candidates, verdicts=verdicts, winner=1,
                   oracle=Oracle.EXISTING_TESTS, message="verified", before=run, baseline=run)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "web.json")
    args = ap.parse_args()
    rng = random.Random(18)
    with tempfile.TemporaryDirectory() as home:
        store = SQLiteStore(Path(home))
        t = time.monotonic()
        ids = []
        for i in range(args.sessions):
            s = session(i, rng)
            store.put_session(s)
            for seq in range(1, 26):
                store.append_event(s.id, Event(seq=seq, ts=time.time(), kind="run", text=f"Running candidate {seq}...",
                                               status="FAILED - tests/test_core.py::test_1 failed"))
            ids.append(s.id)
        fill_s = time.monotonic() - t
        web = FastAPI()
        web.include_router(permalinks.router(store))
        web.include_router(shell.assets())
        client = TestClient(web)
        times = []
        for sid in rng.sample(ids, min(args.requests, len(ids))):
            t = time.perf_counter()
            r = client.get(f"/s/{sid}")
            times.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200 and "verified fix" in r.text
        missing = []
        for _ in range(50):
            t = time.perf_counter()
            assert client.get(f"/s/{rng.getrandbits(128):032x}").status_code == 404
            missing.append((time.perf_counter() - t) * 1000)
        size = (Path(home) / "pve.sqlite3").stat().st_size
    times.sort()
    report = {
        "date": datetime.now().date().isoformat(), "sessions": args.sessions, "requests": len(times),
        "fill_s": round(fill_s, 1), "database_mb": round(size / 2**20, 1),
        "page_ms": {"median": round(statistics.median(times), 2), "p95": round(times[int(0.95 * len(times)) - 1], 2),
                    "max": round(times[-1], 2)},
        "unknown_id_ms_median": round(statistics.median(missing), 2),
        "target_p95_ms": 50, "ok": times[int(0.95 * len(times)) - 1] <= 50,
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
