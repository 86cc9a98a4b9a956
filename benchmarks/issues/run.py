"""Run PVE on the issue benchmark as a new user would: ``uv run python benchmarks/issues/run.py``

For each case of ``cases.json`` (built by ``build.py``): the parent of the maintainers' fix is
unpacked as it was (its own tests, not the fix's new ones: the reporter's repository at the
time), the issue's report (``# title`` and the body, as the GitHub App hands PVE an issue) is
written to a file, and PVE is run on it from its checkout:

    uv run pve verify TREE --error-log REPORT --json --no-cache --max-seconds N

The session JSON on stdout gives the verdict (``status``: "verified", "plausible, not
verified", "no fix" (older: "no verified fix"), "could not reproduce", "could not install the
dependencies", "failed") and, with a ``winner``, the winning candidate's edits. Exit codes: 0
verified, 3 plausible (older PVE: 1), 1 no fix / not reproduced, 2 bad input.

Judging (TRUTH.md: "a benchmark judge always restores the original tests before it judges"): a
verified or plausible fix is applied to the parent's source only (edits to test files are
dropped and counted), the fix commit's test files are written over the tree as the maintainers
committed them, and the case's judge tests (``judge_tests``: they fail at the parent and pass at
the fix) are run in a plain virtualenv with a timeout. The fix is correct when every judge test
passes.

    uv run python benchmarks/issues/run.py [--only NAME ...] [--out FILE] [--mirrors DIR]
        [--max-seconds 120] [--pve /work/main] [--keep DIR]

Writes ``results.json`` (per case and in total) and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import build  # noqa: E402  (the benchmark's own helpers: mirrors, trees, venvs, pytest outcomes)

REPRODUCED_NOT = {"could not reproduce", "could not install the dependencies", "failed"}
VERIFIED = "verified"
PLAUSIBLE = "plausible, not verified"
NO_FIX = {"no fix", "no verified fix"}


def report_text(case: dict) -> str:
    """What PVE is given: the issue as the GitHub App reads it (its title heads the body)."""
    return f"# {case['title'].strip()}\n\n{case['body']}"


def session_json(stdout: str) -> dict | None:
    """The session object printed by ``--json`` (anything before its first brace is ignored)."""
    start = stdout.find("{")
    if start < 0:
        return None
    try:
        return json.loads(stdout[start:])
    except ValueError:
        try:  # a trailing line after the object
            return json.JSONDecoder().raw_decode(stdout[start:])[0]
        except ValueError:
            return None


def run_pve(pve: Path, tree: Path, report: Path, max_seconds: float, home: Path) -> tuple[int, dict | None, str, float]:
    cmd = ["uv", "run", "pve", "verify", str(tree), "--error-log", str(report), "--json", "--no-cache",
           "--max-seconds", str(max_seconds)]
    environ = {k: v for k, v in os.environ.items() if not k.startswith("VIRTUAL_ENV")}
    environ["PVE_HOME"] = str(home)  # a fresh data dir: no proofs, baselines or fixes from other runs
    started = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=pve, capture_output=True, text=True, env=environ,
                              timeout=max_seconds + 600)
    except subprocess.TimeoutExpired as exc:
        return -1, None, f"timed out after {exc.timeout:.0f} s", time.monotonic() - started
    return proc.returncode, session_json(proc.stdout), proc.stderr[-3000:], time.monotonic() - started


def winning_edits(session: dict) -> list[dict]:
    winner = session.get("winner")
    for cand in session.get("candidates") or []:
        if cand.get("id") == winner:
            return list(cand.get("edits") or [])
    return []


def judge(case: dict, gd: Path, edits: list[dict], tmp: Path) -> dict:
    """Run the case's judge tests on the parent + the candidate's source edits + the fix's tests."""
    tree = build.unpack(gd, case["parent"], tmp / "judge")
    test_files = set(case["test_files"])
    dropped = []
    for edit in edits:
        path = edit["path"]
        if path in test_files or build.is_test(path):
            dropped.append(path)  # never the candidate's version of a test file
            continue
        target = tree / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(edit["new_text"])
    build.overlay(gd, case["fix"], case["test_files"], tree)  # the original tests, as committed
    editable = case.get("editable", True)
    env = build.venv(tree, case.get("deps", []), build.PYTHON, editable=editable,
                     version=build.tag_version(gd, case["parent"]))
    outcomes, log = build.run_tests(tree, env, case["judge_tests"], case.get("pytest_args", []), timeout=600,
                                    on_path=editable is None)
    failing = [t for t in case["judge_tests"] if outcomes.get(t) != "passed"]
    return {"correct": not failing, "judge_failing": failing, "dropped_test_edits": dropped,
            "judge_log_tail": log[-1200:] if failing else ""}


def run_case(case: dict, args: argparse.Namespace) -> dict:
    gd = build.mirror(Path(args.mirrors), case["repo"])
    out = {"name": case["name"], "repo": case["repo"], "issue": case["issue"], "status": "", "exit_code": None,
           "reproduced": False, "verified": False, "plausible": False, "correct": None, "wrong_verified": False,
           "wrong_plausible": False, "no_fix": False, "not_reproduced": False, "bad_input": False, "reason": "", "winner": None,
           "winner_rule": "", "edited_files": [], "session_s": 0.0, "shape": case.get("shape", ""),
           "reproducible": case.get("reproducible", True), "not_reproducible": case.get("not_reproducible", "")}
    with tempfile.TemporaryDirectory(prefix="ib-run-", dir=args.tmp) as tmpdir:
        tmp = Path(tmpdir)
        tree = build.unpack(gd, case["parent"], tmp / "tree")  # the reporter's repository: no fix, no new tests
        report = tmp / "report.md"
        report.write_text(report_text(case))
        code, session, stderr, seconds = run_pve(Path(args.pve), tree, report, args.max_seconds, tmp / "home")
        out["exit_code"], out["session_s"] = code, round(seconds, 1)
        if args.keep:
            keep = Path(args.keep)
            keep.mkdir(parents=True, exist_ok=True)
            (keep / f"{case['repo'].replace('/', '+')}-{case['issue']}.json").write_text(
                json.dumps(session, indent=1) if session else stderr)
        if session is None:
            out["status"] = "bad input" if code == 2 else "no session"
            lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
            said = [ln for ln in lines if ln.startswith("pve:")]  # PVE's one-line error
            out["reason"] = (said[0] if said else lines[-1] if lines else "")[:400]
            out["bad_input"] = code == 2
            out["not_reproduced"] = True
            return out
        status = str(session.get("status", ""))
        out["status"] = status
        out["reason"] = (session.get("message") or "")[:400]
        out["reproduced"] = status not in REPRODUCED_NOT
        out["not_reproduced"] = not out["reproduced"]
        out["verified"] = status == VERIFIED
        out["plausible"] = status == PLAUSIBLE
        out["no_fix"] = status in NO_FIX
        out["winner"] = session.get("winner")
        if out["verified"] or out["plausible"]:
            edits = winning_edits(session)
            out["edited_files"] = sorted({e["path"] for e in edits})
            for cand in session.get("candidates") or []:
                if cand.get("id") == out["winner"]:
                    out["winner_rule"] = cand.get("rule", "")
            try:
                verdict = judge(case, gd, edits, tmp)
            except Exception as exc:  # a judge that cannot run says so; it never counts as correct
                verdict = {"correct": None, "judge_error": f"{type(exc).__name__}: {exc}"[:400]}
            out.update(verdict)
            out["wrong_verified"] = out["verified"] and verdict.get("correct") is False
            out["wrong_plausible"] = out["plausible"] and verdict.get("correct") is False
    return out


def summarize(rows: list[dict]) -> dict:
    n = len(rows)
    count = lambda key: sum(bool(r.get(key)) for r in rows)  # noqa: E731
    statuses: dict[str, int] = {}
    for r in rows:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    return {
        "cases": n,
        "projects": len({r["repo"] for r in rows}),
        "reproduced": count("reproduced"),
        "verified": count("verified"),
        "plausible": count("plausible"),
        "correct": sum(r.get("correct") is True for r in rows),
        "correct_verified": sum(r.get("correct") is True and r["verified"] for r in rows),
        "correct_plausible": sum(r.get("correct") is True and r["plausible"] for r in rows),
        "wrong_verified": count("wrong_verified"),
        "wrong_plausible": count("wrong_plausible"),
        "no_fix": count("no_fix"),
        "not_reproduced": count("not_reproduced"),
        "bad_input": count("bad_input"),
        "statuses": dict(sorted(statuses.items())),
        # of the reports a person could reproduce from their text alone (selection.json)
        "reproducible": sum(bool(r.get("reproducible", True)) for r in rows),
        "reproduced_of_reproducible": sum(bool(r["reproduced"] and r.get("reproducible", True)) for r in rows),
        "by_shape": by_shape(rows),
    }


def by_shape(rows: list[dict]) -> dict[str, dict[str, int]]:
    """Per shape of report: cases, those a person could reproduce, reproduced, verified (correct,
    wrong), plausible (correct, wrong)."""
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        s = out.setdefault(r.get("shape") or "?", {"cases": 0, "reproducible": 0, "reproduced": 0, "verified": 0,
                                                    "wrong_verified": 0, "plausible": 0, "correct_plausible": 0,
                                                    "wrong_plausible": 0})
        s["cases"] += 1
        s["reproducible"] += bool(r.get("reproducible", True))
        s["reproduced"] += r["reproduced"]
        s["verified"] += r["verified"]
        s["wrong_verified"] += r["wrong_verified"]
        s["plausible"] += r["plausible"]
        s["correct_plausible"] += bool(r["plausible"] and r.get("correct") is True)
        s["wrong_plausible"] += r["wrong_plausible"]
    return dict(sorted(out.items(), key=lambda kv: -kv[1]["cases"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="cases whose name contains one of these (e.g. pyfakefs#1074)")
    parser.add_argument("--out", default=str(HERE / "results.json"))
    parser.add_argument("--mirrors", default="/work/.mirror")
    parser.add_argument("--max-seconds", type=float, default=120.0, help="PVE's search budget per case")
    parser.add_argument("--pve", default=str(HERE.parent.parent), help="the PVE checkout to run (uv run pve there)")
    parser.add_argument("--tmp", default=None, help="where trees are unpacked (default: the system's temp folder)")
    parser.add_argument("--keep", help="write each session's JSON (or PVE's stderr) into this folder")
    parser.add_argument("--summarize", action="store_true",
                        help="run nothing: summarize --out again, with the shapes and judgements of cases.json")
    args = parser.parse_args()
    cases = json.loads((HERE / "cases.json").read_text())
    if args.summarize:
        judged = {c["name"]: c for c in cases}
        rows = json.loads(Path(args.out).read_text())["cases"]
        for row in rows:
            case = judged.get(row["name"], {})
            row.update({k: case.get(k, d) for k, d in (("shape", ""), ("reproducible", True), ("not_reproducible", ""))})
        summary = summarize(rows)
        print(json.dumps(summary, indent=1))
        Path(args.out).write_text(json.dumps({"summary": summary, "cases": rows}, indent=1) + "\n")
        return
    if args.only:
        cases = [c for c in cases if any(o in c["name"] for o in args.only)]
    rows = []
    print(f"{'case':42} {'status':28} {'exit':>4} {'secs':>6}  judge")
    for case in cases:
        try:
            row = run_case(case, args)
        except Exception as exc:  # one broken case must not hide the others' figures
            row = {"name": case["name"], "repo": case["repo"], "issue": case["issue"], "status": "crash",
                   "reason": f"{type(exc).__name__}: {exc}"[:400], "reproduced": False, "not_reproduced": True}
        rows.append(row)
        judged = {True: "correct", False: "WRONG", None: "-"}[row.get("correct")]
        print(f"{row['name']:42} {row['status'][:28]:28} {row.get('exit_code')!s:>4} "
              f"{row.get('session_s', 0):6.1f}  {judged}"
              + (f"  ({row['reason'][:70]})" if row.get("not_reproduced") and row.get("reason") else ""), flush=True)
    summary = summarize(rows)
    print(json.dumps(summary, indent=1))
    Path(args.out).write_text(json.dumps({"summary": summary, "cases": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
