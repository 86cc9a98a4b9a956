"""The repair benchmark: can the offline engine fix real-looking bugs, and are its fixes right?

    uv run python benchmarks/repair/run.py [--only ID ...] [--json PATH] [-v]

Each bug in bugs.toml is one edit (or, for a multi-fault bug, two or three) to a correct program
in programs/<name>/. For each bug this
builds a project (the buggy module plus its *visible* tests), runs the whole `pve verify`
pipeline on it with `--test tests/test_<name>.py`, and then, if PVE verified a fix, runs the
*held-out* tests (never shown to the engine) against the fixed code, in the same sandbox:

- verified: PVE verified a fix (TRUTH.md's top evidence level);
- plausible: PVE showed a fix as "plausible, not verified" (it passed the reproduction only);
- correct: a verified fix also passes the held-out tests; wrong-verified: it does not (the worst
  outcome PVE can have). Held-out runs always use the original test files: a candidate's edits
  to tests are dropped before judging.

Before any bug runs, every correct program must pass its visible and held-out tests, and every
bug must be a unique edit: otherwise the corpus, not the engine, is wrong and the run stops.
Prints a table and writes benchmarks/repair/results.json.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import platform
import shutil
import statistics
import sys
import tempfile
import time
import tomllib
from dataclasses import asdict, dataclass, replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from entrypoints import bootstrap  # noqa: E402
from pve.models import (  # noqa: E402
    RunMode,
    RunSpec,
    SessionStatus,
    VerifyRequest,
)
from pve.settings import Settings  # noqa: E402
from sandbox.bwrap import BubblewrapSandbox  # noqa: E402
from statemachine.runner import verify  # noqa: E402


@dataclass(frozen=True)
class Bug:
    id: str
    program: str
    origin: str
    edits: tuple[tuple[str, str], ...]  # (find, replace): each find unique in the correct program

    @property
    def faults(self) -> int:
        return len(self.edits)


@dataclass
class Row:
    id: str
    origin: str
    kind: str = "?"
    status: str = ""
    verified: bool = False
    plausible: bool = False  # shown as "plausible, not verified"
    correct: bool = False  # the fix shown passes the held-out tests
    tried: int = 0
    ranked: int = 0
    first_fix_s: float | None = None
    total_s: float = 0.0
    faults: int = 1
    program: str = ""
    per_s: float | None = None  # candidates judged per second of search
    rule: str = ""
    note: str = ""


def load_bugs(path: Path = HERE / "bugs.toml") -> list[Bug]:
    raw = tomllib.loads(path.read_text())
    bugs = []
    for b in raw["bug"]:
        edits = [(e["find"], e["replace"]) for e in b.get("edits", [])] or [(b["find"], b["replace"])]
        bugs.append(Bug(id=b["id"], program=b["program"], origin=b["origin"], edits=tuple(edits)))
    ids = [b.id for b in bugs]
    if len(ids) != len(set(ids)):
        raise SystemExit("bugs.toml: duplicate ids")
    for b in bugs:
        module = HERE / "programs" / b.program / f"{b.program}.py"
        text = module.read_text()
        for find, _ in b.edits:
            count = text.count(find)
            if count != 1:
                raise SystemExit(f"bugs.toml: {b.id}: the find text occurs {count} times in {module.name} (must be once)")
        buggy(b)  # edits must not overlap
    return bugs


def buggy(bug: Bug) -> str:
    """The correct program with the bug's edits, each at its place in the correct text."""
    text = (HERE / "programs" / bug.program / f"{bug.program}.py").read_text()
    spans = sorted((text.index(find), text.index(find) + len(find), new) for find, new in bug.edits)
    for (_, end, _), (start, _, _) in itertools.pairwise(spans):
        if start < end:
            raise SystemExit(f"bugs.toml: {bug.id}: two edits overlap")
    for start, end, new in reversed(spans):
        text = text[:start] + new + text[end:]
    return text


def build(bug: Bug, into: Path) -> Path:
    """The project PVE sees: the buggy module and the visible tests only."""
    prog = HERE / "programs" / bug.program
    project = into / bug.id
    (project / "tests").mkdir(parents=True)
    (project / f"{bug.program}.py").write_text(buggy(bug))
    shutil.copyfile(prog / "test_visible.py", project / "tests" / f"test_{bug.program}.py")
    return project


def heldout_patch(program: str) -> dict[str, str]:
    return {f"tests/test_{program}_heldout.py": (HERE / "programs" / program / "test_heldout.py").read_text()}


async def all_pass(sandbox: BubblewrapSandbox, project: Path, patches: dict[str, str]) -> tuple[bool, str]:
    staged = sandbox.stage(project)
    try:
        run = await sandbox.run(staged, RunSpec(mode=RunMode.PYTEST, argv=["tests"], patches=patches, label="held-out"))
    finally:
        sandbox.cleanup(staged)
    bad = [t for t, o in run.record.outcomes.items() if o != "passed"]
    ok = run.nonce_ok and not bad and run.record.collected > 0
    return ok, ("" if ok else (", ".join(bad[:3]) or run.outcome_text()))


async def check_corpus(sandbox: BubblewrapSandbox, bugs: list[Bug], tmp: Path) -> None:
    """Every correct program passes its visible and held-out tests."""
    programs = sorted({b.program for b in bugs})
    for name in programs:
        project = tmp / f"correct-{name}"
        (project / "tests").mkdir(parents=True)
        shutil.copyfile(HERE / "programs" / name / f"{name}.py", project / f"{name}.py")
        shutil.copyfile(HERE / "programs" / name / "test_visible.py", project / "tests" / f"test_{name}.py")
    results = await asyncio.gather(*(all_pass(sandbox, tmp / f"correct-{n}", heldout_patch(n)) for n in programs))
    broken = [f"{n}: {why}" for n, (ok, why) in zip(programs, results, strict=True) if not ok]
    if broken:
        raise SystemExit("corpus error, the correct programs must pass all their tests:\n  " + "\n  ".join(broken))


def kind_of(session) -> str:
    """assertion: every failing visible test failed on an assert; crash: some raised anything else."""
    if session.before is None:
        return "?"
    rec = session.before.record
    failing = [t for t, o in rec.outcomes.items() if o in ("failed", "error")]
    types = {rec.test_exceptions[t].type for t in failing if t in rec.test_exceptions}
    if not types:
        return "?"
    return "assertion" if types == {"AssertionError"} else "crash"


async def run_bug(bug: Bug, services: bootstrap.Services, tmp: Path) -> Row:
    project = build(bug, tmp)
    row = Row(bug.id, bug.origin, faults=bug.faults, program=bug.program)
    t0 = time.monotonic()
    # brain="offline", no cache: these are the offline engine's own figures
    session = await verify(VerifyRequest(path=project, test=f"tests/test_{bug.program}.py", trigger="benchmark",
                                         brain="offline", cache=False), services)
    row.total_s = time.monotonic() - t0
    row.kind = kind_of(session)
    row.status = session.status.value
    if session.search:
        row.tried, row.ranked = session.search.tried, session.search.ranked
        search_s = session.timings_ms.get("validate", 0) / 1000
        row.per_s = round(row.tried / search_s, 2) if search_s > 0 and row.tried else None
        if session.search.first_verified_ms is not None:
            row.first_fix_s = session.search.first_verified_ms / 1000
    winner = session.winning_candidate()
    if session.status in (SessionStatus.VERIFIED, SessionStatus.PLAUSIBLE) and winner is not None:
        row.verified = session.status is SessionStatus.VERIFIED
        row.plausible = not row.verified
        row.rule = winner.rule
        # judged on the original tests: a candidate's edits to test files are dropped
        patches = {e.path: e.new_text for e in winner.edits if not e.path.startswith("tests/")} | heldout_patch(bug.program)
        row.correct, why = await all_pass(services.sandbox, project, patches)
        if not row.correct:
            row.note = f"held-out: {why}"
    else:
        row.note = session.message[:90]
    return row


def pct(n: int, d: int) -> str:
    return f"{100 * n / d:.0f}%" if d else "-"


def quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[k]


def summarize(rows: list[Row]) -> dict:
    def block(sel: list[Row]) -> dict:
        fixes = [r.first_fix_s for r in sel if r.first_fix_s is not None]
        rates = [r.per_s for r in sel if r.per_s is not None]
        return {"bugs": len(sel), "verified": sum(r.verified for r in sel),
                "correct": sum(r.correct and r.verified for r in sel),
                "wrong_verified": sum(r.verified and not r.correct for r in sel),
                "plausible": sum(r.plausible for r in sel),
                "plausible_correct": sum(r.plausible and r.correct for r in sel),
                "median_s": quantile(fixes, 0.5), "p90_s": quantile(fixes, 0.9),
                "candidates_per_s": quantile(rates, 0.5),
                "candidates_median": quantile([float(r.tried) for r in sel], 0.5),
                "candidates_mean": statistics.fmean([r.tried for r in sel]) if sel else None}
    return {"all": block(rows),
            "crash": block([r for r in rows if r.kind == "crash"]),
            "assertion": block([r for r in rows if r.kind == "assertion"]),
            "seeded": block([r for r in rows if r.origin == "seeded"]),
            "hand": block([r for r in rows if r.origin == "hand"]),
            "single": block([r for r in rows if r.faults == 1]),
            "multi-fault": block([r for r in rows if r.faults > 1]),
            "algorithms": block([r for r in rows if r.program == "algos"])}


def print_table(rows: list[Row], summary: dict, verbose: bool) -> None:
    if verbose:
        print(f"{'bug':14} {'kind':9} {'origin':6} {'result':9} {'tried':>5} {'first fix':>9}  rule / note")
        for r in rows:
            result = ("correct" if r.correct else "WRONG") if r.verified else \
                ("plausible+" if r.correct else "plausible") if r.plausible else "-"
            first = f"{r.first_fix_s:.2f} s" if r.first_fix_s is not None else "-"
            print(f"{r.id:14} {r.kind:9} {r.origin:6} {result:9} {r.tried:>5} {first:>9}  {r.rule or r.note}")
        print()
    print(f"{'':11} {'bugs':>5} {'verified':>12} {'correct':>12} {'wrong':>6} {'plausible':>9} {'median s':>9} {'p90 s':>7}"
          f" {'tried (med/mean)':>17} {'cand/s':>7}")
    for name, b in summary.items():
        med = f"{b['median_s']:.2f}" if b["median_s"] is not None else "-"
        p90 = f"{b['p90_s']:.2f}" if b["p90_s"] is not None else "-"
        tried = f"{b['candidates_median']:.0f} / {b['candidates_mean']:.1f}" if b["bugs"] else "-"
        rate = f"{b['candidates_per_s']:.1f}" if b.get("candidates_per_s") is not None else "-"
        print(f"{name:11} {b['bugs']:>5} {b['verified']:>4} ({pct(b['verified'], b['bugs']):>4}) "
              f"{b['correct']:>4} ({pct(b['correct'], b['bugs']):>4}) {b['wrong_verified']:>6} {b['plausible']:>9} "
              f"{med:>9} {p90:>7} {tried:>17} {rate:>7}")


async def main_async(args: argparse.Namespace) -> int:
    bugs = load_bugs()
    if args.only:
        bugs = [b for b in bugs if b.id in set(args.only) or b.program in set(args.only)]
        if not bugs:
            raise SystemExit("no bug matches --only")
    tmp = Path(tempfile.mkdtemp(prefix="pve-repair-bench-"))
    try:
        settings = replace(Settings.from_env(), home=tmp / "home")
        services = bootstrap.services(settings)
        await check_corpus(services.sandbox, bugs, tmp)
        rows = []
        for bug in bugs:
            row = await run_bug(bug, services, tmp)
            rows.append(row)
            if args.verbose:
                print(f"  {row.id}: {row.status}, {row.tried} tried, {row.total_s:.1f} s", file=sys.stderr)
        summary = summarize(rows)
        print_table(rows, summary, args.verbose)
        out = {"machine": f"{platform.system()} {platform.machine()}, {__import__('os').cpu_count()} cores",
               "settings": {"slots": settings.slots, "max_candidates": settings.max_candidates,
                            "search_seconds": settings.search_seconds, "search_window": settings.search_window},
               "summary": summary, "bugs": [asdict(r) for r in rows]}
        if not args.only:
            Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", nargs="*", help="bug ids or program names")
    p.add_argument("--json", default=str(HERE / "results.json"), help="where to write the figures (full runs only)")
    p.add_argument("-v", "--verbose", action="store_true", help="one row per bug")
    return asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
