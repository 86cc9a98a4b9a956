"""Real bugs from real repositories, end to end. ``uv run python benchmarks/realworld.py run``

The cases (``benchmarks/realworld/cases.json``) were mined from public repositories' history by
``mine``: a commit that changes one source file (a few lines) and its tests, where some of the
commit's tests fail on the parent's source and pass with the commit's. Each case is then run
as a new user would: the parent's tree with the commit's test files (what a contributor's
failing CI run has), ``pve verify --test <the first failing test>``, no cache, no model keys.

Reported per case and in all: reproduced, verified, held-out (a verified fix passes every test
of the commit's test files that the maintainers' own fix passes), the session's wall time and
the regression oracle's (baseline) time. Targets (issue 16): every failure that reproduces
outside PVE reproduces inside it; a regression oracle on every verified fix; median session
<= 30 s on a repository of that size on a 2-core machine. Writes ``benchmarks/realworld.json``.

Repositories are read from git mirrors (``--mirrors``, default ``/work/.mirror``, one
``owner+name/repo`` git directory each, as ``git clone --mirror`` makes them). ``--pve DIR``
runs another checkout of PVE on the same cases (the before/after comparison).

    uv run python benchmarks/realworld.py mine more-itertools/more-itertools --commits 400
    uv run python benchmarks/realworld.py run [--only NAME] [--pve /tmp/pve-before] [--out FILE]
    uv run python benchmarks/realworld.py judge [--wrong]   # the maintainers' fixes judged as pull requests
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
CASES = HERE / "realworld" / "cases.json"
MAX_SOURCE_LINES = 12  # lines added + removed in the one source file: a bug fix, not a feature
MAX_FAILING = 8


@dataclass
class Case:
    name: str  # owner/name@short-commit
    repo: str
    commit: str
    subject: str
    source: str  # the one source file the fix changes
    tests: list[str]  # the test files the commit changes
    failing: list[str]  # tests that fail on the parent's source and pass with the fix
    source_lines: int = 0  # size of the source file
    test_functions: int = 0  # test functions in the repository (a regex count)


@dataclass
class Outcome:
    name: str
    status: str = ""
    reproduced: bool = False
    verified: bool = False
    plausible: bool = False  # passed the reproduction only: "plausible, not verified"
    held_out: bool | None = None  # None: no fix shown, nothing to hold out
    held_out_detail: str = ""
    session_s: float = 0.0
    oracle_s: float | None = None
    oracle: str = ""
    localization: str = ""
    tried: int = 0
    winner: str = ""
    message: str = ""
    timings_ms: dict[str, float] = field(default_factory=dict)


def git(repo: Path, *args: str, text: bool = True) -> str:
    return subprocess.run(["git", f"--git-dir={repo}", *args], check=True, capture_output=True, text=text).stdout


def mirror(mirrors: Path, repo: str) -> Path:
    path = mirrors / repo.replace("/", "+") / "repo"
    if not path.exists():
        raise SystemExit(f"no mirror of {repo} at {path} (git clone --mirror https://github.com/{repo} {path})")
    return path


def tree(repo: Path, case: Case, dest: Path, *, fixed: bool = False) -> Path:
    """The parent's source with the commit's test files (and, ``fixed``, the commit's fix)."""
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", f"--git-dir={repo}", "archive", f"{case.commit}^"], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    for path in case.tests + ([case.source] if fixed else []):
        target = dest / path
        try:
            content = subprocess.run(["git", f"--git-dir={repo}", "show", f"{case.commit}:{path}"], check=True,
                                     capture_output=True).stdout
        except subprocess.CalledProcessError:
            target.unlink(missing_ok=True)  # the commit deleted it
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return dest


def is_test(path: str) -> bool:
    parts = path.split("/")
    return any(p in ("tests", "test", "testing") for p in parts[:-1]) or parts[-1].startswith("test")


# --------------------------------------------------------------------------- mining


def candidates(repo: Path, commits: int) -> list[tuple[str, str, str, list[str], int]]:
    """(commit, subject, source, tests, lines changed) for commits that fit a bug fix's shape."""
    out = []
    log = git(repo, "log", "--no-merges", f"-n{commits}", "--format=%H%x09%s", "HEAD")
    for line in log.splitlines():
        commit, _, subject = line.partition("\t")
        try:
            stat = git(repo, "diff-tree", "--no-commit-id", "--numstat", "-r", f"{commit}^", commit)
        except subprocess.CalledProcessError:
            continue  # the root commit
        py = [(int(a) + int(d), p) for a, d, p in (r.split("\t") for r in stat.splitlines())
              if p.endswith(".py") and a != "-"]
        tests = [p for _, p in py if is_test(p)]
        sources = [(n, p) for n, p in py if not is_test(p) and not p.startswith(("docs/", "doc/"))
                   and p.rsplit("/", 1)[-1] not in ("setup.py", "conftest.py", "noxfile.py")]
        if len(sources) == 1 and tests and len(py) == len(tests) + 1 and sources[0][0] <= MAX_SOURCE_LINES:
            out.append((commit, subject, sources[0][1], tests, sources[0][0]))
    return out


async def mine(args: argparse.Namespace) -> None:
    from entrypoints import bootstrap
    from pve.models import RunMode, RunSpec
    from pve.settings import Settings
    from sandbox.declarations import plan_install

    repo = mirror(Path(args.mirrors), args.repo)
    cases = load()
    known = {c.commit for c in cases}
    svc = bootstrap.services(Settings.from_env(dict(os.environ)))
    found = 0
    for commit, subject, source, tests, _n in candidates(repo, args.commits):
        if commit in known or found >= args.limit:
            continue
        case = Case(name=f"{args.repo}@{commit[:8]}", repo=args.repo, commit=commit, subject=subject, source=source,
                    tests=tests, failing=[])
        with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
            root = tree(repo, case, Path(tmp) / "src")
            if not (root / source).exists():
                continue
            fix = git(repo, "show", f"{commit}:{source}")
            staged = svc.sandbox.stage(root)
            try:
                plan = plan_install(staged.files, staged.read_text)
                if plan.needed():
                    try:
                        await svc.sandbox.environment(staged, plan)
                    except Exception as exc:  # a case we cannot build is not a case
                        print(f"  {case.name}: environment: {exc}")
                        continue
                present = [t for t in tests if (root / t).exists()]
                spec = RunSpec(mode=RunMode.PYTEST, argv=present, wall_s=120)
                before, after = await asyncio.gather(svc.sandbox.run(staged, spec),
                                                     svc.sandbox.run(staged, spec.model_copy(update={"patches": {source: fix}})))
            finally:
                svc.sandbox.cleanup(staged)
            failing = sorted(t for t, o in before.record.outcomes.items()
                             if o in ("failed", "error") and after.record.outcomes.get(t) == "passed" and "::" in t)
            print(f"  {case.name} {subject[:60]!r}: {len(failing)} failing before, passing after")
            if not 1 <= len(failing) <= MAX_FAILING:
                continue
            case.failing = failing
            case.source_lines = len((root / source).read_text(errors="replace").splitlines())
            case.test_functions = sum(len([ln for ln in p.read_text(errors="replace").splitlines()
                                           if ln.lstrip().startswith(("def test", "async def test"))])
                                      for p in root.rglob("*.py") if is_test(p.relative_to(root).as_posix()))
            cases.append(case)
            found += 1
            save(cases)
    print(f"{found} new cases from {args.repo}; {len(cases)} in {CASES}")


def load() -> list[Case]:
    if not CASES.exists():
        return []
    return [Case(**c) for c in json.loads(CASES.read_text())]


def save(cases: list[Case]) -> None:
    CASES.parent.mkdir(parents=True, exist_ok=True)
    CASES.write_text(json.dumps([asdict(c) for c in cases], indent=1) + "\n")


# --------------------------------------------------------------------------- running


async def run_case(case: Case, repo: Path, tmp: Path, home: Path, sessions: Path | None = None) -> Outcome:
    from entrypoints import bootstrap
    from pve.models import RunMode, RunSpec, SessionStatus, VerifyRequest
    from pve.settings import Settings
    from statemachine.runner import verify

    out = Outcome(name=case.name)
    root = tree(repo, case, tmp / "src")
    svc = bootstrap.services(replace(Settings.from_env(dict(os.environ)), home=home))
    started = time.monotonic()
    session = await verify(VerifyRequest(path=root, test=case.failing[0], cache=False), svc)
    out.session_s = round(time.monotonic() - started, 1)
    if sessions is not None:  # the whole session (candidates, runs, timings) for a closer look
        sessions.mkdir(parents=True, exist_ok=True)
        (sessions / (case.name.replace("/", "+") + ".json")).write_text(session.model_dump_json(indent=1))
    out.status = session.status.value
    out.message = (session.message or "")[:300]
    out.reproduced = session.before is not None and session.status not in (
        SessionStatus.NOT_REPRODUCED, SessionStatus.FAILED, SessionStatus.DEPENDENCIES)
    out.verified = session.status is SessionStatus.VERIFIED
    out.plausible = session.status is SessionStatus.PLAUSIBLE
    out.oracle = getattr(session, "oracle_note", "") or ""
    out.oracle_s = round(session.baseline.duration_ms / 1000, 1) if session.baseline is not None else None
    out.timings_ms = {k: round(v) for k, v in session.timings_ms.items()}
    if session.search is not None:
        out.tried = session.search.tried
        out.localization = getattr(session.search, "spectra", "") or ""
    if not (out.verified or out.plausible):
        return out
    winner = session.winning_candidate()
    out.winner = winner.rule
    fix = git(repo, "show", f"{case.commit}:{case.source}")
    staged = svc.sandbox.stage(root)
    try:
        present = [t for t in case.tests if (root / t).exists()]
        spec = RunSpec(mode=RunMode.PYTEST, argv=present, wall_s=120, label="held-out")
        # one after the other: a test that needs many threads is flaky beside another sandbox
        theirs = await svc.sandbox.run(staged, spec.model_copy(update={"patches": {case.source: fix}}))
        # Judged on the original tests, always: a candidate's edit to a test file is dropped.
        source_edits = {e.path: e.new_text for e in winner.edits if e.path not in case.tests and not is_test(e.path)}
        ours = await svc.sandbox.run(staged, spec.model_copy(update={"patches": source_edits}))
    finally:
        svc.sandbox.cleanup(staged)
    expected = {t for t, o in theirs.record.outcomes.items() if o == "passed"}
    missed = sorted(t for t in expected if ours.record.outcomes.get(t) != "passed")
    out.held_out = bool(expected) and not missed
    out.held_out_detail = f"{len(expected) - len(missed)}/{len(expected)} of the maintainers' passing tests" + (
        f"; fails {', '.join(missed[:3])}" if missed else "")
    return out


async def run(args: argparse.Namespace) -> None:
    cases = [c for c in load() if not args.only or any(o in c.name for o in args.only)]
    outcomes: list[Outcome] = []
    for case in cases:
        repo = mirror(Path(args.mirrors), case.repo)
        with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
            try:
                out = await run_case(case, repo, Path(tmp), Path(tmp) / "home",
                                     Path(args.sessions) if args.sessions else None)
            except Exception as exc:  # one broken case must not hide the others' figures
                out = Outcome(name=case.name, status="crash", message=f"{type(exc).__name__}: {exc}"[:300])
        outcomes.append(out)
        print(f"{out.name:48} {out.status:16} {out.session_s:6.1f} s  oracle {out.oracle_s or '-'} s  "
              f"held-out {out.held_out}  {out.oracle[:70]}", flush=True)
    summary = summarize(outcomes)
    print(json.dumps(summary, indent=1))
    Path(args.out).write_text(json.dumps({"summary": summary, "cases": [asdict(o) for o in outcomes]}, indent=1) + "\n")


async def judge_case(case: Case, repo: Path, tmp: Path, *, wrong: bool) -> dict[str, object]:
    """The maintainers' own fix (or, ``wrong``, a change that only adds a comment) judged as a pull
    request would be: the case's base, and an issue holding the failing test's pytest output."""
    from entrypoints import bootstrap
    from pve.models import JudgeTree, RunMode, RunSpec, VerifyRequest
    from pve.settings import Settings
    from statemachine.github.pull_request import verdict_of
    from statemachine.runner import verify

    base = tree(repo, case, tmp / "base")
    head = tree(repo, case, tmp / "head", fixed=not wrong)
    if wrong:
        source = head / case.source
        source.write_text(source.read_text() + "\n# reworded\n")
    svc = bootstrap.services(replace(Settings.from_env(dict(os.environ)), home=tmp / "home"))
    # The issue: what its reporter would paste, the failing test's pytest output on the base
    # (run in the sandbox); PVE reads the reproduction from it as from any issue.
    staged = svc.sandbox.stage(base)
    try:
        report = await svc.sandbox.run(staged, RunSpec(mode=RunMode.PYTEST, argv=[case.failing[0]], label="report"))
    finally:
        svc.sandbox.cleanup(staged)
    text = f"{case.subject}\n\n```\n{report.stdout}\n```\n"
    started = time.monotonic()
    session = await verify(VerifyRequest(path=base, error_log=text.encode(), issue_text=text, cache=False, judge=JudgeTree(
        path=head, label="the maintainers' fix" if not wrong else "a comment-only change",
        base_commit=f"{case.commit}^", head_commit=case.commit if not wrong else "")), svc)
    verdict = verdict_of(0, session)
    return {"name": case.name, "head": "comment only" if wrong else "maintainers' fix", "verdict": verdict.kind.value,
            "detail": verdict.detail[:300], "session_s": round(time.monotonic() - started, 1),
            "oracle": session.oracle_note[:120]}


async def judge(args: argparse.Namespace) -> None:
    cases = [c for c in load() if not args.only or any(o in c.name for o in args.only)]
    rows = []
    for case in cases:
        for wrong in (False, True) if args.wrong else (False,):
            with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
                try:
                    row = await judge_case(case, mirror(Path(args.mirrors), case.repo), Path(tmp), wrong=wrong)
                except Exception as exc:  # one broken case must not hide the others' figures
                    row = {"name": case.name, "head": "comment only" if wrong else "maintainers' fix", "verdict": "crash",
                           "detail": f"{type(exc).__name__}: {exc}"[:300]}
            rows.append(row)
            print(f"{row['name']:48} {row['head']:16} {row['verdict']:24} {row.get('session_s', '-')} s  "
                  f"{str(row['detail'])[:90]}", flush=True)
    counts: dict[str, int] = {}
    for row in rows:
        key = f"{row['head']}: {row['verdict']}"
        counts[key] = counts.get(key, 0) + 1
    # precision: a comment-only change judged "fixes" is a wrong verified verdict
    counts["precision: maintainers' fixes verified"] = sum(r["head"] == "maintainers' fix" and r["verdict"] == "fixes"
                                                           for r in rows)
    counts["precision: wrong verified (comment-only heads judged 'fixes')"] = sum(
        r["head"] == "comment only" and r["verdict"] == "fixes" for r in rows)
    print(json.dumps(counts, indent=1))
    Path(args.out).write_text(json.dumps({"summary": counts, "cases": rows}, indent=1) + "\n")


def summarize(outcomes: list[Outcome]) -> dict[str, object]:
    verified = [o for o in outcomes if o.verified]
    plausible = [o for o in outcomes if o.plausible]
    oracles = [o.oracle_s for o in outcomes if o.oracle_s is not None]
    return {
        "cases": len(outcomes),
        "reproduced": sum(o.reproduced for o in outcomes),
        "verified": len(verified),
        "held_out_pass": sum(bool(o.held_out) for o in verified),
        # precision: judged by the maintainers' own tests, on the original test files
        "correct": sum(bool(o.held_out) for o in verified),
        "wrong_verified": sum(o.held_out is False for o in verified),
        "plausible": len(plausible),
        "plausible_correct": sum(bool(o.held_out) for o in plausible),
        "wrong_plausible": sum(o.held_out is False for o in plausible),
        "verified_with_regression_oracle": sum(not o.oracle.startswith("none") for o in verified),
        "median_session_s": round(statistics.median(o.session_s for o in outcomes), 1) if outcomes else None,
        "median_oracle_s": round(statistics.median(oracles), 1) if oracles else None,
        "statuses": {s: sum(o.status == s for o in outcomes) for s in sorted({o.status for o in outcomes})},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mirrors", default="/work/.mirror")
    parser.add_argument("--pve", help="another checkout of PVE to run (default: this one)")
    parser.add_argument("--tmp", default=None, help="where trees are unpacked (default: the system's temp folder)")
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("mine", help="find cases in a repository's history")
    m.add_argument("repo")
    m.add_argument("--commits", type=int, default=300)
    m.add_argument("--limit", type=int, default=8)
    r = sub.add_parser("run", help="run PVE on the cases")
    r.add_argument("--only", nargs="*")
    r.add_argument("--out", default=str(HERE / "realworld.json"))
    r.add_argument("--sessions", help="write each session's JSON (candidates, runs, timings) into this folder")
    j = sub.add_parser("judge", help="judge the maintainers' own fixes as pull requests (issue 17's verdicts)")
    j.add_argument("--only", nargs="*")
    j.add_argument("--wrong", action="store_true", help="also judge a comment-only change per case (must not fix)")
    j.add_argument("--out", default=str(HERE / "realworld-judge.json"))
    args = parser.parse_args()
    sys.path.insert(0, str(Path(args.pve).resolve() if args.pve else HERE.parent))
    commands = {"mine": mine, "run": run, "judge": judge}
    asyncio.run(commands[args.command](args))


if __name__ == "__main__":
    main()
