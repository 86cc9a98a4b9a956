"""Repair operators: small, typed edits at one suspicious line (or its function).

Each operator proposes whole-file texts whose diff is the edit alone: the engine rewrites only
the source span of the node it changes, so formatting and comments elsewhere survive. Every
proposal carries its operator's prior (``brain/offline/priors.py``: how often the operator's candidates
were the real fix in public projects' fix histories), which the search multiplies by the line's
suspiciousness.

The statement and function operators live here, with ``at_line`` and ``in_function`` that run
every family; the expression operators in ``expression_ops``, the scope-aware ones (a wrong
variable) in ``scope_ops``, what they all propose (``Mutant``) in ``mutant``.

Nothing here runs code or decides anything: the sandbox does.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from brain.offline import regex_ops, shapes, slips
from brain.offline.expression_ops import BIN_SWAPS, at_node, negate, operand_plus_minus
from brain.offline.mutant import Mutant, swap_in_gap, wrap
from brain.offline.priors import PRIORS
from brain.offline.scope_ops import constant_to_name, own_nodes, scope_at, wrong_names
from brain.source import BIN_SYMBOL, SourceFile, Spans, indent_of

# (Mutant lives in ``mutant``, PRIORS in ``priors``; callers may still read them from here.)
__all__ = ["PRIORS", "Mutant", "at_line", "in_function"]


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
    t = Spans(src)
    scope = scope_at(src, func, line)
    header = _header(stmt)
    called = {id(n.func) for h in header for n in ast.walk(h) if isinstance(n, ast.Call)}
    for expr in header:
        for node in ast.walk(expr):
            yield from at_node(t, node)
        yield from wrong_names(t, expr, scope, called, stmt.lineno)
        yield from operand_plus_minus(t, expr)
        yield from constant_to_name(t, expr, scope, stmt.lineno)
    if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):  # "j += 1" meant "i += 1"
        target = stmt.target
        yield from wrong_names(t, ast.Name(id=target.id, ctx=ast.Load(), lineno=target.lineno,
                                           col_offset=target.col_offset, end_lineno=target.end_lineno,
                                           end_col_offset=target.end_col_offset),
                               scope, set(), stmt.lineno)
    if isinstance(stmt, ast.Return | ast.Assign | ast.AugAssign) and stmt.value is not None \
            and isinstance(stmt.value, ast.Name | ast.Attribute | ast.Subscript):
        for delta in ("+ 1", "- 1"):
            yield Mutant("value.plus-minus-one", f"{t.seg(stmt.value)} is off by one",
                         t.sub(stmt.value, f"{t.seg(stmt.value)} {delta}"), PRIORS["value.plus-minus-one"])
    if isinstance(stmt, ast.AugAssign):
        old = BIN_SYMBOL.get(type(stmt.op))
        a, b = t.between(stmt.target, stmt.value)
        for new in BIN_SWAPS.get(old or "", []):
            text = swap_in_gap(t, a, b, f"{old}=", f"{new}=")
            if text is not None:
                yield Mutant("arith.swap", f"'{old}=' should be '{new}='", text, PRIORS["arith.swap"])
    if isinstance(stmt, ast.If | ast.While):
        yield from negate(t, stmt.test)
        if isinstance(stmt, ast.If) and not stmt.orelse and not t.seg(stmt).startswith("elif"):
            yield from _unwrap(src, stmt)
    if isinstance(stmt, ast.For) and not (isinstance(stmt.iter, ast.Call) and isinstance(stmt.iter.func, ast.Name)
                                          and stmt.iter.func.id in ("range", "enumerate", "zip")):
        it = t.seg(stmt.iter)
        for new, why in ((f"{wrap(t, stmt.iter)}[1:]", "skip the first item"),
                         (f"{wrap(t, stmt.iter)}[:-1]", "skip the last item"),
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
    donors = [s for s in own_nodes(func) if isinstance(s, ast.stmt) and _simple(s) and s is not stmt]
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
    own = list(own_nodes(func))
    returns = [n for n in own if isinstance(n, ast.Return)]
    valued = [r for r in returns if r.value is not None]
    last = func.body[-1]
    falls_off = not isinstance(last, ast.Return | ast.Raise)
    scope = scope_at(src, func, func.end_lineno or func.lineno)
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
    lines = [n.lineno for n in own_nodes(func) if isinstance(n, ast.Name) and n.id == name
             and isinstance(n.ctx, ast.Store)]
    return max(lines, default=0)


def _append_after(src: SourceFile, stmt: ast.stmt, new_lines: list[str]) -> str:
    end = stmt.end_lineno or stmt.lineno
    return src.insert_before(end + 1, new_lines) if end < len(src.lines) else \
        src.text + ("" if src.text.endswith("\n") else "\n") + "".join(x + "\n" for x in new_lines)
