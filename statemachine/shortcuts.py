"""What a candidate may not do to look like a fix (TRUTH.md's rules), read from syntax trees.

Three kinds, all pure (trees in, reasons out):

- **what judges** (``judging_edits``): a test function, a fixture, a check a script runs on its
  own result, an ``assert`` anywhere. A candidate that touches one is rejected before it runs.
- **fitted constants** (``fitted_literals``): a new literal that is the failing check's expected
  value, or a constant tuned step by step towards it, unless the code already names that value.
  Rejected before it runs.
- **anti-patterns** (``workarounds``, Tan et al., FSE 2016): deleting an exit or a control
  statement or the block it guards, inserting an early exit where the reproduction checks no
  value, a condition or loop made trivially true or false, a swallowed exception. These may
  run, but are never verified: at most shown as a workaround.
"""

from __future__ import annotations

import ast
import functools
import operator
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from pve.models import Reproduction, ReproKind

# Literals too common in real fixes to count as fitted (off by one, empty, a flag).
_TRIVIAL: frozenset[object] = frozenset({0, 1, -1, "", " ", None})
_CHECKER_PREFIXES = ("test", "check")
_EXITS = (ast.Return, ast.Raise, ast.Break, ast.Continue)
_CONTROL = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.Try, ast.With, ast.AsyncWith, ast.Match)
_TEST_CONFIG = frozenset({"pytest.ini", "tox.ini", "setup.cfg", "pyproject.toml", "noxfile.py", ".coveragerc",
                          "conftest.py"})


def is_test_configuration(path: str) -> bool:
    """Files that say how the tests run (pytest's and tox's options, markers, plugins)."""
    return path.rsplit("/", 1)[-1] in _TEST_CONFIG


# --------------------------------------------------------------------------- what judges


def judging_edits(path: str, old: ast.AST | None, new: ast.AST, touched: Iterable[ast.AST], *,
                  script: bool) -> list[str]:
    """Why this change edits what judges the fix. ``old``/``new``: the changed region before and
    after; ``touched``: the original's function definitions that hold a changed line;
    ``script``: the file is the reproduction itself (a script whose checks may not change)."""
    reasons = []
    if _asserts(old) != _asserts(new):
        reasons.append(f"changes an assert statement in {path}")
    for node in touched:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if node.name.startswith("test") or _is_fixture(node):
            reasons.append(f"edits {node.name}() in {path}, a test or fixture")
        elif script and (node.name.startswith(_CHECKER_PREFIXES) or _checks(node)):
            reasons.append(f"edits {node.name}() in {path}, which checks the script's result")
    return list(dict.fromkeys(reasons))


@functools.lru_cache(maxsize=16)  # by identity: the original's region comes back for every candidate
def _asserts(tree: ast.AST | None) -> Counter[str]:
    if tree is None:
        return Counter()
    return Counter(ast.dump(n) for n in ast.walk(tree) if isinstance(n, ast.Assert))


def _is_fixture(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for d in node.decorator_list:
        target = d.func if isinstance(d, ast.Call) else d
        name = target.attr if isinstance(target, ast.Attribute) else target.id if isinstance(target, ast.Name) else ""
        if name in ("fixture", "yield_fixture"):
            return True
    return False


def _checks(node: ast.AST) -> bool:
    """Does this function check a result: an assert, or raising AssertionError?"""
    for n in ast.walk(node):
        if isinstance(n, ast.Assert):
            return True
        if isinstance(n, ast.Raise) and n.exc is not None:
            exc = n.exc.func if isinstance(n.exc, ast.Call) else n.exc
            if isinstance(exc, ast.Name) and exc.id == "AssertionError":
                return True
    return False


# --------------------------------------------------------------------------- fitted constants


def fitted_literals(old: ast.AST | None, new: ast.AST, context: str, expected: frozenset[object],
                    rule: str) -> list[str]:
    """A new literal that the failing check expects, unless the edited code already names it
    (``context``: the original text of the edited function, its docstring and comments, or the
    module for a change at module level). A value the module holds elsewhere (a default table)
    does not excuse it: the fix should use that name, not a copy fitted to one test. A constant
    stepped more than once (stepping stones' ``constant.near``) is rejected whatever its value."""
    added = _literals(new) - _literals(old)
    reasons = []
    named = _named(context)
    for value in sorted(added, key=repr):
        if _trivial(value):
            continue
        if rule.count("constant.near") >= 2:
            reasons.append(f"tunes a constant step by step to {value!r} (fitted to the tests, not derived from the code)")
        elif value in expected and not _names(named, value):
            reasons.append(f"sets {value!r}, the value the failing check expects, which the edited code does not name")
    return reasons


def _trivial(value: object) -> bool:
    try:
        return value in _TRIVIAL and type(value) in (int, float, str, bool, type(None))
    except TypeError:
        return False


@functools.lru_cache(maxsize=16)
def _literals(tree: ast.AST | None) -> Counter[object]:
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
    return frozenset(_literals(tree)), text


def _names(named: tuple[frozenset[object], str], value: object) -> bool:
    literals, text = named
    try:
        if value in literals:
            return True
    except TypeError:
        return False
    return isinstance(value, int | float | str) and len(str(value)) >= 2 and str(value) in text


def judged_text(repro: Reproduction, read: Callable[[str], str]) -> Callable[[str], str]:
    """A reader of the reproduction's files, also of a script PVE wrote (it is a patch, not a
    file of the project)."""
    def text(path: str) -> str:
        if repro.script is not None and path == repro.target:
            return repro.script
        return read(path)
    return text


def expected_values(repro: Reproduction, read: Callable[[str], str]) -> frozenset[object]:
    """The literals the reproduction's checks compare against: inside its asserts (and
    ``assert*`` calls, ``parametrize`` tables, names like ``expected``) in the failing tests, or
    in the reproduction scripts."""
    if repro.kind is ReproKind.PYTEST:
        wanted: dict[str, set[str]] = {}
        for tid in repro.test_ids:
            path, _, rest = tid.partition("::")
            name = rest.split("::")[-1].split("[")[0] if rest else ""
            wanted.setdefault(path, set()).add(name)
        sources = [(path, tuple(sorted(names))) for path, names in wanted.items()]
    else:
        sources = [(path, ("",)) for path in repro.files]
    found: set[object] = set()
    for path, names in sources:
        try:
            text = read(path)
        except (OSError, UnicodeDecodeError):
            continue
        found |= _expected_in(text, names)
    return frozenset(found)


@functools.lru_cache(maxsize=32)
def _expected_in(text: str, names: tuple[str, ...]) -> frozenset[object]:
    """``names``: the test functions ('' for the whole file, or a whole file of tests)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return frozenset()
    scopes: list[ast.AST] = []
    if "" in names:
        scopes.append(tree)
    else:
        scopes += [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name in names]
    out: set[object] = set()
    for scope in scopes:
        for n in ast.walk(scope):
            if isinstance(n, ast.Assert) or (isinstance(n, ast.Call) and _is_check_call(n)):
                out |= set(_literals(n))
            elif isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id.startswith(("expect", "want"))
                                                   for t in n.targets):
                out |= set(_literals(n.value))
            elif isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef):
                for d in n.decorator_list:
                    if isinstance(d, ast.Call) and getattr(d.func, "attr", "") == "parametrize":
                        out |= set(_literals(d))
    return frozenset(v for v in out if not _trivial(v))


def _is_check_call(call: ast.Call) -> bool:
    name = call.func.attr if isinstance(call.func, ast.Attribute) else call.func.id if isinstance(call.func, ast.Name) else ""
    return name.startswith("assert")


def checks_values(repro: Reproduction, read: Callable[[str], str]) -> bool:
    """Does the reproduction check what the code computes (an assert, ``pytest.raises``, an
    ``assert*`` method), or only that it runs without crashing?"""
    if repro.kind is ReproKind.PYTEST:
        paths = {tid.partition("::")[0] for tid in repro.test_ids}
    else:
        paths = set(repro.files)
    for path in sorted(paths):
        try:
            text = read(path)
        except (OSError, UnicodeDecodeError):
            continue
        if _has_checks(text):
            return True
    return False


@functools.lru_cache(maxsize=32)
def _has_checks(text: str) -> bool:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    for n in ast.walk(tree):
        if isinstance(n, ast.Assert):
            return True
        if isinstance(n, ast.Call):
            name = n.func.attr if isinstance(n.func, ast.Attribute) else n.func.id if isinstance(n.func, ast.Name) else ""
            if name.startswith("assert") or name == "raises":
                return True
    return False


# --------------------------------------------------------------------------- anti-patterns


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


# What code under judgement would use to reach what judges it, from inside the process that
# runs it: the harness's memory (frames, the garbage collector, ctypes, __main__), the process's
# own /proc entries (its command line, descriptors, memory), and pytest's or the harness's
# objects. A run cannot stop code in its own process from reading that process (SANDBOX.md,
# "verdict channel"); a candidate or a pull request that adds any of it is not judged
# automatically.
_INTROSPECTION_CALLS = frozenset({
    "sys._getframe", "sys._current_frames", "inspect.currentframe", "inspect.stack", "inspect.getouterframes",
    "inspect.trace", "gc.get_objects", "gc.get_referrers", "gc.get_referents", "ctypes.string_at",
    "ctypes.memmove", "ctypes.cast", "ctypes.CDLL", "ctypes.pythonapi", "sys.settrace", "sys.setprofile",
    "threading.settrace", "sys.addaudithook"})
_INTROSPECTION_MODULES = frozenset({"ctypes", "_ctypes", "gc", "_pytest", "harness", "pluggy", "cffi"})
_JUDGE_OBJECTS = frozenset({"pytest", "_pytest", "TestReport", "CallInfo", "harness", "pluggy"})


def introspection(old: ast.AST | None, new: ast.AST) -> list[str]:
    """What ``new`` adds (beyond ``old``) that reads or rewrites the process judging it."""
    before, after = _introspection(old), _introspection(new)
    found = sorted(after - before)
    return [f"reaches into the process that judges it ({', '.join(found[:4])}): not judged automatically"] if found else []


@functools.lru_cache(maxsize=16)
def _introspection(tree: ast.AST | None) -> frozenset[str]:
    out: set[str] = set()
    if tree is None:
        return frozenset()
    for n in ast.walk(tree):
        if isinstance(n, ast.Call):
            name = dotted(n.func)
            if name in _INTROSPECTION_CALLS or (name or "").endswith("._getframe"):
                out.add(f"{name}()")
        elif isinstance(n, ast.Import | ast.ImportFrom):
            mods = [a.name for a in n.names] if isinstance(n, ast.Import) else [n.module or ""]
            out |= {f"import {m}" for m in mods if m.split(".")[0] in _INTROSPECTION_MODULES}
            if isinstance(n, ast.ImportFrom) and n.module:
                out |= {f"{n.module}.{a.name}" for a in n.names if f"{n.module}.{a.name}" in _INTROSPECTION_CALLS}
        elif isinstance(n, ast.Constant) and isinstance(n.value, str) and \
                any(p in n.value for p in ("/proc/self", "/proc/1/", "/proc/thread-self", "__main__")):
            out.add(repr(n.value[:40]))
        elif isinstance(n, ast.Attribute) and n.attr in ("f_back", "f_globals", "f_locals", "gi_frame", "tb_frame",
                                                          "cr_frame", "__globals__", "__code__"):
            out.add(f".{n.attr}")
        elif isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store | ast.Del) and \
                (dotted(n.value) or "").split(".")[0] in _JUDGE_OBJECTS:
            out.add(f"assigns {dotted(n.value)}.{n.attr}")
        elif isinstance(n, ast.Call) and dotted(n.func) in ("setattr", "delattr") and n.args and \
                (dotted(n.args[0]) or "").split(".")[0] in _JUDGE_OBJECTS:
            out.add(f"{dotted(n.func)}({dotted(n.args[0])}, ...)")
    return frozenset(out)


def dotted(node: ast.AST) -> str | None:
    """``a.b.c`` for a name or an attribute chain on one (None for anything else)."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None
