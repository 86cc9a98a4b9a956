"""Replay N webhook deliveries through the AWS engine as moto executes it: signed
``issue_comment`` deliveries (``/pve verify`` on N issues of the stats example) through the
webhook function, one Step Functions execution each, all at once; the real handlers behind the
Lambda invokes and candidates in bubblewrap (tests/aws_engine.py has the harness).

Reports executions completed and failed, wall time, state transitions per execution (what a
Standard workflow bills), Lambda invocations per function, and the slowest step.

    uv run python benchmarks/aws_replay.py [--deliveries 6] [--sandboxes 3]

Figures are for this machine's 2 cores, where every "Lambda" shares them: they measure the
machine's correctness under concurrency and its step costs, not AWS's latency.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.app_harness import APP_ID, INSTALLATION, app_env, files_of  # noqa: E402
from tests.aws_engine import deployed  # noqa: E402
from tests.github_api import GitHubAPI  # noqa: E402
from tests.statemachine.test_stepfunctions_e2e import deliver, issue_command  # noqa: E402

STATS = ROOT / "examples" / "stats"


def step_times(history: list[dict]) -> list[tuple[str, float]]:
    """(state, seconds) for every task state the execution entered and left."""
    out, entered = [], {}
    for e in history:
        if e["type"] == "TaskStateEntered":
            entered.setdefault(e["stateEnteredEventDetails"]["name"], []).append(e["timestamp"])
        elif e["type"] == "TaskStateExited":
            name = e["stateExitedEventDetails"]["name"]
            if entered.get(name):
                start: datetime = entered[name].pop(0)
                out.append((name, (e["timestamp"] - start).total_seconds()))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--deliveries", type=int, default=6)
    ap.add_argument("--sandboxes", type=int, default=3, help="sandbox function instances at once")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "aws_replay.json")
    args = ap.parse_args()

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    pub = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    with tempfile.TemporaryDirectory() as home, GitHubAPI(APP_ID, pub) as github, pytest.MonkeyPatch.context() as mp:
        env = app_env(Path(home), github, pem, PVE_SLOTS="3")
        with deployed(mp, env, sandboxes=args.sandboxes, bot_login=f"{github.slug}[bot]") as engine:
            repo = github.add_repo("octo/stats", files_of(STATS), installation=INSTALLATION)
            log = (STATS / "ci.log").read_text(encoding="utf-8-sig")
            payloads = [issue_command(github, repo, log) for _ in range(args.deliveries)]
            t0 = time.monotonic()
            names = []
            for payload in payloads:
                delivery, answer = deliver(mp, payload)
                assert answer["statusCode"] == 202, answer
                names.append(delivery)
            accepted_s = time.monotonic() - t0
            executions = {e["name"]: e["executionArn"]
                          for e in engine.sfn.list_executions(stateMachineArn=engine.machine)["executions"]}
            results = {n: engine.wait(executions[n], timeout_s=900) for n in names}
            wall = time.monotonic() - t0
            histories = {n: engine.history(executions[n]) for n in names}
    statuses = Counter(r["status"] for r in results.values())
    transitions = [sum(1 for e in h if e["type"].endswith("StateEntered")) for h in histories.values()]
    steps = [s for h in histories.values() for s in step_times(h)]
    slowest = max(steps, key=lambda s: s[1]) if steps else ("-", 0.0)
    by_state: dict[str, list[float]] = {}
    for name, seconds in steps:
        by_state.setdefault(name, []).append(seconds)
    report = {
        "date": datetime.now().date().isoformat(),
        "deliveries": args.deliveries,
        "sandbox_instances": args.sandboxes,
        "completed": statuses.get("SUCCEEDED", 0),
        "failed": sum(v for k, v in statuses.items() if k != "SUCCEEDED"),
        "webhooks_accepted_s": round(accepted_s, 2),
        "wall_s": round(wall, 1),
        "executions_per_minute": round(args.deliveries / wall * 60, 1),
        "transitions_per_execution": {"median": statistics.median(transitions), "max": max(transitions)},
        "lambda_invocations": dict(Counter(f for f, _ in engine.calls)),
        "slowest_step": {"state": slowest[0], "seconds": round(slowest[1], 2)},
        "step_seconds_median": {k: round(statistics.median(v), 2) for k, v in sorted(by_state.items())},
        "failures": [{"error": d["taskFailedEventDetails"].get("error"), "cause": d["taskFailedEventDetails"].get("cause", "")[:400]}
                     for h in histories.values() for e in h if e["type"] == "TaskFailed"
                     for d in [e]],
        "verified_replies": sum(1 for c in repo.comments.values()
                                if c["user"]["type"] == "Bot" and "Verified fix" in c["body"]),
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0 if report["failed"] == 0 and report["completed"] == args.deliveries else 1


if __name__ == "__main__":
    sys.exit(main())
