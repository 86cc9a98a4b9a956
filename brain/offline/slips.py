"""Operators for the slips of writing code that give wrong answers (and learners' crashes):
what a one-token look at real beginner and everyday fixes shows beside the classic mutation
operators in ``brain/offline/mutate.py``.

- ``slip.accumulate``: ``total = mark`` inside a loop, where ``total`` was set before the loop,
  is nearly always ``total += mark``;
- ``slip.no-effect``: an expression statement that computes and drops ``total + mark`` meant
  ``total += mark``;
- ``slip.call``: a method named but not called (``word[0].upper``, ``ch.isalpha``,
  ``text.split``) is called;
- ``slip.conversion``: a conversion that makes the types wrong (``str(words) / rate``) is dropped;
- ``loop.condition``: ``while True:`` around a loop that takes from a collection
  (``queue.popleft()``, ``stack.pop()``) stops when the collection is empty: ``while queue:``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from brain.source import BIN_SYMBOL, SourceFile, Spans

# Methods that are (almost) always called with no arguments when they are meant: naming one
# without calling it is the slip.
NO_ARG_METHODS = frozenset({
    "upper", "lower", "strip", "lstrip", "rstrip", "split", "title", "capitalize", "casefold", "swapcase",
    "isalpha", "isalnum", "isdigit", "isdecimal", "isnumeric", "isspace", "isupper", "islower", "istitle",
    "keys", "values", "items", "copy", "pop", "popleft", "reverse", "sort", "clear", "splitlines",
})
# Character tests people mix up (isalpha for isalnum, isdigit for isnumeric ...).
PREDICATE_SIBLINGS = {
    "isalpha": ("isalnum",), "isalnum": ("isalpha",), "isdigit": ("isnumeric", "isdecimal", "isalnum"),
    "isnumeric": ("isdigit",), "isdecimal": ("isdigit",), "isupper": ("islower",), "islower": ("isupper",),
}
CONVERSIONS = frozenset({"str", "int", "float", "list", "tuple", "set", "bool"})
TAKERS = frozenset({"pop", "popleft", "popitem", "get_nowait"})


@dataclass(frozen=True)
class SlipEdit:
    rule: str
    rationale: str
    new_text: str


def at_statement(src: SourceFile, stmt: ast.stmt, func: ast.FunctionDef | ast.AsyncFunctionDef | None,
                 header: list[ast.AST]) -> Iterator[SlipEdit]:
    """The slips the statement (its ``header`` expressions) may hold."""
    t = Spans(src)
    target = stmt.targets[0] if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 else None
    base = target.value if isinstance(target, ast.Subscript) else target  # total = m, or counts[k] = 1
    if isinstance(stmt, ast.Assign) and target is not None and isinstance(base, ast.Name) \
            and func is not None and _in_loop(func, stmt) and _set_before(func, base.id, stmt):
        name = t.seg(target)
        a, b = t.between(stmt.targets[0], stmt.value)
        yield SlipEdit("slip.accumulate", f"'{name} =' in a loop overwrites what came before: '{name} +='",
                       t.replace(a, b, " += "))
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.BinOp) and isinstance(stmt.value.left, ast.Name):
        op = BIN_SYMBOL.get(type(stmt.value.op))
        if op:
            left, right = stmt.value.left, stmt.value.right
            yield SlipEdit("slip.no-effect", f"'{t.seg(stmt.value)}' is computed and dropped: '{left.id} {op}='",
                           t.sub(stmt, f"{left.id} {op}= {t.seg(right)}"))
    for expr in header:
        called = {id(n.func) for n in ast.walk(expr) if isinstance(n, ast.Call)}
        for node in ast.walk(expr):
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load) and node.attr in NO_ARG_METHODS \
                    and id(node) not in called:
                yield SlipEdit("slip.call", f"'{t.seg(node)}' names the method without calling it",
                               t.sub(node, t.seg(node) + "()"))
                for other in PREDICATE_SIBLINGS.get(node.attr, ()):  # ch.isalpha meant ch.isalnum()
                    yield SlipEdit("slip.call", f"'{t.seg(node)}' is not called, and {other}() is the test meant",
                                   t.sub(node, f"{t.seg(node.value)}.{other}()"))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in CONVERSIONS \
                    and len(node.args) == 1 and not node.keywords and not isinstance(node.args[0], ast.Starred):
                yield SlipEdit("slip.conversion", f"{node.func.id}() makes the wrong type here: drop it",
                               t.sub(node, t.seg(node.args[0])))
    if isinstance(stmt, ast.While) and isinstance(stmt.test, ast.Constant) and stmt.test.value in (True, 1):
        for name in _taken_from(stmt):
            yield SlipEdit("loop.condition", f"the loop takes from {name}: it should stop when {name} is empty",
                           t.sub(stmt.test, name))




def _in_loop(func: ast.AST, stmt: ast.stmt) -> bool:
    for node in ast.walk(func):
        if isinstance(node, ast.For | ast.While) and node is not stmt:
            if any(child is stmt for child in ast.walk(node)):
                return True
    return False


def _set_before(func: ast.AST, name: str, stmt: ast.stmt) -> bool:
    """``name`` is assigned earlier in the function, outside the loop that holds ``stmt``."""
    for node in ast.walk(func):
        if isinstance(node, ast.Assign | ast.AnnAssign) and node is not stmt and node.lineno < stmt.lineno:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(x, ast.Name) and x.id == name for x in targets):
                return True
    return False


def _taken_from(loop: ast.While) -> list[str]:
    """Names the loop body takes items from (``name.pop()``), in order of appearance."""
    names: list[str] = []
    for node in ast.walk(loop):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in TAKERS \
                and isinstance(node.func.value, ast.Name) and node.func.value.id not in names:
            names.append(node.func.value.id)
    return names
