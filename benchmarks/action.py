"""The GitHub Action's overhead: what it costs in CI minutes on top of ``pve verify``.

One command: ``uv run python benchmarks/action.py``. On a copy of the checkout (a git worktree,
so this checkout's development environment is left alone):

1. **Install**: ``scripts/action-setup.sh`` as the action's first step runs it, on a fresh copy of
   the action (as each job checks it out) on a warm machine (bubblewrap and uv present, uv's
   package cache warm, as a runner whose cache is restored): the runtime environment from the
   lock, without development tools. Target: install + start under 30 s. (Run a second time, with
   the environment already there, for comparison.)
2. **Start**: ``pve action`` on examples/stats (a verified fix) minus ``pve verify`` on the same
   input, median of 3 each: the entry script's own cost (reading the event, the summary, the
   outputs, copying the proof), with nothing posted (``post: summary``).

Writes ``benchmarks/action.json``. Exit 1 if the target is missed.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 30.0


def timed(argv: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> float:
    started = time.monotonic()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode not in (0, 3):
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return time.monotonic() - started


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="pve-action-bench-"))
    tree = work / "action"
    subprocess.run(["git", "worktree", "add", "-q", "--detach", str(tree), "HEAD"], cwd=ROOT, check=True)
    try:
        installs = [timed(["bash", "scripts/action-setup.sh"], cwd=tree) for _ in range(2)]
        pve = str(tree / ".venv" / "bin" / "pve")
        stats = ROOT / "examples" / "stats"
        event = work / "event.json"
        event.write_text(json.dumps({"repository": {"full_name": "octo/stats", "default_branch": "main"}}))
        base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
        verify_s, action_s = [], []
        for k in range(3):
            verify_s.append(timed([pve, "verify", str(stats), "--error-log", str(stats / "ci.log"), "-q"], cwd=work,
                                  env={**base, "PVE_HOME": str(work / f"home-v{k}")}))
            temp = work / f"runner-temp-{k}"
            temp.mkdir()
            action_s.append(timed([pve, "action"], cwd=work, env={
                **base, "GITHUB_EVENT_NAME": "workflow_dispatch", "GITHUB_EVENT_PATH": str(event),
                "GITHUB_REPOSITORY": "octo/stats", "GITHUB_SHA": "0" * 40, "GITHUB_WORKSPACE": str(stats),
                "GITHUB_RUN_ID": "1", "RUNNER_TEMP": str(temp), "GITHUB_STEP_SUMMARY": str(temp / "summary.md"),
                "GITHUB_OUTPUT": str(temp / "output.txt"), "INPUT_LOG": "ci.log", "INPUT_POST": "summary"}))
        start_s = max(0.0, statistics.median(action_s) - statistics.median(verify_s))
        result = {"install_s": round(installs[0], 2), "install_again_s": round(installs[1], 2),
                  "pve_verify_s": round(statistics.median(verify_s), 2), "pve_action_s": round(statistics.median(action_s), 2),
                  "start_overhead_s": round(start_s, 2), "overhead_warm_s": round(installs[0] + start_s, 2),
                  "target_s": TARGET_S}
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)
        shutil.rmtree(work, ignore_errors=True)
    (ROOT / "benchmarks" / "action.json").write_text(json.dumps(result, indent=1) + "\n")
    for key, value in result.items():
        print(f"{key:20} {value}")
    ok = result["overhead_warm_s"] <= TARGET_S
    print("target met" if ok else f"TARGET MISSED: {result['overhead_warm_s']} s > {TARGET_S} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
