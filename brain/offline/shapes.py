"""Operators for wrong answers whose fix changes a statement's shape, beside the token-level
mutations in ``brain/offline/mutate.py`` and the slips in ``brain/offline/slips.py``: what fix histories of
algorithm and exercise code show next.

- ``loop.if-while``: ``if number >= value:`` meant ``while`` (and the reverse);
- ``call.wrap``: a value that needs one more call: ``"".join(reversed(digits))``,
  ``sorted(...)``, or ``str(i)`` appended to a list that otherwise holds strings;
- ``call.recurse``: an item of a recursive structure passed on as is, where the function itself
  should handle it: ``out.extend(item)`` -> ``out.extend(flatten(item))``;
- ``value.negate``: one part of a sort key the wrong way round: ``(counts[w], w)`` ->
  ``(-counts[w], w)``;
- ``subscript.swap``: ``m[j][i]`` for ``m[i][j]``;
- ``constant.decimal``: a digit too few or too many: ``400`` -> ``4000``;
- ``range.one-based``: ``range(n)`` meant ``range(1, n + 1)``; ``range.step``: a step forgotten
  (``range(0, len(items), size)``);
- ``call.sort-order``: ``reverse=True`` forgotten (or wrong) on a sort;
- ``subscript.drop`` / ``subscript.add``: ``average(marks[0])`` for ``average(marks)``, and
  ``result.append(words)`` for ``result.append(words[i])`` inside ``for i in range(...)``;
- ``call.reversed-slice``: ``text == reversed(text)`` compares with an iterator: ``text[::-1]``;
- ``constant.expected``: a literal the failing ``assert actual == expected`` shows as the
  actual value, at a suspicious line, becomes the expected one (a table of constants: a grade
  letter, a label);
- ``statement.sibling``: the statement next to this one, again for the parallel names a loop
  pairs (``while i < len(a) and j < len(b)``: after ``out.extend(a[i:])`` comes
  ``out.extend(b[j:])``);
- ``statement.from-method``: a step another method of the class does and this one forgot
  (``self.data.move_to_end(key)``), where all its names are bound here.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass

from brain.source import SourceFile, Spans, function_names, indent_of


@dataclass(frozen=True)
class ShapeEdit:
    rule: str
    rationale: str
    new_text: str


def at_statement(src: SourceFile, stmt: ast.stmt, func: ast.FunctionDef | ast.AsyncFunctionDef | None,
                 header: list[ast.AST]) -> Iterator[ShapeEdit]:
    t = Spans(src)
    yield from _if_while(src, t, stmt)
    for expr in header:
        for node in ast.walk(expr):
            if isinstance(node, ast.Call):
                yield from _wraps(t, node, func)
                yield from _ranges(t, node, func)
                yield from _arguments(t, node, func)
                if func is not None:
                    yield from _recurse(t, node, func)
                if any(k.arg == "key" and isinstance(k.value, ast.Lambda) for k in node.keywords):
                    yield from _negate_key(t, node)
            elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Subscript):
                yield from _swap_indices(t, node)
            elif isinstance(node, ast.Compare):
                yield from _reversed_compared(t, node)
            elif isinstance(node, ast.Constant) and type(node.value) is int and abs(node.value) >= 10:
                for new in (node.value * 10, node.value // 10 if node.value % 10 == 0 else None):
                    if new is not None:
                        yield ShapeEdit("constant.decimal", f"{node.value} has a digit too {'few' if new > node.value else 'many'}",
                                        t.sub(node, str(new)))
    if isinstance(stmt, ast.Return) and isinstance(stmt.value, ast.Name):
        name = stmt.value.id
        for wrapped, why in ((f"sorted({name})", "in order"), (f"{name}[::-1]", "the other way round")):
            yield ShapeEdit("call.wrap", f"return {name} {why}", t.sub(stmt.value, wrapped))
    if func is not None:
        yield from _sibling(src, stmt, func)
        yield from _from_method(src, stmt, func)


def _if_while(src: SourceFile, t: Spans, stmt: ast.stmt) -> Iterator[ShapeEdit]:
    if isinstance(stmt, ast.If | ast.While) and not stmt.orelse and stmt.body[0].lineno != stmt.lineno:
        word, new = ("if", "while") if isinstance(stmt, ast.If) else ("while", "if")
        a = t.offset(stmt.lineno, stmt.col_offset)
        if t.data[a:a + len(word)].decode() == word:  # not an elif
            yield ShapeEdit("loop.if-while", f"'{word}' should be '{new}': the step repeats while it holds"
                            if new == "while" else f"'{word}' should be '{new}': the step happens once",
                            t.replace(a, a + len(word), new))


def _holds_strings(func: ast.AST | None, owner: str) -> bool:
    """The list ``owner`` also gets string literals, or is joined into a string, in ``func``."""
    if func is None:
        return False
    for node in ast.walk(func):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in ("append", "insert") and isinstance(node.func.value, ast.Name) \
                    and node.func.value.id == owner and node.args \
                    and isinstance(node.args[-1], ast.Constant) and isinstance(node.args[-1].value, str):
                return True
            if node.func.attr == "join" and node.args and any(
                    isinstance(n, ast.Name) and n.id == owner for n in ast.walk(node.args[0])):
                return True
    return False


def _wraps(t: Spans, call: ast.Call, func: ast.AST | None) -> Iterator[ShapeEdit]:
    f = call.func
    if isinstance(f, ast.Attribute) and f.attr == "join" and len(call.args) == 1:
        arg = call.args[0]
        text = t.seg(arg)
        if not (isinstance(arg, ast.Call) and isinstance(arg.func, ast.Name) and arg.func.id in ("reversed", "sorted")):
            for new, why in ((f"reversed({text})", "in reverse"), (f"sorted({text})", "in order")):
                yield ShapeEdit("call.wrap", f"join {text} {why}", t.sub(arg, new))
    if isinstance(f, ast.Attribute) and f.attr == "append" and len(call.args) == 1 and isinstance(f.value, ast.Name):
        arg = call.args[0]
        if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)) and _holds_strings(func, f.value.id) \
                and not (isinstance(arg, ast.Call) and isinstance(arg.func, ast.Name) and arg.func.id == "str"):
            yield ShapeEdit("call.wrap", f"{f.value.id} holds strings: append str({t.seg(arg)})",
                            t.sub(arg, f"str({t.seg(arg)})"))


def _recurse(t: Spans, call: ast.Call, func: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[ShapeEdit]:
    params = [a.arg for a in func.args.args if a.arg not in ("self", "cls")]
    if len(params) != 1 or func.args.vararg or func.args.kwarg:
        return
    loop_vars = {n.id for loop in ast.walk(func) if isinstance(loop, ast.For)
                 for n in ast.walk(loop.target) if isinstance(n, ast.Name)}
    if not isinstance(call.func, ast.Attribute) or call.func.attr not in ("append", "extend", "update", "add"):
        return
    for arg in call.args:
        if isinstance(arg, ast.Name) and arg.id in loop_vars:
            callee = f"self.{func.name}" if func.args.args and func.args.args[0].arg == "self" else func.name
            yield ShapeEdit("call.recurse", f"{arg.id} is itself to be handled by {func.name}()",
                            t.sub(arg, f"{callee}({arg.id})"))


def _negate_key(t: Spans, call: ast.Call) -> Iterator[ShapeEdit]:
    key = next(k.value for k in call.keywords if k.arg == "key")
    assert isinstance(key, ast.Lambda)
    parts = key.body.elts if isinstance(key.body, ast.Tuple) else [key.body]
    for part in parts:
        if isinstance(part, ast.UnaryOp) and isinstance(part.op, ast.USub):
            yield ShapeEdit("value.negate", "this part of the key is the wrong way round", t.sub(part, t.seg(part.operand)))
        elif isinstance(part, ast.Subscript | ast.Call | ast.Name | ast.Attribute | ast.BinOp):
            text = t.seg(part)
            yield ShapeEdit("value.negate", f"sort by {text} the other way round",
                            t.sub(part, f"-({text})" if isinstance(part, ast.BinOp) else f"-{text}"))


def _swap_indices(t: Spans, node: ast.Subscript) -> Iterator[ShapeEdit]:
    inner = node.value
    assert isinstance(inner, ast.Subscript)
    a, b = inner.slice, node.slice
    if isinstance(a, ast.Slice) or isinstance(b, ast.Slice) or t.seg(a) == t.seg(b):
        return
    yield ShapeEdit("subscript.swap", f"the indices {t.seg(a)} and {t.seg(b)} are the other way round",
                    t.sub(node, f"{t.seg(inner.value)}[{t.seg(b)}][{t.seg(a)}]"))


def _pairs(func: ast.AST) -> dict[str, str]:
    """Names a loop treats in parallel: ``i < len(a) and j < len(b)`` pairs i with j, a with b."""
    pairs: dict[str, str] = {}
    for node in ast.walk(func):
        if not isinstance(node, ast.BoolOp):
            continue
        shapes = []
        for value in node.values:
            names = [n.id for n in ast.walk(value) if isinstance(n, ast.Name) and n.id not in ("len",)]
            shapes.append((ast.dump(_blank(value)), names))
        for k, (shape, names) in enumerate(shapes):
            for shape2, names2 in shapes[k + 1:]:
                if shape == shape2 and len(names) == len(names2):
                    for x, y in zip(names, names2, strict=True):
                        if x != y:
                            pairs.setdefault(x, y)
                            pairs.setdefault(y, x)
    return pairs


def _blank(node: ast.AST) -> ast.AST:
    """The expression with every name the same: its shape."""
    class Blank(ast.NodeTransformer):
        def visit_Name(self, n: ast.Name) -> ast.AST:
            return ast.Name(id="_" if n.id != "len" else "len", ctx=n.ctx)
    return Blank().visit(ast.parse(ast.unparse(node), mode="eval"))


def _sibling(src: SourceFile, stmt: ast.stmt, func: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[ShapeEdit]:
    if not isinstance(stmt, ast.Expr | ast.Assign | ast.AugAssign) or stmt.lineno != stmt.end_lineno:
        return
    pairs = _pairs(func)
    names = {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name)}
    mapping = {n: pairs[n] for n in names if n in pairs}
    if not mapping:
        return
    line = src.line(stmt.lineno)
    code = line.strip()
    renamed = re.sub(r"\b(" + "|".join(map(re.escape, mapping)) + r")\b", lambda m: mapping[m.group(1)], code)
    if renamed != code:
        yield ShapeEdit("statement.sibling", f"after `{code}`, the same for {', '.join(mapping.values())}: `{renamed}`",
                        src.insert_before(stmt.lineno + 1, [indent_of(line) + renamed]))


def _from_method(src: SourceFile, stmt: ast.stmt, func: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[ShapeEdit]:
    cls = src.enclosing_class(func.lineno)
    if cls is None or stmt is func or stmt.lineno != (stmt.end_lineno or stmt.lineno):
        return
    bound, module = function_names(func), src.module_names()
    here = {ast.dump(s) for s in ast.walk(func) if isinstance(s, ast.stmt)}
    seen: set[str] = set()
    for other in cls.body:
        if not isinstance(other, ast.FunctionDef) or other is func:
            continue
        for s in ast.walk(other):
            if not isinstance(s, ast.Expr) or not isinstance(s.value, ast.Call) or s.lineno != s.end_lineno:
                continue
            free = {n.id for n in ast.walk(s) if isinstance(n, ast.Name)} - {"self"}
            code = src.line(s.lineno).strip()
            if free <= bound | module and ast.dump(s) not in here and code not in seen:
                seen.add(code)
                # after this statement, or before it when nothing after it would run
                at = stmt.lineno if isinstance(stmt, ast.Return | ast.Raise | ast.Continue | ast.Break) else stmt.lineno + 1
                yield ShapeEdit("statement.from-method", f"{other.name}() does `{code}`; {func.name}() forgot it",
                                src.insert_before(at, [indent_of(src.line(stmt.lineno)) + code]))


def _ranges(t: Spans, call: ast.Call, func: ast.FunctionDef | ast.AsyncFunctionDef | None) -> Iterator[ShapeEdit]:
    if not (isinstance(call.func, ast.Name) and call.func.id == "range") or call.keywords:
        return
    if len(call.args) == 1:
        n = t.seg(call.args[0])
        yield ShapeEdit("range.one-based", f"count from 1 to {n}: range(1, {n} + 1)", t.sub(call, f"range(1, {n} + 1)"))
    elif len(call.args) == 2 and func is not None:
        start, stop = (t.seg(a) for a in call.args)
        used = {n.id for a in call.args for n in ast.walk(a) if isinstance(n, ast.Name)}
        for p in [a.arg for a in func.args.args if a.arg not in ("self", "cls")]:
            if p not in used:
                yield ShapeEdit("range.step", f"step by {p}", t.sub(call, f"range({start}, {stop}, {p})"))


def _arguments(t: Spans, call: ast.Call, func: ast.FunctionDef | ast.AsyncFunctionDef | None) -> Iterator[ShapeEdit]:
    f = call.func
    name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
    if name in ("sort", "sorted"):
        flag = next((k for k in call.keywords if k.arg == "reverse"), None)
        key = next((k.value for k in call.keywords if k.arg == "key"), None)
        # a key of several parts: one part the wrong way round is value.negate, not the whole order
        several = isinstance(key, ast.Lambda) and isinstance(key.body, ast.Tuple)
        if flag is None and not several:
            end = t.span(call)[1] - 1  # before the closing parenthesis
            comma = ", " if call.args or call.keywords else ""
            yield ShapeEdit("call.sort-order", "the order is the other way round: reverse=True",
                            t.replace(end, end, f"{comma}reverse=True"))
        elif flag is not None and isinstance(flag.value, ast.Constant) and isinstance(flag.value.value, bool):
            yield ShapeEdit("call.sort-order", "the order is the other way round",
                            t.sub(flag.value, str(not flag.value.value)))
    if name in ("range", "len", "isinstance", "print"):
        return
    loops = _index_loops(func) if func is not None else []
    for arg in call.args:
        if isinstance(arg, ast.Subscript) and not isinstance(arg.slice, ast.Slice) and isinstance(arg.value, ast.Name):
            yield ShapeEdit("subscript.drop", f"{t.seg(arg)}: the whole of {arg.value.id} is meant", t.sub(arg, arg.value.id))
        elif isinstance(arg, ast.Name):
            for index, sequence in loops:
                if sequence == arg.id:
                    yield ShapeEdit("subscript.add", f"one item of {arg.id} is meant: {arg.id}[{index}]",
                                    t.sub(arg, f"{arg.id}[{index}]"))


def _index_loops(func: ast.AST) -> list[tuple[str, str]]:
    """(index, sequence) of ``for index in range(... len(sequence) ...)`` loops."""
    out = []
    for node in ast.walk(func):
        if isinstance(node, ast.For) and isinstance(node.target, ast.Name) and isinstance(node.iter, ast.Call) \
                and isinstance(node.iter.func, ast.Name) and node.iter.func.id == "range":
            for sub in ast.walk(node.iter):
                if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) and sub.func.id == "len" \
                        and sub.args and isinstance(sub.args[0], ast.Name):
                    out.append((node.target.id, sub.args[0].id))
    return out


def _reversed_compared(t: Spans, node: ast.Compare) -> Iterator[ShapeEdit]:
    for side in [node.left, *node.comparators]:
        if isinstance(side, ast.Call) and isinstance(side.func, ast.Name) and side.func.id == "reversed" \
                and len(side.args) == 1:
            inner = t.seg(side.args[0])
            yield ShapeEdit("call.reversed-slice", f"reversed() gives an iterator, never equal to a sequence: {inner}[::-1]",
                            t.sub(side, f"{inner}[::-1]"))


_ASSERT_EQ = re.compile(r"^(?:AssertionError: )?assert (.+?) == (.+)$")
_AT_INDEX = re.compile(r"^\s*At index \d+ diff: (.+?) != (.+)$", re.MULTILINE)


def compared_literals(message: str, longest: int = 4000) -> tuple[object, object] | None:
    """The two sides of pytest's ``assert left == right`` (its first line, at most ``longest``
    characters), when both print as Python literals; None otherwise (a custom message, or a
    repr pytest shortened with "...")."""
    first = message.strip().splitlines()[0] if message.strip() else ""
    m = _ASSERT_EQ.match(first)
    if m is None or len(first) > longest or "..." in first:
        return None
    return _literals(m)


def _literals(m: re.Match[str]) -> tuple[object, object] | None:
    try:
        return ast.literal_eval(m.group(1)), ast.literal_eval(m.group(2))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def assertion_values(message: str) -> tuple[object, object] | None:
    """The two literals of pytest's ``assert actual == expected`` (its first line), if both are;
    else, for long sequences pytest shortens, the first items that differ (``At index 6 diff:
    'E' != 'F'``)."""
    values = compared_literals(message, longest=400)
    if values is None:
        at = _AT_INDEX.search(message)
        values = _literals(at) if at else None
    return values


def expected_constant(src: SourceFile, stmt: ast.stmt, actual: object, expected: object) -> Iterator[ShapeEdit]:
    """The string ``actual`` returned as is by this statement, where ``expected`` was meant (in
    two lists of the same length: each pair of items that differ). Only a returned label
    (``return "E"`` for ``"F"``): any other literal the test expects would fit the test, not
    the code (measured: a count started at 3, a numeral table's "III" for 1)."""
    if not (isinstance(stmt, ast.Return) and isinstance(stmt.value, ast.Constant)):
        return
    pairs = [(actual, expected)]
    if isinstance(actual, list | tuple) and isinstance(expected, list | tuple) and len(actual) == len(expected):
        pairs = [(a, e) for a, e in zip(actual, expected, strict=True) if a != e][:3]
    t = Spans(src)
    for got, wanted in pairs:
        if not isinstance(got, str) or not isinstance(wanted, str):
            continue
        for node in ast.walk(stmt):
            if isinstance(node, ast.Constant) and type(node.value) is type(got) and node.value == got:
                yield ShapeEdit("constant.expected", f"{got!r} here is what the test got; it expects {wanted!r}",
                                t.sub(node, repr(wanted)))


# Rules the failing assert's values point to: items that are right but of the wrong type (11
# where "11" is expected) need a conversion, not another value.
_TYPE_HINTED = {"call.wrap": 4.0, "slip.conversion": 2.0}


def hinted(values: tuple[object, object] | None) -> dict[str, float]:
    """Prior multipliers from the failing assert's two literals (``assertion_values``)."""
    if values is None:
        return {}
    got, wanted = values
    pairs = list(zip(got, wanted, strict=False)) if isinstance(got, list | tuple) and isinstance(wanted, list | tuple) \
        else [(got, wanted)]
    retyped = any(type(a) is not type(b) and str(a) == str(b) for a, b in pairs)
    return dict(_TYPE_HINTED) if retyped else {}
