"""Expression operators: a comparison, arithmetic or boolean operator swapped, a bound or an index
off by one, a function for its pair (``min`` for ``max``), arguments swapped, a constant near
another. Each acts on one node of a statement's header (``at_node``).

Apart from ``mutate`` (statements and whole functions) and ``scope_ops`` (a wrong variable):
these need only the node itself, not the names around it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from brain.offline.mutant import Mutant, int_value, swap_in_gap, wrap
from brain.offline.priors import PRIORS
from brain.source import BIN_SYMBOL, Spans

_CMP_SYMBOL = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=",
               ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in"}
_CMP_SWAPS = {
    "<": [("<=", "compare.boundary"), (">", "compare.flip"), (">=", "compare.flip")],
    "<=": [("<", "compare.boundary"), (">=", "compare.flip"), (">", "compare.flip")],
    ">": [(">=", "compare.boundary"), ("<", "compare.flip"), ("<=", "compare.flip")],
    ">=": [(">", "compare.boundary"), ("<=", "compare.flip"), ("<", "compare.flip")],
    "==": [("!=", "compare.flip")], "!=": [("==", "compare.flip")],
    "is": [("is not", "compare.flip")], "is not": [("is", "compare.flip")],
    "in": [("not in", "compare.flip")], "not in": [("in", "compare.flip")],
}
BIN_SWAPS = {"+": ["-"], "-": ["+"], "*": ["/", "//", "+"], "/": ["//", "*"], "//": ["/", "%"], "%": ["//"],
             "**": ["*"], "&": ["|"], "|": ["&"], "<<": [">>"], ">>": ["<<"]}
_NON_COMMUTATIVE = {"-", "/", "//", "%", "**"}


def _compare(t: Spans, node: ast.Compare) -> Iterator[Mutant]:
    operands = [node.left, *node.comparators]
    for i, op in enumerate(node.ops):
        old = _CMP_SYMBOL[type(op)]
        a, b = t.between(operands[i], operands[i + 1])
        for new, rule in _CMP_SWAPS[old]:
            text = swap_in_gap(t, a, b, old, new)
            if text is not None:
                yield Mutant(rule, f"'{old}' should be '{new}'", text, PRIORS[rule])
        # the bound itself off by one: i < n -> i < n - 1 / n + 1
        right = operands[i + 1]
        if old in ("<", "<=", ">", ">=") and not isinstance(right, ast.Constant):
            for delta in ("+ 1", "- 1"):
                yield Mutant("bound.plus-minus-one", f"compare against {t.seg(right)} {delta}",
                             t.sub(right, f"{wrap(t, right)} {delta}"), PRIORS["bound.plus-minus-one"] * 0.7)


def _binop(t: Spans, node: ast.BinOp) -> Iterator[Mutant]:
    old = BIN_SYMBOL.get(type(node.op))
    if old is None:
        return
    a, b = t.between(node.left, node.right)
    for new in BIN_SWAPS.get(old, []):
        text = swap_in_gap(t, a, b, old, new)
        if text is not None:
            yield Mutant("arith.swap", f"'{old}' should be '{new}'", text, PRIORS["arith.swap"])
    if old in _NON_COMMUTATIVE:
        left, right = t.seg(node.left), t.seg(node.right)
        if "\n" not in left + right:
            gap = t.data[a:b].decode("utf-8")
            yield Mutant("arith.swap-operands", f"operands of '{old}' are swapped",
                         t.sub(node, f"{wrap(t, node.right)}{gap}{wrap(t, node.left)}"), PRIORS["arith.swap-operands"])
    if old in ("+", "-") and int_value(node.right) == 1:
        yield Mutant("bound.drop-one", f"drop the '{old} 1'", t.sub(node, t.seg(node.left)), PRIORS["bound.drop-one"])


def _boolop(t: Spans, node: ast.BoolOp) -> Iterator[Mutant]:
    old, new = ("and", "or") if isinstance(node.op, ast.And) else ("or", "and")
    text = t.seg(node)
    pieces = [t.seg(v) for v in node.values]
    if "\n" not in text:
        yield Mutant("boolop.swap", f"'{old}' should be '{new}'", t.sub(node, f" {new} ".join(
            wrap(t, v) if isinstance(v, ast.BoolOp) else p for v, p in zip(node.values, pieces, strict=True))),
            PRIORS["boolop.swap"])
    for i in range(len(node.values)):
        rest = [p for j, p in enumerate(pieces) if j != i]
        yield Mutant("boolop.drop", f"drop the condition {pieces[i]}", t.sub(node, f" {old} ".join(rest)),
                     PRIORS["boolop.drop"])


def negate(t: Spans, test: ast.expr) -> Iterator[Mutant]:
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        yield Mutant("condition.negate", "the condition is inverted", t.sub(test, t.seg(test.operand)),
                     PRIORS["condition.negate"])
        return
    yield Mutant("condition.negate", "the condition is inverted", t.sub(test, f"not {wrap(t, test)}"
                 if not isinstance(test, ast.BinOp | ast.Compare | ast.BoolOp) else f"not ({t.seg(test)})"),
                 PRIORS["condition.negate"])


def _plus_minus(t: Spans, node: ast.expr, why: str) -> Iterator[Mutant]:
    value = int_value(node)
    if value is not None:
        for delta in (1, -1):
            yield Mutant("bound.plus-minus-one", f"{why} off by one: {value + delta}", t.sub(node, str(value + delta)),
                         PRIORS["bound.plus-minus-one"])
        return
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub) and int_value(node.right) == 1:
        return  # `i + 1` already gets "drop the + 1" and the operator swap
    for shift in ("+ 1", "- 1"):
        yield Mutant("bound.plus-minus-one", f"{why} off by one: {t.seg(node)} {shift}",
                     t.sub(node, f"{wrap(t, node)} {shift}"), PRIORS["bound.plus-minus-one"])


def _subscript(t: Spans, node: ast.Subscript) -> Iterator[Mutant]:
    s = node.slice
    if isinstance(s, ast.Slice):
        for part, name in ((s.lower, "slice start"), (s.upper, "slice end")):
            if part is not None:
                yield from _plus_minus(t, part, name)
    elif not isinstance(s, ast.Tuple) and not (isinstance(s, ast.Constant) and isinstance(s.value, str)):
        yield from _plus_minus(t, s, "index")


_FUNCTION_PAIRS = {"min": "max", "max": "min", "any": "all", "all": "any", "floor": "ceil", "ceil": "floor",
                   "startswith": "endswith", "endswith": "startswith", "lower": "upper", "upper": "lower",
                   "lstrip": "rstrip", "rstrip": "lstrip", "index": "rindex", "find": "rfind",
                   "popleft": "pop", "appendleft": "append", "append": "extend", "extend": "append",
                   "pop": "popleft"}
_NUMERIC_CALLS = {"min", "max", "range", "abs", "round", "int"}


def operand_plus_minus(t: Spans, node: ast.AST) -> Iterator[Mutant]:
    """An operand off by one: ``max(cursor, end)`` -> ``max(cursor, end + 1)``."""
    def numeric_slots(parent: ast.AST) -> list[ast.expr]:
        if isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.Add | ast.Sub | ast.Mult | ast.FloorDiv):
            return [parent.left, parent.right]
        if isinstance(parent, ast.Call) and isinstance(parent.func, ast.Name) and parent.func.id in _NUMERIC_CALLS:
            return list(parent.args)
        return []
    for parent in ast.walk(node):
        for operand in numeric_slots(parent):
            if isinstance(operand, ast.Name | ast.Attribute | ast.Subscript) or \
                    (isinstance(operand, ast.BinOp) and isinstance(operand.op, ast.Add | ast.Sub)
                     and int_value(operand.right) != 1):
                for delta in ("+ 1", "- 1"):
                    yield Mutant("value.plus-minus-one", f"{t.seg(operand)} is off by one",
                                 t.sub(operand, f"{wrap(t, operand)} {delta}"
                                       if not isinstance(operand, ast.BinOp) or isinstance(parent, ast.Call)
                                       else f"({t.seg(operand)} {delta})"),
                                 PRIORS["value.plus-minus-one"])


def _call(t: Spans, node: ast.Call) -> Iterator[Mutant]:
    name = node.func.id if isinstance(node.func, ast.Name) else None
    called = name or (node.func.attr if isinstance(node.func, ast.Attribute) else None)
    if called in _FUNCTION_PAIRS:
        other = _FUNCTION_PAIRS[called]
        target = node.func
        if isinstance(target, ast.Name):
            text = t.sub(target, other)
        else:
            a, b = t.span(target)
            text = t.replace(b - len(called.encode()), b, other)
        yield Mutant("call.swap-function", f"{called}() should be {other}()", text, PRIORS["call.swap-function"])
    if name == "range":
        for arg in node.args[:2]:
            yield from _plus_minus(t, arg, "range bound")
    if called == "pop" and isinstance(node.func, ast.Attribute) and not node.keywords:
        # a queue taken from the wrong end: pop(0) <-> pop()
        if not node.args:
            yield Mutant("call.pop-end", "take from the front: pop(0)", t.sub(node, t.seg(node)[:-1] + "0)"),
                         PRIORS["call.pop-end"])
        elif len(node.args) == 1 and isinstance(node.args[0], ast.Constant) and node.args[0].value == 0:
            yield Mutant("call.pop-end", "take from the end: pop()", t.sub(node, t.seg(node.func) + "()"),
                         PRIORS["call.pop-end"])
    if name == "enumerate" and len(node.args) == 1 and not node.keywords:
        yield Mutant("bound.plus-minus-one", "count from 1", t.sub(node, t.seg(node)[:-1] + ", 1)"),
                     PRIORS["bound.plus-minus-one"] * 0.6)
    args = node.args
    if len(args) >= 2 and not any(isinstance(a, ast.Starred) for a in args):
        for i in range(len(args) - 1):
            x, y = args[i], args[i + 1]
            a, _ = t.span(x)
            _, b = t.span(y)
            gap = t.data[t.span(x)[1]:t.span(y)[0]].decode("utf-8")
            yield Mutant("call.swap-args", f"arguments {i + 1} and {i + 2} are swapped",
                         t.replace(a, b, t.seg(y) + gap + t.seg(x)), PRIORS["call.swap-args"])


def _constant(t: Spans, node: ast.expr) -> Iterator[Mutant]:
    value = int_value(node)
    if value is not None:
        for new in (value + 1, value - 1):
            yield Mutant("constant.near", f"the constant should be {new}", t.sub(node, str(new)), PRIORS["constant.near"])
        for new in (0, 1, -1):
            if new not in (value, value + 1, value - 1):
                yield Mutant("constant.other", f"the constant should be {new}", t.sub(node, str(new)),
                             PRIORS["constant.other"])
        return
    if not isinstance(node, ast.Constant):
        return
    v = node.value
    options: list[str] = []
    if v is True or v is False:
        options = [str(not v)]
    elif v is None:
        options = ["0", "1", "[]", '""']
    elif isinstance(v, float) and v in (0.0, 1.0):
        options = ["1.0" if v == 0.0 else "0.0"]
    elif v == "":
        options = ["None", '" "']  # "".join(words) for " ".join(words)
    elif v == " ":
        options = ['""']
    for text in options:
        yield Mutant("constant.other", f"the constant should be {text}", t.sub(node, text), PRIORS["constant.other"])


def _empty_literal(t: Spans, node: ast.AST) -> Iterator[Mutant]:
    if isinstance(node, ast.List | ast.Dict | ast.Tuple | ast.Set) and not getattr(node, "elts", None) \
            and not getattr(node, "keys", None):
        yield Mutant("constant.other", "start from None", t.sub(node, "None"), PRIORS["constant.other"] * 0.8)
        # the wrong container, or a container for a number: seen = {} for [], total = [] for 0
        others = {ast.List: ["{}", "0"], ast.Dict: ["[]", "set()"], ast.Set: ["[]"], ast.Tuple: ["[]"]}
        for text in others.get(type(node), []):
            yield Mutant("constant.other", f"start from {text}", t.sub(node, text), PRIORS["constant.other"] * 0.8)


def at_node(t: Spans, node: ast.AST) -> Iterator[Mutant]:
    """Every expression operator that applies to ``node``, one node of a statement's header."""
    if isinstance(node, ast.Compare):
        yield from _compare(t, node)
    elif isinstance(node, ast.BinOp):
        yield from _binop(t, node)
    elif isinstance(node, ast.BoolOp):
        yield from _boolop(t, node)
    elif isinstance(node, ast.Subscript):
        yield from _subscript(t, node)
    elif isinstance(node, ast.Call):
        yield from _call(t, node)
    elif isinstance(node, ast.IfExp):
        yield from negate(t, node.test)
    elif isinstance(node, ast.comprehension):
        for cond in node.ifs:
            yield from negate(t, cond)
    if isinstance(node, ast.Constant | ast.UnaryOp):
        yield from _constant(t, node)
    yield from _empty_literal(t, node)
