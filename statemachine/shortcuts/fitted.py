"""Fitted constants: a new literal that is the failing check's expected value, or a constant
tuned step by step towards it, unless the code already names that value. Rejected before it
runs. Apart from the reading of the reproduction (``reproduction.py``), which finds the values
expected; this judges the candidate's literals against them.
"""

from __future__ import annotations

import ast
import functools
from collections import Counter

# Literals too common in real fixes to count as fitted (off by one, empty, a flag).
_TRIVIAL: frozenset[object] = frozenset({0, 1, -1, "", " ", None})


def fitted_literals(old: ast.AST | None, new: ast.AST, context: str, expected: frozenset[object],
                    rule: str) -> list[str]:
    """A new literal that the failing check expects, unless the edited code already names it
    (``context``: the original text of the edited function, its docstring and comments, or the
    module for a change at module level). A value the module holds elsewhere (a default table)
    does not excuse it: the fix should use that name, not a copy fitted to one test. A constant
    stepped more than once (stepping stones' ``constant.near``) is rejected whatever its value."""
    added = literals(new) - literals(old)
    reasons = []
    named = _named(context)
    for value in sorted(added, key=repr):
        if trivial(value):
            continue
        if rule.count("constant.near") >= 2:
            reasons.append(f"tunes a constant step by step to {value!r} (fitted to the tests, not derived from the code)")
        elif value in expected and not _names(named, value):
            reasons.append(f"sets {value!r}, the value the failing check expects, which the edited code does not name")
    return reasons


def trivial(value: object) -> bool:
    """Too common in real fixes to count as fitted (off by one, empty, a flag)."""
    try:
        return value in _TRIVIAL and type(value) in (int, float, str, bool, type(None))
    except TypeError:
        return False


@functools.lru_cache(maxsize=16)
def literals(tree: ast.AST | None) -> Counter[object]:
    """The constants ``tree`` holds (a negative number as one), counted."""
    if tree is None:
        return Counter()
    out: Counter[object] = Counter()
    for n in ast.walk(tree):
        if isinstance(n, ast.Constant) and not isinstance(n.value, bytes | type(...)):
            out[n.value] += 1
        elif isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub) and isinstance(n.operand, ast.Constant) \
                and isinstance(n.operand.value, int | float) and not isinstance(n.operand.value, bool):
            out[-n.operand.value] += 1
    return out


@functools.lru_cache(maxsize=8)
def _named(text: str) -> tuple[frozenset[object], str]:
    try:
        tree: ast.AST | None = ast.parse(text)
    except (SyntaxError, ValueError):
        tree = None
    return frozenset(literals(tree)), text


def _names(named: tuple[frozenset[object], str], value: object) -> bool:
    known, text = named
    try:
        if value in known:
            return True
    except TypeError:
        return False
    return isinstance(value, int | float | str) and len(str(value)) >= 2 and str(value) in text
