"""The offline repair engine: where to edit (localize) x what to try there (mutate + templates).

Candidates come out in one deterministic order: the exception type's templates at the crash
site first (a targeted fix for a known crash shape beats a blind mutation), then every operator
at every suspicious line, ranked by ``suspiciousness x operator prior``. The search in
``statemachine/search/budget.py`` runs them in that order and stops at a budget.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from brain.offline import mutate, shapes, templates
from brain.offline.localize import Suspect
from brain.offline.templates import Proposal, Reader
from brain.source import SourceFile
from pve.models import Analysis, Candidate

# Templates score 1.2-4.5 in templates.py; mapped above any mutation (suspiciousness <= ~1.4 x prior <= 0.9).
_TEMPLATE_BASE = 1.5


@dataclass(frozen=True)
class Plan:
    candidates: list[Candidate]
    suspects: list[Suspect]
    proposed: int  # proposals before deduplication and the budget


def plan(analysis: Analysis | None, suspects: list[Suspect], read: Reader, editable: Callable[[str], bool],
         project_files: list[str], limit: int) -> Plan:
    proposals: list[Proposal] = []
    if analysis is not None:
        for p in templates.proposals(analysis, read, editable, project_files):
            proposals.append(Proposal(p.rule, p.rationale, p.path, p.new_text, _TEMPLATE_BASE + p.score / 10))
    # the failing assert's two literals, when it shows them: a constant may be the one it got
    values = shapes.assertion_values(analysis.exception.message) if analysis is not None else None
    boost = shapes.hinted(values)
    sources: dict[str, SourceFile] = {}
    functions: dict[tuple[str, int], tuple[float, int]] = {}
    for rank, s in enumerate(suspects):
        if s.path not in sources:
            try:
                sources[s.path] = SourceFile(s.path, read(s.path))
            except (FileNotFoundError, UnicodeDecodeError):
                continue
        src = sources[s.path]
        if src.tree is None:
            continue
        func = src.enclosing_function(s.line)
        # A rank-based epsilon keeps equal scores in localization order, not alphabetical order.
        tie = rank * 1e-7
        for m in mutate.at_line(src, s.line, func):
            proposals.append(Proposal(m.rule, f"{m.rationale} ({s.path}:{s.line})", s.path, m.new_text,
                                      s.score * m.prior * boost.get(m.rule, 1.0) - tie))
        stmt = src.statement_at(s.line)
        if values is not None and stmt is not None:
            for e in shapes.expected_constant(src, stmt, *values):
                proposals.append(Proposal(e.rule, f"{e.rationale} ({s.path}:{s.line})", s.path, e.new_text,
                                          s.score * mutate.PRIORS[e.rule] - tie))
        if func is not None:
            key = (s.path, func.lineno)
            if key not in functions:
                functions[key] = (s.score, rank)
    for (path, lineno), (score, rank) in functions.items():
        src = sources[path]
        func = src.enclosing_function(lineno)
        if func is None:
            continue
        for m in mutate.in_function(src, func):
            proposals.append(Proposal(m.rule, f"{m.rationale} ({path}:{func.lineno})", path, m.new_text,
                                      score * m.prior - rank * 1e-7))
    return Plan(templates.to_candidates(proposals, read, limit), suspects, len(proposals))
