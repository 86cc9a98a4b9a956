"""Operator priors from public fix histories: how often does each operator write the real fix?

    uv run python benchmarks/priors/mine.py [--mirrors /work/.mirror] [--write] [--table-only]

Mines small bug fixes from the history of public Python projects and replays the offline engine's
operators on each (``brain.offline.mutate``): for every fix, the operators run at the lines the fix
changed, on the code before it, exactly as the search would at a perfectly localized line; an
operator *hits* when one of its candidates is the maintainers' fix (same syntax tree). Per
operator the counts are: sites where it proposed anything, candidates proposed, hits. The
engine's prior for an operator is its smoothed hit rate per candidate (``brain/offline/priors.py``).

Which commits count (the selection of ManySStuBs4J and TSSB-3M, the single-statement bug-fix
datasets): not a merge; the message names a fix (fix, bug, error, issue, mistake, incorrect,
fault, defect, flaw, wrong, typo); exactly one non-test ``.py`` file modified (tests may change
beside it, as they do with a fix); one hunk of at most three lines removed and three added; both
sides parse and their syntax trees differ (not a comment or formatting change); not a docstring
or an import.

Which projects: ``REPOS`` below, none of them a corpus the engine is measured on (the real-bug
benchmark's five repositories are left out, and so are the learner and algorithm corpora the
repair issue names). Writes ``benchmarks/priors/mined.json`` (counts, and every hit's commit so a
reader can check it) and, with ``--write``, the counts table in ``brain/offline/priors.py``.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from brain.offline import mutate  # noqa: E402
from brain.source import SourceFile  # noqa: E402

# Mirrors as `git clone --mirror https://github.com/OWNER/NAME MIRRORS/OWNER+NAME/repo` makes them.
REPOS = ["pallets/click", "pallets/jinja", "pallets/werkzeug", "psf/requests", "python-attrs/attrs",
         "dateutil/dateutil", "pytoolz/toolz", "marshmallow-code/marshmallow", "python-babel/babel",
         "networkx/networkx", "TheAlgorithms/Python", "keon/algorithms", "tqdm/tqdm", "Textualize/rich",
         "pypa/packaging", "scrapy/scrapy", "sympy/sympy", "ipython/ipython", "pylint-dev/pylint",
         "sphinx-doc/sphinx", "pypa/pip", "pypa/setuptools", "python/mypy", "psf/black", "astropy/astropy",
         "numpy/numpy"]
FIX_WORDS = r"fix|bug|error|issue|mistake|incorrect|fault|defect|flaw|wrong|typo"
MAX_LINES = 3
TABLE_START = "# -- mined counts (benchmarks/priors/mine.py --write) --"
TABLE_END = "# -- end of mined counts --"


@dataclass
class Fix:
    repo: str
    commit: str
    path: str
    before: str
    after: str
    removed: tuple[int, int]  # first line, count (in the file before)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", f"--git-dir={repo}", *args], check=True, capture_output=True,
                          text=True, errors="replace").stdout


def is_test(path: str) -> bool:
    parts = path.lower().split("/")
    name = parts[-1]
    return (any(p in ("test", "tests", "testing") for p in parts[:-1]) or name.startswith("test_")
            or name.endswith("_test.py") or name == "conftest.py")


def fix_commits(repo: Path) -> list[tuple[str, str]]:
    """(commit, path) of fix commits that modify exactly one non-test module."""
    log = git(repo, "log", "--no-merges", "-i", "-E", f"--grep=\\b({FIX_WORDS})", "--format=@%H",
              "--name-status", "--no-renames", "HEAD")
    found: list[tuple[str, str]] = []
    for block in log.split("@")[1:]:
        lines = [x for x in block.splitlines() if x.strip()]
        commit, files = lines[0], [x.split("\t") for x in lines[1:]]
        code = [f for f in files if f[-1].endswith(".py") and not is_test(f[-1])
                and not f[-1].endswith(("setup.py", "conf.py"))]
        if len(code) == 1 and code[0][0] == "M":
            found.append((commit, code[0][1]))
    return found


_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@", re.M)


def load(repo_name: str, repo: Path, commit: str, path: str) -> Fix | None:
    diff = git(repo, "diff", "-U0", f"{commit}^", commit, "--", path)
    hunks = _HUNK.findall(diff)
    if len(hunks) != 1:
        return None
    start, removed, _, added = hunks[0]
    n_removed = 1 if removed == "" else int(removed)
    n_added = 1 if added == "" else int(added)
    if n_removed > MAX_LINES or n_added > MAX_LINES:
        return None
    try:
        before = git(repo, "show", f"{commit}^:{path}")
        after = git(repo, "show", f"{commit}:{path}")
    except subprocess.CalledProcessError:
        return None
    first = int(start) if n_removed else int(start) + 1  # -U0 names the line before a pure insertion
    return Fix(repo_name, commit, path, before, after, (first, n_removed))


def _tree(text: str) -> str | None:
    try:
        return ast.dump(ast.parse(text))
    except (SyntaxError, ValueError, RecursionError):
        return None


def _squeeze(text: str) -> str:
    return "".join(text.split())


def replay(fix: Fix) -> tuple[dict[str, tuple[int, int]], str | None] | None:
    """Run the operators where the fix is; per rule (candidates, hits). None: not a usable fix."""
    after_tree = _tree(fix.after)
    src = SourceFile(fix.path, fix.before)
    if after_tree is None or src.tree is None or ast.dump(src.tree) == after_tree:
        return None
    first, count = fix.removed
    lines = range(first, first + count) if count else range(max(first - 1, 1), first + 1)
    stmts = {id(s): s for s in (src.statement_at(n) for n in lines) if s is not None}
    if not stmts or any(isinstance(s, ast.Import | ast.ImportFrom) or _docstring(s) for s in stmts.values()):
        return None
    texts: dict[str, str] = {}  # candidate text -> rule (first proposer wins, as in the search's dedup)
    funcs = {}
    for s in sorted(stmts.values(), key=lambda s: s.lineno):
        func = src.enclosing_function(s.lineno)
        for m in mutate.at_line(src, s.lineno, func):
            texts.setdefault(m.new_text, m.rule)
        if func is not None:
            funcs[func.lineno] = func
    for func in funcs.values():
        for m in mutate.in_function(src, func):
            texts.setdefault(m.new_text, m.rule)
    per_rule: dict[str, list[int]] = {}
    hit_rule = None
    want = _squeeze(fix.after)
    for text, rule in texts.items():
        slot = per_rule.setdefault(rule, [0, 0])
        slot[0] += 1
        if hit_rule is None and (text == fix.after or _squeeze(text) == want) and _tree(text) == after_tree:
            slot[1] += 1
            hit_rule = rule
    return {r: (c, h) for r, (c, h) in per_rule.items()}, hit_rule


def _docstring(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


def mine_repo(args: tuple[str, str]) -> dict:
    name, mirrors = args
    repo = Path(mirrors) / name.replace("/", "+") / "repo"
    out: dict = {"repo": name, "fix_commits": 0, "small": 0, "sites": 0, "rules": {}, "hits": []}
    if not repo.exists():
        out["missing"] = str(repo)
        return out
    commits = fix_commits(repo)
    out["fix_commits"] = len(commits)
    for commit, path in commits:
        fix = load(name, repo, commit, path)
        if fix is None:
            continue
        out["small"] += 1
        result = replay(fix)
        if result is None:
            continue
        per_rule, hit = result
        out["sites"] += 1
        for rule, (c, h) in per_rule.items():
            slot = out["rules"].setdefault(rule, [0, 0, 0])
            slot[0] += 1
            slot[1] += c
            slot[2] += h
        if hit is not None:
            out["hits"].append({"rule": hit, "commit": commit, "path": path, "line": fix.removed[0]})
    return out


def write_table(rules: dict[str, list[int]], sites: int) -> None:
    target = ROOT / "brain" / "priors.py"
    text = target.read_text()
    a, b = text.index(TABLE_START), text.index(TABLE_END)
    body = [TABLE_START, f"SITES = {sites}  # fixes replayed", "# rule: (sites where it proposed, candidates, hits)",
            "MINED: dict[str, tuple[int, int, int]] = {"]
    for rule in sorted(rules, key=lambda r: (-rules[r][2], -rules[r][1], r)):
        s, c, h = rules[rule]
        body.append(f'    "{rule}": ({s}, {c}, {h}),')
    body.append("}")
    target.write_text(text[:a] + "\n".join(body) + "\n" + text[b:])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mirrors", default="/work/.mirror")
    ap.add_argument("--write", action="store_true", help="rewrite the counts table in brain/offline/priors.py")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--table-only", action="store_true", help="rewrite the table from mined.json, no mining")
    args = ap.parse_args()
    if args.table_only:
        mined = json.loads((HERE / "mined.json").read_text())
        write_table({k: [v["sites"], v["candidates"], v["hits"]] for k, v in mined["rules"].items()}, mined["sites"])
        return
    t0 = time.monotonic()
    with ProcessPoolExecutor(args.jobs) as pool:
        repos = list(pool.map(mine_repo, [(r, args.mirrors) for r in REPOS]))
    rules: dict[str, list[int]] = {}
    for r in repos:
        for rule, counts in r["rules"].items():
            slot = rules.setdefault(rule, [0, 0, 0])
            for i in range(3):
                slot[i] += counts[i]
        print(f"{r['repo']:32} fix commits {r['fix_commits']:5}  small {r['small']:4}  replayed {r['sites']:4}"
              f"  hits {len(r['hits']):3}" + (f"  MISSING {r['missing']}" if "missing" in r else ""))
    sites = sum(r["sites"] for r in repos)
    hits = sum(len(r["hits"]) for r in repos)
    print(f"\n{sites} fixes replayed, {hits} written by an operator ({hits / max(sites, 1):.0%}),"
          f" {time.monotonic() - t0:.0f} s\n")
    print(f"{'rule':26} {'sites':>6} {'cands':>7} {'hits':>5}")
    for rule in sorted(rules, key=lambda r: (-rules[r][2], -rules[r][1])):
        s, c, h = rules[rule]
        print(f"{rule:26} {s:6} {c:7} {h:5}")
    (HERE / "mined.json").write_text(json.dumps(
        {"repos": [{k: v for k, v in r.items() if k != "rules"} for r in repos], "sites": sites,
         "rules": {k: dict(zip(("sites", "candidates", "hits"), v, strict=True)) for k, v in sorted(rules.items())}},
        indent=1) + "\n")
    if args.write:
        write_table(rules, sites)


if __name__ == "__main__":
    main()
