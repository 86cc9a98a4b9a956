"""What a crash template proposes, and the failing site it reads: a ``Proposal`` (a whole-file
text with its rule, rationale and score), the ``Context`` of the failure, and the small readings
every template family shares (the failing line and statement, close names, a guard before it).

Apart so the template families (``name_fixes``, ``attribute_fixes``, ``data_fixes``,
``syntax_fixes``) and the registry that runs them (``templates``) share one vocabulary.
"""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from brain.source import SourceFile, indent_of
from pve.models import Analysis, ExceptionInfo, Frame

Reader = Callable[[str], str]


@dataclass(frozen=True)
class Proposal:
    rule: str
    rationale: str
    path: str
    new_text: str
    score: float  # higher first


@dataclass
class Context:
    analysis: Analysis
    exc: ExceptionInfo
    frame: Frame | None  # innermost editable project frame
    src: SourceFile | None
    read: Reader
    project_files: list[str]
    editable: Callable[[str], bool] = lambda _p: True


def close_matches(word: str, options: set[str], n: int = 3) -> list[tuple[str, float]]:
    options = {o for o in options if o != word}
    found = difflib.get_close_matches(word, sorted(options), n=n, cutoff=0.6)
    return [(f, difflib.SequenceMatcher(None, word, f).ratio()) for f in found]


def sub_word(line: str, old: str, new: str, *, attribute: bool = False) -> str:
    if attribute:
        return re.sub(rf"\.{re.escape(old)}\b", f".{new}", line)
    return re.sub(rf"(?<![\w.]){re.escape(old)}\b", new, line)


def quoted(message: str) -> list[str]:
    return re.findall(r"'([^']*)'", message)


def failing_line(ctx: Context) -> tuple[SourceFile, int, str] | None:
    if ctx.src is None or ctx.frame is None or not ctx.frame.line:
        return None
    line = ctx.src.line(ctx.frame.line)
    return (ctx.src, ctx.frame.line, line) if line.strip() else None


def failing_statement(ctx: Context) -> tuple[SourceFile, int, str, ast.stmt] | None:
    """The failing line and the statement around it, when both are known."""
    lc = failing_line(ctx)
    if lc is None:
        return None
    stmt = lc[0].statement_at(lc[1])
    return None if stmt is None else (*lc, stmt)


def guard(ctx: Context, condition: str, values: list[tuple[str, float]], rule: str, why: str) -> Iterator[Proposal]:
    """Insert ``if <condition>: return <value>`` before the failing statement (inside a function)."""
    lc = failing_line(ctx)
    if lc is None:
        return
    src, lineno, _line = lc
    func = src.enclosing_function(lineno)
    stmt = src.statement_at(lineno)
    if func is None or stmt is None:
        return
    ind = indent_of(src.line(stmt.lineno))
    for value, score in values:
        new = src.insert_before(stmt.lineno, [f"{ind}if {condition}:", f"{ind}    return {value}"])
        yield Proposal(rule, f"{why}: return {value} when {condition}", src.path, new, score)
