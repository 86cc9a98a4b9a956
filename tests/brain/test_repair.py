"""The engine's ranking: templates first, then suspiciousness x prior; deduplicated, bounded, deterministic."""

from __future__ import annotations

from brain.offline import rank
from brain.offline.localize import Suspect
from brain.source import normalized
from pve.models import Analysis, Category, ExceptionInfo, Frame

SRC = """\
def mean(values):
    total = 0
    for v in values:
        total += v
    return total / len(values)


def clamp(x, lo, hi):
    if x > hi:
        return hi
    return x
"""


def read(path: str) -> str:
    if path != "lib.py":
        raise FileNotFoundError(path)
    return SRC


def crash() -> Analysis:
    frame = Frame(file="lib.py", line=5, function="mean", project_path="lib.py")
    exc = ExceptionInfo(type="ZeroDivisionError", qualified_type="ZeroDivisionError", message="division by zero",
                        frames=[frame])
    return Analysis(exception=exc, category=Category.ARITHMETIC, failing_frame=frame, project_frames=[frame])


def plan(analysis, suspects, limit=500):
    return rank.plan(analysis, suspects, read, lambda p: p == "lib.py", ["lib.py"], limit)


def test_templates_for_the_crash_come_before_mutations():
    p = plan(crash(), [Suspect("lib.py", 5, 1.3, "traceback frame")])
    rules = [c.rule for c in p.candidates]
    first_mutation = next(i for i, c in enumerate(p.candidates) if not c.rule.startswith("zero."))
    assert rules[0].startswith("zero.") and all(r.startswith("zero.") for r in rules[:first_mutation])
    assert len(p.candidates) > first_mutation  # and mutations follow


def test_more_suspicious_lines_first_and_priors_within_a_line():
    p = plan(None, [Suspect("lib.py", 9, 1.0, "ochiai 1.00"), Suspect("lib.py", 5, 0.2, "ochiai 0.20")])
    first_line5 = next(i for i, c in enumerate(p.candidates) if "(lib.py:5)" in c.rationale)
    first_line9 = next(i for i, c in enumerate(p.candidates) if "(lib.py:9)" in c.rationale)
    assert first_line9 < first_line5
    assert p.candidates[0].rule == "compare.boundary"  # x > hi -> x >= hi: the likeliest edit at line 9


def test_candidates_are_distinct_programs_and_never_the_original():
    p = plan(crash(), [Suspect("lib.py", n, 1.0, "") for n in (2, 3, 4, 5, 9, 10, 11)])
    forms = [normalized(c.edits[0].new_text) for c in p.candidates]
    assert len(forms) == len(set(forms))
    assert normalized(SRC) not in forms
    assert p.proposed >= len(p.candidates)


def test_the_limit_bounds_the_ranking():
    suspects = [Suspect("lib.py", n, 1.0, "") for n in (2, 3, 4, 5, 9, 10, 11)]
    assert len(plan(crash(), suspects, limit=7).candidates) == 7
    assert [c.diff for c in plan(crash(), suspects, limit=7).candidates] == \
        [c.diff for c in plan(crash(), suspects).candidates[:7]]


def test_the_ranking_is_deterministic():
    suspects = [Suspect("lib.py", n, 1.0, "") for n in (2, 3, 4, 5, 9, 10, 11)]
    first = [(c.rule, c.diff) for c in plan(crash(), suspects).candidates]
    for _ in range(3):
        assert [(c.rule, c.diff) for c in plan(crash(), suspects).candidates] == first
