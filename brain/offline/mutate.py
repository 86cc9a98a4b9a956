"""Repair operators: small, typed edits at one suspicious line (or its function).

Each operator proposes whole-file texts whose diff is the edit alone: the engine rewrites only
the source span of the node it changes, so formatting and comments elsewhere survive. Every
proposal carries its operator's prior (``brain/offline/priors.py``: how often the operator's candidates
were the real fix in public projects' fix histories), which the search multiplies by the line's
suspiciousness.

Nothing here runs code or decides anything: the sandbox does.
"""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass

from brain.offline import regex_ops, shapes, slips
from brain.offline.priors import PRIORS
from brain.source import BIN_SYMBOL, SourceFile, indent_of
from brain.source import Spans as _Text


@dataclass(frozen=True)
class Mutant:
    rule: str
    rationale: str
    new_text: str
    prior: float


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
_BIN_SYMBOL = BIN_SYMBOL
_BIN_SWAPS = {"+": ["-"], "-": ["+"], "*": ["/", "//", "+"], "/": ["//", "*"], "//": ["/", "%"], "%": ["//"],
              "**": ["*"], "&": ["|"], "|": ["&"], "<<": [">>"], ">>": ["<<"]}
_NON_COMMUTATIVE = {"-", "/", "//", "%", "**"}
_LOW_PRECEDENCE = (ast.BoolOp, ast.Compare, ast.IfExp, ast.Lambda, ast.NamedExpr)


def _op_pattern(symbol: str) -> re.Pattern[str]:
    if symbol[0].isalpha():
        return re.compile(r"(?<![\w])" + r"\s+".join(map(re.escape, symbol.split())) + r"(?![\w])")
    return re.compile(r"(?<![<>=!*/%&|])" + re.escape(symbol) + r"(?![<>=*/&|])")


def _swap_in_gap(t: _Text, a: int, b: int, old: str, new: str) -> str | None:
    gap = t.data[a:b].decode("utf-8")
    code = gap.split("#")[0] if "\n" not in gap else gap
    m = _op_pattern(old).search(code)
    if m is None:
        return None
    return t.replace(a + len(gap[: m.start()].encode()), a + len(gap[: m.end()].encode()), new)


def _wrap(t: _Text, node: ast.expr) -> str:
    text = t.seg(node)
    if isinstance(node, _LOW_PRECEDENCE) or (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not)) \
            or (isinstance(node, ast.BinOp) and _BIN_SYMBOL.get(type(node.op)) in ("&", "|", "<<", ">>")):
        return f"({text})"
    return text


def _int_value(node: ast.AST) -> int | None:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant) \
            and type(node.operand.value) is int:
        return -node.operand.value
    return None


# --------------------------------------------------------------------------- expression operators


def _compare(t: _Text, node: ast.Compare) -> Iterator[Mutant]:
    operands = [node.left, *node.comparators]
    for i, op in enumerate(node.ops):
        old = _CMP_SYMBOL[type(op)]
        a, b = t.between(operands[i], operands[i + 1])
        for new, rule in _CMP_SWAPS[old]:
            text = _swap_in_gap(t, a, b, old, new)
            if text is not None:
                yield Mutant(rule, f"'{old}' should be '{new}'", text, PRIORS[rule])
        # the bound itself off by one: i < n -> i < n - 1 / n + 1
        right = operands[i + 1]
        if old in ("<", "<=", ">", ">=") and not isinstance(right, ast.Constant):
            for delta in ("+ 1", "- 1"):
                yield Mutant("bound.plus-minus-one", f"compare against {t.seg(right)} {delta}",
                             t.sub(right, f"{_wrap(t, right)} {delta}"), PRIORS["bound.plus-minus-one"] * 0.7)


def _binop(t: _Text, node: ast.BinOp) -> Iterator[Mutant]:
    old = _BIN_SYMBOL.get(type(node.op))
    if old is None:
        return
    a, b = t.between(node.left, node.right)
    for new in _BIN_SWAPS.get(old, []):
        text = _swap_in_gap(t, a, b, old, new)
        if text is not None:
            yield Mutant("arith.swap", f"'{old}' should be '{new}'", text, PRIORS["arith.swap"])
    if old in _NON_COMMUTATIVE:
        left, right = t.seg(node.left), t.seg(node.right)
        if "\n" not in left + right:
            gap = t.data[a:b].decode("utf-8")
            yield Mutant("arith.swap-operands", f"operands of '{old}' are swapped",
                         t.sub(node, f"{_wrap(t, node.right)}{gap}{_wrap(t, node.left)}"), PRIORS["arith.swap-operands"])
    if old in ("+", "-") and _int_value(node.right) == 1:
        yield Mutant("bound.drop-one", f"drop the '{old} 1'", t.sub(node, t.seg(node.left)), PRIORS["bound.drop-one"])


def _boolop(t: _Text, node: ast.BoolOp) -> Iterator[Mutant]:
    old, new = ("and", "or") if isinstance(node.op, ast.And) else ("or", "and")
    text = t.seg(node)
    pieces = [t.seg(v) for v in node.values]
    if "\n" not in text:
        yield Mutant("boolop.swap", f"'{old}' should be '{new}'", t.sub(node, f" {new} ".join(
            _wrap(t, v) if isinstance(v, ast.BoolOp) else p for v, p in zip(node.values, pieces, strict=True))),
            PRIORS["boolop.swap"])
    for i in range(len(node.values)):
        rest = [p for j, p in enumerate(pieces) if j != i]
        yield Mutant("boolop.drop", f"drop the condition {pieces[i]}", t.sub(node, f" {old} ".join(rest)),
                     PRIORS["boolop.drop"])


def _negate(t: _Text, test: ast.expr) -> Iterator[Mutant]:
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        yield Mutant("condition.negate", "the condition is inverted", t.sub(test, t.seg(test.operand)),
                     PRIORS["condition.negate"])
        return
    yield Mutant("condition.negate", "the condition is inverted", t.sub(test, f"not {_wrap(t, test)}"
                 if not isinstance(test, ast.BinOp | ast.Compare | ast.BoolOp) else f"not ({t.seg(test)})"),
                 PRIORS["condition.negate"])


def _plus_minus(t: _Text, node: ast.expr, why: str) -> Iterator[Mutant]:
    value = _int_value(node)
    if value is not None:
        for delta in (1, -1):
            yield Mutant("bound.plus-minus-one", f"{why} off by one: {value + delta}", t.sub(node, str(value + delta)),
                         PRIORS["bound.plus-minus-one"])
        return
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub) and _int_value(node.right) == 1:
        return  # `i + 1` already gets "drop the + 1" and the operator swap
    for shift in ("+ 1", "- 1"):
        yield Mutant("bound.plus-minus-one", f"{why} off by one: {t.seg(node)} {shift}",
                     t.sub(node, f"{_wrap(t, node)} {shift}"), PRIORS["bound.plus-minus-one"])


def _subscript(t: _Text, node: ast.Subscript) -> Iterator[Mutant]:
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


def _operand_plus_minus(t: _Text, node: ast.AST) -> Iterator[Mutant]:
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
                     and _int_value(operand.right) != 1):
                for delta in ("+ 1", "- 1"):
                    yield Mutant("value.plus-minus-one", f"{t.seg(operand)} is off by one",
                                 t.sub(operand, f"{_wrap(t, operand)} {delta}"
                                       if not isinstance(operand, ast.BinOp) or isinstance(parent, ast.Call)
                                       else f"({t.seg(operand)} {delta})"),
                                 PRIORS["value.plus-minus-one"])


def _call(t: _Text, node: ast.Call) -> Iterator[Mutant]:
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


def _constant(t: _Text, node: ast.expr) -> Iterator[Mutant]:
    value = _int_value(node)
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


def _empty_literal(t: _Text, node: ast.AST) -> Iterator[Mutant]:
    if isinstance(node, ast.List | ast.Dict | ast.Tuple | ast.Set) and not getattr(node, "elts", None) \
            and not getattr(node, "keys", None):
        yield Mutant("constant.other", "start from None", t.sub(node, "None"), PRIORS["constant.other"] * 0.8)
        # the wrong container, or a container for a number: seen = {} for [], total = [] for 0
        others = {ast.List: ["{}", "0"], ast.Dict: ["[]", "set()"], ast.Set: ["[]"], ast.Tuple: ["[]"]}
        for text in others.get(type(node), []):
            yield Mutant("constant.other", f"start from {text}", t.sub(node, text), PRIORS["constant.other"] * 0.8)


# --------------------------------------------------------------------------- scope-aware operators


@dataclass
class _Scope:
    func: ast.FunctionDef | ast.AsyncFunctionDef | None
    local_names: list[str]  # params and assigned locals, in order of first binding
    module_vars: list[str]
    self_attrs: list[str]
    kinds: dict[str, str]  # name -> "num" | "str" | "seq" | "map" | "bool", where cheap to tell


def _scope(src: SourceFile, func: ast.FunctionDef | ast.AsyncFunctionDef | None, line: int) -> _Scope:
    names: list[str] = []
    kinds: dict[str, str] = {}
    if func is not None:
        args = func.args
        for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
            if a.arg not in ("self", "cls"):
                names.append(a.arg)
                kind = _kind_of_annotation(a.annotation)
                if kind:
                    kinds[a.arg] = kind
        for node in _own_nodes(func):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node.id not in names \
                    and node.lineno <= line:
                names.append(node.id)
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                kind = _kind_of_value(node.value, kinds)
                if kind and node.targets[0].id not in kinds:
                    kinds[node.targets[0].id] = kind
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                kind = _kind_of_annotation(node.annotation)
                if kind:
                    kinds[node.target.id] = kind
    module_vars: list[str] = []
    attrs: list[str] = []
    if src.tree is not None:
        for node in src.tree.body:
            if isinstance(node, ast.Assign | ast.AnnAssign):
                for sub in ast.walk(node):
                    if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store) and sub.id not in module_vars:
                        module_vars.append(sub.id)
        cls = src.enclosing_class(func.lineno) if func is not None else None
        if cls is not None:
            for sub in ast.walk(cls):
                if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name) and sub.value.id == "self" \
                        and sub.attr not in attrs:
                    attrs.append(sub.attr)
    return _Scope(func, names, module_vars, attrs, kinds)


_ANNOTATION_KINDS = {"int": "num", "float": "num", "complex": "num", "str": "str", "bytes": "str", "bool": "bool",
                     "list": "seq", "tuple": "seq", "set": "seq", "frozenset": "seq", "Sequence": "seq",
                     "dict": "map", "Mapping": "map"}


def _kind_of_annotation(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Subscript):
        node = node.value
    if isinstance(node, ast.Name | ast.Attribute):
        return _ANNOTATION_KINDS.get(node.id if isinstance(node, ast.Name) else node.attr)
    return None


def _kind_of_value(node: ast.expr, known: dict[str, str]) -> str | None:
    """A cheap guess at what a local holds, from the value first bound to it."""
    if isinstance(node, ast.Constant):
        v = node.value
        return "bool" if isinstance(v, bool) else "num" if isinstance(v, int | float) else \
            "str" if isinstance(v, str | bytes) else None
    if isinstance(node, ast.List | ast.Tuple | ast.Set | ast.ListComp | ast.SetComp):
        return "seq"
    if isinstance(node, ast.Dict | ast.DictComp):
        return "map"
    if isinstance(node, ast.JoinedStr):
        return "str"
    if isinstance(node, ast.Compare):
        return "bool"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return {"len": "num", "int": "num", "float": "num", "sum": "num", "abs": "num", "round": "num",
                "str": "str", "list": "seq", "sorted": "seq", "dict": "map", "set": "seq", "tuple": "seq"
                }.get(node.func.id)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub | ast.Div | ast.FloorDiv | ast.Mod | ast.Pow):
        return "num"
    if isinstance(node, ast.BinOp):
        left = _kind_of_value(node.left, known) if not isinstance(node.left, ast.Name) else known.get(node.left.id)
        return left
    return None


def _own_nodes(func: ast.AST) -> Iterator[ast.AST]:
    """Nodes of a function, not of the functions, lambdas or comprehensions nested in it."""
    stack = list(ast.iter_child_nodes(func))
    while stack:
        node = stack.pop(0)
        yield node
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef
                          | ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
            stack.extend(ast.iter_child_nodes(node))


def _likely_first(name: str, options: list[str], near: dict[str, int], limit: int = 8) -> list[str]:
    """Alternatives for a wrong variable: names used closest to the line first (the right
    variable is usually in play nearby), then the most similar spelling."""
    others = [o for o in options if o != name]
    others.sort(key=lambda o: (near.get(o, 10_000), -difflib.SequenceMatcher(None, name, o).ratio(), o))
    return others[:limit]


def _distances(func: ast.AST | None, line: int) -> dict[str, int]:
    """For each name in a function: how many lines from ``line`` it is nearest used or bound."""
    out: dict[str, int] = {}
    if func is None:
        return out
    for node in _own_nodes(func):
        if isinstance(node, ast.Name):
            d = abs(node.lineno - line)
            if d < out.get(node.id, 10_000):
                out[node.id] = d
    return out


def _names(t: _Text, expr: ast.AST, scope: _Scope, called: set[int], line: int) -> Iterator[Mutant]:
    """Wrong variable: another name of the same scope and, where known, the same kind. The
    operator's prior is shared among the alternatives (more choices, less likely each)."""
    near = _distances(scope.func, line)
    for node in ast.walk(expr):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and id(node) not in called:
            if node.id in scope.local_names:
                pool = scope.local_names
            elif node.id in scope.module_vars:
                pool = scope.module_vars
            else:
                continue
            kind = scope.kinds.get(node.id)
            pool = [n for n in pool if kind is None or scope.kinds.get(n) in (None, kind)]
            options = _likely_first(node.id, pool, near)
            for other in options:
                yield Mutant("variable.wrong", f"'{node.id}' should be '{other}'", t.sub(node, other),
                             PRIORS["variable.wrong"] / len(options) ** 0.5)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self" \
                and node.attr in scope.self_attrs and id(node) not in called:
            options = _likely_first(node.attr, scope.self_attrs, {}, 4)
            for other in options:
                yield Mutant("attribute.wrong", f"self.{node.attr} should be self.{other}",
                             t.sub(node, f"self.{other}"), PRIORS["attribute.wrong"] / len(options) ** 0.5)


def _constant_to_name(t: _Text, expr: ast.AST, scope: _Scope, line: int) -> Iterator[Mutant]:
    """A number literal where a local number belongs, in arithmetic or a numeric call:
    ``max(0, current + x)`` -> ``max(x, current + x)``; ``prev + 1`` -> ``prev + cost``."""
    numbers = [n for n in scope.local_names if scope.kinds.get(n) == "num"] + \
        [n for n in scope.local_names if n not in scope.kinds]
    if not numbers:
        return
    near = _distances(scope.func, line)
    for parent in ast.walk(expr):
        slots = []
        if isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.Add | ast.Sub | ast.Mult):
            slots = [parent.left, parent.right]
        elif isinstance(parent, ast.Call) and isinstance(parent.func, ast.Name) and parent.func.id in ("min", "max"):
            slots = list(parent.args)
        for node in slots:
            if isinstance(node, ast.Constant) and type(node.value) is int and node.value in (0, 1):
                options = _likely_first("", numbers, near, 6)
                for other in options:
                    yield Mutant("constant.to-name", f"{node.value} should be '{other}'", t.sub(node, other),
                                 PRIORS["constant.to-name"] / len(options) ** 0.5)


# --------------------------------------------------------------------------- statement operators


def _header(stmt: ast.stmt) -> list[ast.AST]:
    """The expressions a statement owns on its own lines (not its body)."""
    if isinstance(stmt, ast.If | ast.While):
        return [stmt.test]
    if isinstance(stmt, ast.For | ast.AsyncFor):
        return [stmt.iter]
    if isinstance(stmt, ast.With | ast.AsyncWith):
        return [i.context_expr for i in stmt.items]
    if isinstance(stmt, ast.Return):
        return [stmt.value] if stmt.value else []
    if isinstance(stmt, ast.Assign):
        return [*stmt.targets, stmt.value]
    if isinstance(stmt, ast.AugAssign | ast.AnnAssign):
        return [x for x in (stmt.target, stmt.value) if x is not None]
    if isinstance(stmt, ast.Expr | ast.Assert):
        return [stmt.value if isinstance(stmt, ast.Expr) else stmt.test]
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
        return [d for d in [*stmt.args.defaults, *stmt.args.kw_defaults] if d is not None]
    return []


def _simple(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Expr) and stmt.lineno == stmt.end_lineno


def at_line(src: SourceFile, line: int, func: ast.FunctionDef | ast.AsyncFunctionDef | None) -> Iterator[Mutant]:
    """Every operator that applies to the statement on ``line``."""
    stmt = src.statement_at(line)
    if stmt is None:
        return
    t = _Text(src)
    scope = _scope(src, func, line)
    header = _header(stmt)
    called = {id(n.func) for h in header for n in ast.walk(h) if isinstance(n, ast.Call)}
    for expr in header:
        for node in ast.walk(expr):
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
                yield from _negate(t, node.test)
            elif isinstance(node, ast.comprehension):
                for cond in node.ifs:
                    yield from _negate(t, cond)
            if isinstance(node, ast.Constant | ast.UnaryOp):
                yield from _constant(t, node)
            yield from _empty_literal(t, node)
        yield from _names(t, expr, scope, called, stmt.lineno)
        yield from _operand_plus_minus(t, expr)
        yield from _constant_to_name(t, expr, scope, stmt.lineno)
    if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):  # "j += 1" meant "i += 1"
        target = stmt.target
        yield from _names(t, ast.Name(id=target.id, ctx=ast.Load(), lineno=target.lineno, col_offset=target.col_offset,
                                      end_lineno=target.end_lineno, end_col_offset=target.end_col_offset),
                          scope, set(), stmt.lineno)
    if isinstance(stmt, ast.Return | ast.Assign | ast.AugAssign) and stmt.value is not None \
            and isinstance(stmt.value, ast.Name | ast.Attribute | ast.Subscript):
        for delta in ("+ 1", "- 1"):
            yield Mutant("value.plus-minus-one", f"{t.seg(stmt.value)} is off by one",
                         t.sub(stmt.value, f"{t.seg(stmt.value)} {delta}"), PRIORS["value.plus-minus-one"])
    if isinstance(stmt, ast.AugAssign):
        old = _BIN_SYMBOL.get(type(stmt.op))
        a, b = t.between(stmt.target, stmt.value)
        for new in _BIN_SWAPS.get(old or "", []):
            text = _swap_in_gap(t, a, b, f"{old}=", f"{new}=")
            if text is not None:
                yield Mutant("arith.swap", f"'{old}=' should be '{new}='", text, PRIORS["arith.swap"])
    if isinstance(stmt, ast.If | ast.While):
        yield from _negate(t, stmt.test)
        if isinstance(stmt, ast.If) and not stmt.orelse and not t.seg(stmt).startswith("elif"):
            yield from _unwrap(src, stmt)
    if isinstance(stmt, ast.For) and not (isinstance(stmt.iter, ast.Call) and isinstance(stmt.iter.func, ast.Name)
                                          and stmt.iter.func.id in ("range", "enumerate", "zip")):
        it = t.seg(stmt.iter)
        for new, why in ((f"{_wrap(t, stmt.iter)}[1:]", "skip the first item"),
                         (f"{_wrap(t, stmt.iter)}[:-1]", "skip the last item"),
                         (f"reversed({it})", "iterate in reverse")):
            yield Mutant("loop.iterate", why, t.sub(stmt.iter, new), PRIORS["loop.iterate"])
    if isinstance(stmt, ast.Expr) and func is not None and _pure(stmt.value, func):
        yield Mutant("return.expression", "the value is computed and dropped: return it",
                     t.replace(*t.span(stmt), "return " + t.seg(stmt.value)), PRIORS["return.expression"])
    if _simple(stmt) and func is not None and len(func.body) > 1:
        yield Mutant("statement.delete", f"delete line {stmt.lineno}", _delete_lines(src, stmt), PRIORS["statement.delete"])
    if func is not None and stmt is not func:
        yield from _copy_statement(src, stmt, func)
    for edit in regex_ops.at_statement(src, stmt):
        yield Mutant(edit.rule, edit.rationale, edit.new_text, PRIORS[edit.rule])
    for slip in slips.at_statement(src, stmt, func, header):
        yield Mutant(slip.rule, slip.rationale, slip.new_text, PRIORS[slip.rule])
    for shape in shapes.at_statement(src, stmt, func, header):
        yield Mutant(shape.rule, shape.rationale, shape.new_text, PRIORS[shape.rule])


_PURE_CALLS = {"sorted", "len", "sum", "min", "max", "list", "tuple", "dict", "set", "str", "int", "float", "abs",
               "round", "any", "all", "map", "filter", "zip", "reversed", "enumerate", "bool", "repr", "format"}


def _pure(value: ast.expr, func: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """An expression whose value is the point (so dropping it is a bug): not a docstring, not a
    side-effect call; a call to a pure builtin or to the function itself (a forgotten return)."""
    if isinstance(value, ast.Constant | ast.Await | ast.Yield | ast.YieldFrom):
        return False
    if isinstance(value, ast.Call):
        name = value.func.id if isinstance(value.func, ast.Name) else getattr(value.func, "attr", None)
        return name in _PURE_CALLS or name == func.name
    return True


def _unwrap(src: SourceFile, stmt: ast.If) -> Iterator[Mutant]:
    """Drop an `if` whose body should always run."""
    ind = indent_of(src.line(stmt.lineno))
    body_ind = indent_of(src.line(stmt.body[0].lineno))
    if stmt.body[0].lineno == stmt.lineno:
        return
    lines = src.lines[stmt.body[0].lineno - 1:(stmt.end_lineno or stmt.lineno)]
    moved = [ind + x[len(body_ind):] if x.startswith(body_ind) else x for x in lines]
    text = "".join(src.lines[: stmt.lineno - 1] + moved + src.lines[stmt.end_lineno or stmt.lineno:])
    yield Mutant("condition.drop", "the condition should not be there", text, PRIORS["condition.drop"])


def _delete_lines(src: SourceFile, stmt: ast.stmt) -> str:
    return "".join(src.lines[: stmt.lineno - 1] + src.lines[(stmt.end_lineno or stmt.lineno):])


def _copy_statement(src: SourceFile, stmt: ast.stmt, func: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[Mutant]:
    """Insert a statement copied from elsewhere in the same function just before this one."""
    if stmt.lineno == func.lineno or isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
        return
    ind = indent_of(src.line(stmt.lineno))
    donors = [s for s in _own_nodes(func) if isinstance(s, ast.stmt) and _simple(s) and s is not stmt]
    donors.sort(key=lambda s: (abs(s.lineno - stmt.lineno), s.lineno))
    seen: set[str] = set()
    end = stmt.end_lineno or stmt.lineno
    for donor in donors[:6]:
        code = src.line(donor.lineno).strip()
        if code in seen or code.startswith(("return", "raise")):
            continue
        seen.add(code)
        yield Mutant("statement.copy", f"line {stmt.lineno} needs `{code}` first",
                     src.insert_before(stmt.lineno, [ind + code]), PRIORS["statement.copy"])
        if end < len(src.lines):  # ... or right after it (a forgotten last step of a block)
            yield Mutant("statement.copy", f"`{code}` is missing after line {end}",
                         src.insert_before(end + 1, [ind + code]), PRIORS["statement.copy"] * 0.9)


# --------------------------------------------------------------------------- function-level operators


def in_function(src: SourceFile, func: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[Mutant]:
    """Operators that act on a suspicious function as a whole: missing return, missing base case."""
    own = list(_own_nodes(func))
    returns = [n for n in own if isinstance(n, ast.Return)]
    valued = [r for r in returns if r.value is not None]
    last = func.body[-1]
    falls_off = not isinstance(last, ast.Return | ast.Raise)
    scope = _scope(src, func, func.end_lineno or func.lineno)
    body_ind = indent_of(src.line(func.body[0].lineno))
    if falls_off and func.body[0].lineno != func.lineno:
        assigned = [n for n in scope.local_names if n not in _params(func)] + _params(func)
        recent = sorted(assigned, key=lambda n: -_last_store(func, n))
        returned = [r.value.id for r in valued if isinstance(r.value, ast.Name)]
        names = list(dict.fromkeys(returned + recent))[:5]
        for i, name in enumerate(names):
            prior = PRIORS["return.missing"] * (1.0 if not valued else 0.6) * (1 - 0.05 * i)
            yield Mutant("return.missing", f"{func.name}() never returns {name}",
                         _append_after(src, last, [body_ind + f"return {name}"]), prior)
    params = _params(func)
    recursive = any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name | ast.Attribute)
                    and (getattr(n.func, "id", None) or getattr(n.func, "attr", None)) == func.name for n in own)
    start = src.body_start(func)
    ind = indent_of(src.line(start))
    guards: list[tuple[str, str]] = []
    for p in params[:3]:
        if recursive:
            guards += [(f"{p} <= 0", "0"), (f"{p} <= 1", p), (f"{p} <= 1", "1"), (f"not {p}", p)]
        guards += [(f"not {p}", p), (f"{p} is None", "None"), (f"not {p}", "[]"), (f"not {p}", "0")]
    seen: set[tuple[str, str]] = set()
    for cond, value in guards:
        if (cond, value) in seen:
            continue
        seen.add((cond, value))
        prior = PRIORS["guard.base-case"] * (1.3 if recursive else 0.7)
        yield Mutant("guard.base-case", f"missing case: return {value} when {cond}",
                     src.insert_before(start, [f"{ind}if {cond}:", f"{ind}    return {value}"]), prior)


def _params(func: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    a = func.args
    return [x.arg for x in [*a.posonlyargs, *a.args, *a.kwonlyargs] if x.arg not in ("self", "cls")]


def _last_store(func: ast.AST, name: str) -> int:
    lines = [n.lineno for n in _own_nodes(func) if isinstance(n, ast.Name) and n.id == name
             and isinstance(n.ctx, ast.Store)]
    return max(lines, default=0)


def _append_after(src: SourceFile, stmt: ast.stmt, new_lines: list[str]) -> str:
    end = stmt.end_lineno or stmt.lineno
    return src.insert_before(end + 1, new_lines) if end < len(src.lines) else \
        src.text + ("" if src.text.endswith("\n") else "\n") + "".join(x + "\n" for x in new_lines)
