"""Operator priors come from mined fix histories (benchmarks/priors/mine.py), not from a hand-set table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from brain.offline import mutate, priors

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks" / "priors"))

import mine  # noqa: E402


def test_the_table_is_the_miners_output() -> None:
    mined = json.loads((ROOT / "benchmarks" / "priors" / "mined.json").read_text())
    assert mined["sites"] == priors.SITES
    assert {rule: (v["sites"], v["candidates"], v["hits"]) for rule, v in mined["rules"].items()} == priors.MINED
    assert set(priors.MINED) <= set(priors.RULES)


def test_every_rule_has_a_prior_within_the_search_span() -> None:
    assert set(priors.PRIORS) == set(priors.RULES)
    assert mutate.PRIORS is priors.PRIORS
    assert all(priors.FLOOR <= p <= priors.CEILING for p in priors.PRIORS.values())
    assert min(priors.PRIORS.values()) == priors.FLOOR and max(priors.PRIORS.values()) == priors.CEILING


def test_priors_follow_hits_per_candidate(monkeypatch: pytest.MonkeyPatch) -> None:
    table = {"compare.boundary": (10, 100, 10),  # 10 % of its candidates were the fix
             "variable.wrong": (10, 10_000, 10),  # as many fixes, but among 100x the candidates
             "statement.copy": (10, 100_000, 0)}  # never the fix
    monkeypatch.setattr(priors, "MINED", table)
    p = priors._priors()
    assert p["compare.boundary"] == priors.CEILING and p["statement.copy"] == priors.FLOOR
    assert p["compare.boundary"] > p["variable.wrong"] > p["statement.copy"]
    # a rule never seen at a fix sits at the pooled rate: between the two extremes, not at zero
    assert p["statement.copy"] < p["slip.no-effect"] < p["compare.boundary"]
    pooled = 20 / 110_100
    rate = priors._rates()
    assert rate["slip.no-effect"] == pytest.approx(pooled)
    assert rate["compare.boundary"] == pytest.approx(11 / (100 + 1 / pooled))


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True,
                   capture_output=True)


def _commit(work: Path, message: str, files: dict[str, str]) -> None:
    for name, text in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)
    _git(work, "add", "-A")
    _git(work, "commit", "-m", message)


def test_the_miner_replays_operators_on_a_fix_history(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    _git(work, "init", "-q")
    buggy = "def last(xs):\n    if not xs:\n        return None\n    return xs[len(xs)]\n"
    _commit(work, "Add last()", {"pkg/seq.py": buggy, "pkg/other.py": "X = 1\n"})
    _commit(work, "Add a helper", {"pkg/other.py": "X = 1\nY = 2\n"})  # not a fix
    _commit(work, "Fix off-by-one in last()", {"pkg/seq.py": buggy.replace("len(xs)]", "len(xs) - 1]"),
                                               "tests/test_seq.py": "def test_last(): pass\n"})
    _commit(work, "Fix a comment", {"pkg/other.py": "X = 1  # one\nY = 2\n"})  # same syntax tree
    _commit(work, "Fix two modules", {"pkg/other.py": "X = 2  # one\nY = 2\n", "pkg/seq.py": buggy})  # two modules
    _commit(work, "Fix the test only", {"tests/test_seq.py": "def test_last(): assert True\n"})
    _commit(work, "fix: a wrong name", {"pkg/seq.py": buggy.replace("if not xs", "if not ys")})  # out of reach
    mirrors = tmp_path / "mirrors"
    subprocess.run(["git", "clone", "-q", "--mirror", str(work), str(mirrors / "o+p" / "repo")], check=True)

    out = mine.mine_repo(("o/p", str(mirrors)))

    # fix commits that modify exactly one module: the off-by-one, the comment and the wrong name
    assert out["fix_commits"] == 3
    assert out["sites"] == 2  # the comment's fix changes no syntax tree
    assert [h["rule"] for h in out["hits"]] == ["bound.plus-minus-one"]
    assert out["hits"][0]["path"] == "pkg/seq.py" and out["hits"][0]["line"] == 4
    sites, candidates, hits = out["rules"]["bound.plus-minus-one"]
    assert hits == 1 and candidates >= 1 and sites >= 1
    assert sum(h for _, _, h in out["rules"].values()) == 1
