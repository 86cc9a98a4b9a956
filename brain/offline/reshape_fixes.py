"""Crash templates whose fix reshapes a call or a container (the offline engine registers them
by exception type in ``brain/offline/templates.py``). Each is a fix people make by hand every day:

- ``call.missing-argument``: ``line_total(price)`` -> ``line_total(price, quantity)`` when the
  TypeError names the missing parameter and a name in scope is (or nearly is) that parameter;
- ``call.pack-arguments`` / ``call.drop-argument``: ``history.append("deposit", amount)`` ->
  ``history.append(("deposit", amount))``, or one argument too many dropped;
- ``key.augmented-default``: ``counts[word] += 1`` raising KeyError ->
  ``counts[word] = counts.get(word, 0) + 1``; ``groups[k].append(x)`` ->
  ``groups.setdefault(k, []).append(x)``;
- ``none.initialize``: a container left as ``None`` where it is set up (``self.data = None``)
  and used later (``self.data.move_to_end(key)``) gets a real one, from its annotation or from
  the methods it is used with.

Nothing here runs code: the sandbox decides.
"""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass

from brain.source import BIN_SYMBOL, SourceFile, Spans, function_names


@dataclass(frozen=True)
class Fix:
    rule: str
    rationale: str
    new_text: str
    score: float


def _called_name(call: ast.Call) -> str | None:
    f = call.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None


def _calls_named(stmt: ast.stmt, name: str, line: int) -> list[ast.Call]:
    return [n for n in ast.walk(stmt) if isinstance(n, ast.Call) and _called_name(n) == name
            and n.lineno <= line <= (n.end_lineno or n.lineno) and not any(isinstance(a, ast.Starred) for a in n.args)]


def _with_arguments(t: Spans, call: ast.Call, positional: list[str]) -> str:
    """The text with ``call``'s positional arguments replaced, its keywords kept."""
    keywords = [f"{k.arg}={t.seg(k.value)}" if k.arg else f"**{t.seg(k.value)}" for k in call.keywords]
    return t.replace(t.span(call.func)[1], t.span(call)[1], "(" + ", ".join([*positional, *keywords]) + ")")


def _visible_names(src: SourceFile, line: int) -> list[str]:
    func = src.enclosing_function(line)
    names = sorted(function_names(func)) if func is not None else []
    return names + sorted(src.module_names() - set(names))


def missing_argument(src: SourceFile, line: int, stmt: ast.stmt, message: str) -> Iterator[Fix]:
    """``f() missing 1 required positional argument: 'quantity'``: pass it."""
    m = re.search(r"(\w+)\(\) missing \d+ required positional arguments?: (.+)$", message.strip())
    if m is None:
        return
    params = re.findall(r"'(\w+)'", m.group(2))
    visible = _visible_names(src, line)
    t = Spans(src)
    for call in _calls_named(stmt, m.group(1), line):
        given = [t.seg(a) for a in call.args]
        values: list[tuple[str, float]] = []
        for p in params:
            if p in visible and p not in given:
                values.append((p, 1.0))
            else:
                close = [c for c in difflib.get_close_matches(p, visible, n=1, cutoff=0.7) if c not in given]
                if not close:
                    break
                values.append((close[0], 0.8))
        if len(values) != len(params):
            continue
        new_args = [v for v, _ in values]
        ratio = min(r for _, r in values)
        for order, score in (([*given, *new_args], 2.7), ([*new_args, *given], 2.1)):  # the same when none given: deduplicated
            text = _with_arguments(t, call, order)
            yield Fix("call.missing-argument", f"{m.group(1)}() needs {', '.join(params)}: pass "
                      f"{', '.join(new_args)}", text, score * ratio)


def extra_arguments(src: SourceFile, line: int, stmt: ast.stmt, message: str) -> Iterator[Fix]:
    """``append() takes exactly one argument (2 given)`` / ``f() takes 2 positional arguments
    but 3 were given``: the arguments meant as one tuple, or one of them too many."""
    one = re.search(r"(\w+)\(\) takes exactly one argument \((\d+) given\)", message)
    many = re.search(r"(\w+)\(\) takes (?:from \d+ to )?(\d+) positional arguments? but (\d+) (?:was|were) given", message)
    if one is None and many is None:
        return
    name = (one or many).group(1)  # type: ignore[union-attr]
    extra = int(one.group(2)) - 1 if one else int(many.group(3)) - int(many.group(2))  # type: ignore[union-attr]
    if extra < 1:
        return
    t = Spans(src)
    for call in _calls_named(stmt, name, line):
        if len(call.args) <= extra:
            continue
        keep = len(call.args) - extra  # positional arguments the callee takes here
        args = [t.seg(a) for a in call.args]
        packed = [*args[:keep - 1], "(" + ", ".join(args[keep - 1:]) + ")"]
        yield Fix("call.pack-arguments", f"{name}() takes one value here: pass ({', '.join(args[keep - 1:])}) as one",
                  _with_arguments(t, call, packed), 2.6)
        if extra == 1:
            for k in range(len(args) - 1, -1, -1):
                rest = args[:k] + args[k + 1:]
                yield Fix("call.drop-argument", f"{name}() takes one argument less: drop {args[k]}",
                          _with_arguments(t, call, rest), 2.0 - 0.05 * (len(args) - 1 - k))


_EMPTY_FOR_METHOD = {
    "append": "[]", "extend": "[]", "insert": "[]", "sort": "[]", "index": "[]", "count": "[]", "remove": "[]",
    "add": "set()", "discard": "set()", "union": "set()",
    "get": "{}", "items": "{}", "keys": "{}", "values": "{}", "setdefault": "{}", "update": "{}",
    "move_to_end": "OrderedDict()", "popitem": "{}",
}


def augmented_missing_key(src: SourceFile, line: int, stmt: ast.stmt) -> Iterator[Fix]:
    """A KeyError from counting or grouping into a dict that does not have the key yet."""
    t = Spans(src)
    if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Subscript) \
            and not isinstance(stmt.target.slice, ast.Slice):
        obj, key = t.seg(stmt.target.value), t.seg(stmt.target.slice)
        op = BIN_SYMBOL.get(type(stmt.op))
        value = stmt.value
        if op == "*":
            defaults = ["1"]
        elif isinstance(value, ast.Constant) and isinstance(value.value, str):
            defaults = ['""']
        elif isinstance(value, ast.List | ast.ListComp):
            defaults = ["[]"]
        elif isinstance(value, ast.Constant) and isinstance(value.value, int | float):
            defaults = ["0"]
        else:
            defaults = ["0", "[]", '""']
        for k, default in enumerate(defaults):
            yield Fix("key.augmented-default", f"{obj} has no {key} yet: start from {default}",
                      t.sub(stmt, f"{obj}[{key}] = {obj}.get({key}, {default}) {op} {t.seg(value)}"), 2.6 - 0.1 * k)
    for node in ast.walk(stmt):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and isinstance(node.func.value, ast.Subscript) and not isinstance(node.func.value.slice, ast.Slice) \
                and node.func.attr in _EMPTY_FOR_METHOD and node.lineno <= line <= (node.end_lineno or node.lineno):
            sub = node.func.value
            empty = _EMPTY_FOR_METHOD[node.func.attr]
            if empty == "OrderedDict()":
                continue
            yield Fix("key.augmented-default", f"{t.seg(sub.value)} has no {t.seg(sub.slice)} yet: set it up",
                      t.sub(sub, f"{t.seg(sub.value)}.setdefault({t.seg(sub.slice)}, {empty})"), 2.4)


_EMPTY_FOR_ANNOTATION = {"list": "[]", "List": "[]", "Sequence": "[]", "MutableSequence": "[]",
                         "dict": "{}", "Dict": "{}", "Mapping": "{}", "MutableMapping": "{}",
                         "set": "set()", "Set": "set()", "MutableSet": "set()", "OrderedDict": "OrderedDict()",
                         "deque": "deque()", "Counter": "Counter()", "defaultdict": None}


def none_initialize(src: SourceFile, line: int, stmt: ast.stmt, message: str) -> Iterator[Fix]:
    """``'NoneType' object has no attribute 'append'`` (or is not subscriptable / iterable)
    where the thing used was set to ``None`` elsewhere in the file: set it to a container."""
    if "NoneType" not in message or src.tree is None:
        return
    attr = re.search(r"has no attribute '(\w+)'", message)
    used: list[tuple[str, str | None]] = []  # (holder as written, method used on it)
    t = Spans(src)
    for node in ast.walk(stmt):
        holder, method = None, None
        if isinstance(node, ast.Attribute) and attr and node.attr == attr.group(1):
            holder, method = node.value, node.attr
        elif isinstance(node, ast.Subscript) and "subscriptable" in message:
            holder = node.value
        elif isinstance(node, ast.Compare) and "iterable" in message and any(
                isinstance(op, ast.In | ast.NotIn) for op in node.ops):
            holder = node.comparators[0]
        elif isinstance(node, ast.For | ast.comprehension) and "iterable" in message:
            holder = node.iter
        if isinstance(holder, ast.Name | ast.Attribute) and (t.seg(holder), method) not in used:
            used.append((t.seg(holder), method))
    imported = src.module_names()
    for holder_text, method in used[:2]:
        for node in ast.walk(src.tree):
            target, annotation = None, None
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
            elif isinstance(node, ast.AnnAssign):
                target, annotation = node.target, node.annotation
            value = getattr(node, "value", None)
            if target is None or not (isinstance(value, ast.Constant) and value.value is None) \
                    or t.seg(target) != holder_text:
                continue
            options: list[str] = []
            if annotation is not None:
                base = annotation.value if isinstance(annotation, ast.Subscript) else annotation
                name = base.id if isinstance(base, ast.Name) else base.attr if isinstance(base, ast.Attribute) else ""
                empty = _EMPTY_FOR_ANNOTATION.get(name)
                if empty and (empty[0] in "[{s" or name in imported):
                    options.append(empty)
            by_method = _EMPTY_FOR_METHOD.get(method or "")
            if by_method and (by_method != "OrderedDict()" or "OrderedDict" in imported):
                options.append(by_method)
            options += ["[]", "{}"] if method is None else []
            for k, empty in enumerate(dict.fromkeys(options)):
                assert value is not None
                yield Fix("none.initialize", f"{holder_text} starts as None but is used as a container: "
                          f"start it as {empty}", t.sub(value, empty), 2.5 - 0.1 * k)
