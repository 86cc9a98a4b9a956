"""The offline engine: candidate fixes from templates per exception type, at the failing frame.

No key, no network, deterministic. Each rule looks at the innermost editable project frame (or
the SyntaxError location) and proposes small edits; the engine compiles, deduplicates (by
normalised AST) and ranks them. Nothing here decides whether a fix works: the sandbox does.

The templates live by exception family (``name_fixes``, ``attribute_fixes``, ``data_fixes``,
``syntax_fixes``), on the vocabulary of ``proposal``; this module holds the registry that picks
them per exception type, and the ranking of what they propose.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from brain.candidates import Checker
from brain.offline.attribute_fixes import (
    attribute_closest,
    import_closest,
    none_guard,
    provide_name,
)
from brain.offline.data_fixes import (
    index_fixes,
    key_fixes,
    reshaped,
    type_fixes,
    value_fixes,
    zero_division,
)
from brain.offline.name_fixes import name_closest, name_import, unbound_local
from brain.offline.proposal import Context, Proposal, Reader
from brain.offline.syntax_fixes import syntax_fixes
from brain.source import SourceFile
from pve.models import SYNTAX_ERRORS, Analysis, Candidate, FileEdit

# (Proposal and Reader live in ``proposal``; callers may still import them from here.)
__all__ = ["Proposal", "Reader", "proposals", "to_candidates"]


def proposals(analysis: Analysis, read: Reader, editable: Callable[[str], bool], project_files: list[str]) -> list[Proposal]:
    """The exception type's templates at the failing frame (or the SyntaxError's location)."""
    exc = analysis.exception
    frame = analysis.failing_frame
    path = None
    if exc.syntax_file and exc.type in SYNTAX_ERRORS and exc.syntax_file in project_files:
        path = exc.syntax_file
    elif frame is not None and frame.project_path:
        path = frame.project_path
    if path is None or not editable(path):
        # The failure surfaced in code no fix may touch (a test, the reproduction): only the
        # templates that fix elsewhere apply.
        remote = Context(analysis, exc, frame, None, read, project_files, editable)
        return [p for rule in _ELSEWHERE.get(exc.type, []) for p in rule(remote)]
    try:
        src = SourceFile(path, read(path))
    except (FileNotFoundError, UnicodeDecodeError):
        return []
    ctx = Context(analysis, exc, frame, src, read, project_files, editable)
    out: list[Proposal] = []
    for rule in [*_RULES.get(exc.type, []), *_ELSEWHERE.get(exc.type, [])]:
        out.extend(rule(ctx))
    return out


def to_candidates(proposals: list[Proposal], read: Reader, limit: int) -> list[Candidate]:
    """Rank (score, then rule, path and text: deterministic), drop what does not parse or
    changes nothing, deduplicate by normalised AST, and stop at ``limit``."""
    seen: set[tuple[str, str]] = set()
    checkers: dict[str, Checker] = {}
    ranked = sorted(proposals, key=lambda p: (-p.score, p.rule, p.path, p.new_text))
    out: list[Candidate] = []
    for p in ranked:
        if p.path not in checkers:
            checkers[p.path] = Checker(p.path, read(p.path))
        checked = checkers[p.path].check(p.new_text)  # compiles, changes code: (dedup key, diff)
        if checked is None or (p.path, checked[0]) in seen:
            continue
        seen.add((p.path, checked[0]))
        diff = checked[1]
        out.append(Candidate(id=len(out) + 1, source="offline", rule=p.rule, rationale=p.rationale,
                             edits=[FileEdit(path=p.path, new_text=p.new_text)], diff=diff,
                             diff_lines=sum(1 for x in diff.splitlines() if x[:1] in "+-" and x[:3] not in ("+++", "---"))))
        if len(out) >= limit:
            break
    return out


# --------------------------------------------------------------------------- registry

_RULES: dict[str, list[Callable[[Context], Iterator[Proposal]]]] = {
    "NameError": [name_closest, name_import],
    "UnboundLocalError": [unbound_local],
    "AttributeError": [attribute_closest, none_guard, reshaped],
    "ImportError": [import_closest],
    "ModuleNotFoundError": [import_closest],
    "KeyError": [key_fixes, reshaped],
    "IndexError": [index_fixes],
    "ZeroDivisionError": [zero_division],
    "TypeError": [type_fixes, none_guard, reshaped],
    "ValueError": [value_fixes],
    "SyntaxError": [syntax_fixes],
    "IndentationError": [syntax_fixes],
    "TabError": [syntax_fixes],
}

# Templates that edit another file than the failing frame's (which may not be editable).
_ELSEWHERE: dict[str, list[Callable[[Context], Iterator[Proposal]]]] = {
    "ImportError": [provide_name],
}
