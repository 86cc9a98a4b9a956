"""Anti-patterns (Tan et al., FSE 2016): deleting an exit or a control statement or the block it
guards, inserting an early exit where the reproduction checks no value, a condition or loop made
trivially true or false, a flipped flag, a redundant clause, a swallowed or hidden exception.
Apart because these are judged differently: they may run, but are never verified (at most shown
as a workaround).
"""

from __future__ import annotations

import ast
import functools
import operator
from collections import Counter
from collections.abc import Callable
from typing import Any

from statemachine.shortcuts.syntax import dotted

_EXITS = (ast.Return, ast.Raise, ast.Break, ast.Continue)
_CONTROL = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.Try, ast.With, ast.AsyncWith, ast.Match)


def workarounds(old: ast.AST | None, new: ast.AST, *, values_checked: bool,
                own: frozenset[str] = frozenset()) -> list[str]:
    """TRUTH.md's anti-patterns in this change: never verified, at most a workaround.
    ``values_checked``: the reproduction checks results, so an inserted early return is judged
    by what it returns; where it only checks for a crash, any new exit is a way around it."""
    reasons = []
    before, after = _counts(old), _counts(new)
    if after["exit"] < before["exit"]:
        reasons.append("deletes a return, raise, break or continue")
    if after["control"] < before["control"]:
        reasons.append("deletes a control statement (if, loop, try or with) and what it guards")
    if after["emptied"] > before["emptied"]:
        reasons.append("empties the block a control statement guards")
    if not values_checked and after["exit"] > before["exit"]:
        reasons.append("inserts an early exit where the reproduction only checks that nothing crashes")
    constant = _constant_conditions(new) - _constant_conditions(old)
    if constant:
        reasons.append(f"makes a condition always {'true' if next(iter(constant))[1] else 'false'}")
    if after["swallowed"] > before["swallowed"]:
        reasons.append("swallows an exception (a handler that does nothing)")
    flipped = _flipped_flags(_flag_arguments(old, own), _flag_arguments(new, own))
    if flipped:
        reasons.append(f"flips a True/False argument ({flipped}): it picks the other branch of the code it calls "
                       "for every input here, as good as a constant condition")
    if after["shown"] < before["shown"]:
        reasons.append("deletes what shows a caught exception (a traceback print or an exception log): the crash is "
                       "hidden, not fixed")
    if _redundant_clauses(new) - _redundant_clauses(old):
        reasons.append("makes a clause of a condition redundant (it can no longer decide anything: as good as deleted)")
    return reasons


def _flipped_flags(before: Counter[tuple[str, str, bool]], after: Counter[tuple[str, str, bool]]) -> str | None:
    """A call's True/False argument that one of its call sites now passes the other way, or no
    longer passes (its default decides instead), in words; None when there is none."""
    for (call, arg, value), was in sorted(before.items()):
        now = after.get((call, arg, value), 0)
        if now < was:
            if after.get((call, arg, not value), 0) > before.get((call, arg, not value), 0):
                return f"{call}(…{arg}={not value})"
            if not arg.startswith("#"):  # dropped: the parameter's default decides now
                return f"{call}(…) without {arg}={value}"
    return None


@functools.lru_cache(maxsize=16)
def _flag_arguments(tree: ast.AST | None, own: frozenset[str] = frozenset()) -> Counter[tuple[str, str, bool]]:
    """(callee, argument, value) of every True/False passed to a function of the module itself
    (``own``: the module's function names, beside those ``tree`` defines;
    ``infer_func_form(node, enum=True)``, ``self._check(x, strict=False)``; a positional one by
    its index), counted. Only the module's own functions: there the flag picks a branch of the
    project's code, which its tests must evidence; a library's or builtin's flag
    (``items.sort(reverse=True)``) is part of what the call means."""
    out: Counter[tuple[str, str, bool]] = Counter()
    if tree is None:
        return out
    own = own | {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    for n in ast.walk(tree):
        if not isinstance(n, ast.Call) or dotted(n.func) is None:
            continue
        name = dotted(n.func) or ""
        head, _, last = name.rpartition(".")
        if last not in own or head not in ("", "self", "cls"):
            continue
        for k, a in enumerate(n.args):
            if isinstance(a, ast.Constant) and isinstance(a.value, bool):
                out[(name, f"#{k}", a.value)] += 1
        for kw in n.keywords:
            if kw.arg and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, bool):
                out[(name, kw.arg, kw.value.value)] += 1
    return out


@functools.lru_cache(maxsize=16)
def _redundant_clauses(tree: ast.AST | None) -> frozenset[str]:
    """Clauses of ``and``/``or`` that another clause of the same condition decides for them: in
    ``a or b`` a ``b`` that implies ``a``, in ``a and b`` a ``b`` that ``a`` implies. Turning
    ``p > q or (p == q and r)`` into ``p >= q or (...)`` leaves ``r`` deciding nothing: the clause
    deleted in all but text (a wrong fix the repair benchmark verified)."""
    out: set[str] = set()
    if tree is None:
        return frozenset()
    for n in ast.walk(tree):
        if not isinstance(n, ast.BoolOp):
            continue
        for j, clause in enumerate(n.values):
            for i, other in enumerate(n.values):
                if i != j and (_implies(clause, other) if isinstance(n.op, ast.Or) else _implies(other, clause)):
                    out.add(ast.dump(clause))
                    break
    return frozenset(out)


# for one comparison of the same two operands: which comparisons it implies
_IMPLIES: dict[type[ast.cmpop], tuple[type[ast.cmpop], ...]] = {ast.Eq: (ast.Eq, ast.LtE, ast.GtE), ast.Lt: (ast.Lt, ast.LtE, ast.NotEq), ast.Gt: (ast.Gt, ast.GtE, ast.NotEq),
            ast.LtE: (ast.LtE,), ast.GtE: (ast.GtE,), ast.NotEq: (ast.NotEq,)}
_MIRROR: dict[type[ast.cmpop], type[ast.cmpop]] = {ast.Lt: ast.Gt, ast.Gt: ast.Lt, ast.LtE: ast.GtE, ast.GtE: ast.LtE, ast.Eq: ast.Eq, ast.NotEq: ast.NotEq}


def _implies(a: ast.expr, b: ast.expr) -> bool:
    """Does ``a`` being true make ``b`` true, by form alone (an ``and`` implies what one of its
    clauses implies; comparisons of the same operands by the order of their operators)?"""
    if ast.dump(a) == ast.dump(b):
        return True
    if isinstance(a, ast.BoolOp) and isinstance(a.op, ast.And):
        return any(_implies(c, b) for c in a.values)
    if isinstance(b, ast.BoolOp) and isinstance(b.op, ast.Or):
        return any(_implies(a, c) for c in b.values)
    ca, cb = _comparison(a), _comparison(b)
    if ca is None or cb is None:
        return False
    (left_a, op_a, right_a), (left_b, op_b, right_b) = ca, cb
    if (left_a, right_a) == (right_b, left_b):
        op_b = _MIRROR[op_b]
    elif (left_a, right_a) != (left_b, right_b):
        return False
    return op_b in _IMPLIES[op_a]


def _comparison(node: ast.expr) -> tuple[str, type[ast.cmpop], str] | None:
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _IMPLIES:
        return ast.dump(node.left), type(node.ops[0]), ast.dump(node.comparators[0])
    return None


@functools.lru_cache(maxsize=16)
def _counts(tree: ast.AST | None) -> Counter[str]:
    out: Counter[str] = Counter()
    if tree is None:
        return out
    for n in ast.walk(tree):
        if isinstance(n, _EXITS) or (isinstance(n, ast.Call) and _exit_call(n)):
            out["exit"] += 1
        if isinstance(n, _CONTROL):
            out["control"] += 1
            if isinstance(n, ast.If | ast.For | ast.While | ast.With) and all(_inert(s) for s in n.body):
                out["emptied"] += 1
        if isinstance(n, ast.Call) and (dotted(n.func) or "").rsplit(".", 1)[-1] in _SHOWS_EXCEPTION:
            out["shown"] += 1
        if isinstance(n, ast.ExceptHandler) and all(_inert(s) or isinstance(s, ast.Continue) or
                                                    (isinstance(s, ast.Return) and (s.value is None or (
                                                        isinstance(s.value, ast.Constant) and s.value.value is None)))
                                                    for s in n.body):
            out["swallowed"] += 1
    return out


# Calls that show a caught exception to the user: a tool's crash report, a logged error.
_SHOWS_EXCEPTION = frozenset({"print_exc", "print_exception", "format_exc", "format_exception", "print_tb",
                              "print_last", "exception"})


def _exit_call(call: ast.Call) -> bool:
    f = call.func
    name = f"{f.value.id}.{f.attr}" if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) else \
        f.id if isinstance(f, ast.Name) else ""
    return name in ("sys.exit", "os._exit", "exit", "quit")


def _inert(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Pass) or (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant))


@functools.lru_cache(maxsize=16)
def _constant_conditions(tree: ast.AST | None) -> frozenset[tuple[str, bool]]:
    """Conditions (of ``if``, ``while``, ``x if c else y``, comprehension filters) whose value
    does not depend on the program: (their dump, that value)."""
    out: set[tuple[str, bool]] = set()
    if tree is None:
        return frozenset()
    for n in ast.walk(tree):
        tests: list[ast.expr] = []
        if isinstance(n, ast.If | ast.While | ast.IfExp):
            tests.append(n.test)
        elif isinstance(n, ast.comprehension):
            tests += n.ifs
        for t in tests:
            value = _fold(t)
            if value is not None:
                out.add((ast.dump(t), value))
    return frozenset(out)


def _fold(node: ast.expr) -> bool | None:
    """The truth value of a condition made of constants only, ``not``, ``and``/``or`` (with
    short-circuits: ``x or True``), or None when it depends on the program."""
    if isinstance(node, ast.Constant):
        return bool(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        inner = _fold(node.operand)
        return None if inner is None else not inner
    if isinstance(node, ast.BoolOp):
        values = [_fold(v) for v in node.values]
        if isinstance(node.op, ast.Or):
            if any(v is True for v in values):
                return True
            return False if all(v is False for v in values) else None
        if any(v is False for v in values):
            return False
        return True if all(v is True for v in values) else None
    if isinstance(node, ast.Compare) and isinstance(node.left, ast.Constant) and \
            all(isinstance(c, ast.Constant) for c in node.comparators):
        left = node.left.value
        for op, right in zip(node.ops, node.comparators, strict=True):
            compare = _COMPARE.get(type(op))
            try:
                if compare is None or not compare(left, right.value):  # type: ignore[attr-defined]
                    return False if compare is not None else None
            except TypeError:  # 1 < "a": not a constant condition
                return None
            left = right.value  # type: ignore[attr-defined]
        return True
    return None


_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
    ast.GtE: operator.ge, ast.Is: operator.is_, ast.IsNot: operator.is_not,
}
