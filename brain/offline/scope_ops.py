"""Scope-aware operators: a wrong variable (another name of the same scope and, where cheap to
tell, the same kind), a wrong ``self`` attribute, a literal where a local number belongs; and the
reading of a function's scope they need (its names, their kinds, how near each is used).

Apart from the expression operators because these read the function around the line, not only
the node.
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Iterator
from dataclasses import dataclass

from brain.offline.mutant import Mutant
from brain.offline.priors import PRIORS
from brain.source import SourceFile, Spans


@dataclass
class Scope:
    func: ast.FunctionDef | ast.AsyncFunctionDef | None
    local_names: list[str]  # params and assigned locals, in order of first binding
    module_vars: list[str]
    self_attrs: list[str]
    kinds: dict[str, str]  # name -> "num" | "str" | "seq" | "map" | "bool", where cheap to tell


def scope_at(src: SourceFile, func: ast.FunctionDef | ast.AsyncFunctionDef | None, line: int) -> Scope:
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
        for node in own_nodes(func):
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
    return Scope(func, names, module_vars, attrs, kinds)


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


def own_nodes(func: ast.AST) -> Iterator[ast.AST]:
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
    for node in own_nodes(func):
        if isinstance(node, ast.Name):
            d = abs(node.lineno - line)
            if d < out.get(node.id, 10_000):
                out[node.id] = d
    return out


def wrong_names(t: Spans, expr: ast.AST, scope: Scope, called: set[int], line: int) -> Iterator[Mutant]:
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


def constant_to_name(t: Spans, expr: ast.AST, scope: Scope, line: int) -> Iterator[Mutant]:
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


