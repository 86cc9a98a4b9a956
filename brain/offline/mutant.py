"""What a repair operator proposes: a ``Mutant`` (the whole-file text, its rule, rationale and
prior), and the span arithmetic every operator family shares (an operator swapped inside the gap
between two operands, an operand wrapped in parentheses when its precedence needs them).

Apart so the operator families (``expression_ops``, ``scope_ops``) and the statement and function
operators of ``mutate`` share one vocabulary.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from brain.source import BIN_SYMBOL, Spans


@dataclass(frozen=True)
class Mutant:
    rule: str
    rationale: str
    new_text: str
    prior: float


_LOW_PRECEDENCE = (ast.BoolOp, ast.Compare, ast.IfExp, ast.Lambda, ast.NamedExpr)


def _op_pattern(symbol: str) -> re.Pattern[str]:
    if symbol[0].isalpha():
        return re.compile(r"(?<![\w])" + r"\s+".join(map(re.escape, symbol.split())) + r"(?![\w])")
    return re.compile(r"(?<![<>=!*/%&|])" + re.escape(symbol) + r"(?![<>=*/&|])")


def swap_in_gap(t: Spans, a: int, b: int, old: str, new: str) -> str | None:
    """The text with operator ``old`` replaced by ``new`` in the gap ``a:b`` between two operands
    (never in a comment there); None when the gap does not hold it."""
    gap = t.data[a:b].decode("utf-8")
    code = gap.split("#")[0] if "\n" not in gap else gap
    m = _op_pattern(old).search(code)
    if m is None:
        return None
    return t.replace(a + len(gap[: m.start()].encode()), a + len(gap[: m.end()].encode()), new)


def wrap(t: Spans, node: ast.expr) -> str:
    """The node's source, in parentheses when an operator put beside it would bind tighter."""
    text = t.seg(node)
    if isinstance(node, _LOW_PRECEDENCE) or (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not)) \
            or (isinstance(node, ast.BinOp) and BIN_SYMBOL.get(type(node.op)) in ("&", "|", "<<", ">>")):
        return f"({text})"
    return text


def int_value(node: ast.AST) -> int | None:
    """The value of an integer literal (``3``, ``-1``); None for anything else."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant) \
            and type(node.operand.value) is int:
        return -node.operand.value
    return None
