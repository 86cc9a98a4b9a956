"""Crash templates for data the code did not expect: KeyError (a default, a guard, a misspelt
key), IndexError (off by one), ZeroDivisionError (a guard), TypeError (a conversion, a None
compared) and ValueError (int() of a decimal or of padded text); and the calls and containers
reshaped by ``reshape_fixes``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from brain.offline import reshape_fixes
from brain.offline.proposal import (
    Context,
    Proposal,
    close_matches,
    failing_line,
    failing_statement,
    guard,
)
from brain.source import SourceFile, Spans, segment


def key_fixes(ctx: Context) -> Iterator[Proposal]:
    site = failing_statement(ctx)
    if site is None:
        return
    src, lineno, line, stmt = site
    subs = [n for n in ast.walk(stmt) if isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Load)
            and not isinstance(n.slice, ast.Slice) and n.lineno == lineno == n.end_lineno]
    key = ctx.exc.message.strip()
    literal_key = key[1:-1] if len(key) >= 2 and key[0] == key[-1] and key[0] in "'\"" else None
    if literal_key is not None:
        yield from _key_literal_typo(ctx, literal_key)
    for sub in subs[:2]:
        obj, idx = segment(src, sub.value), segment(src, sub.slice)
        if not obj or not idx:
            continue
        raw = line.encode("utf-8")  # AST columns are UTF-8 byte offsets
        for default, score in (("0", 2.3), ("None", 2.2), ('""', 1.6), ("[]", 1.5)):
            tail = "" if default == "None" else f", {default}"
            # at the subscript's own position: in `d[k] = d[k] + 1` only the read may change
            fixed = (raw[:sub.col_offset] + f"{obj}.get({idx}{tail})".encode() + raw[sub.end_col_offset:]).decode()
            yield Proposal("key.get-default", f"a missing key {idx} means {default}", src.path,
                           src.replace_line(lineno, fixed), score)
        yield from guard(ctx, f"{idx} not in {obj}", [("None", 2.0), ("0", 1.9)], "key.guard", f"{idx} may be missing")


def _key_literal_typo(ctx: Context, key: str) -> Iterator[Proposal]:
    """A misspelt key literal, on the failing line or up the call chain (the caller passed it)."""
    frames = [f for f in reversed(ctx.analysis.project_frames) if f.project_path and f.line and ctx.editable(f.project_path)]
    for depth, frame in enumerate(frames[:4]):
        try:
            fsrc = ctx.src if ctx.src and frame.project_path == ctx.src.path else SourceFile(frame.project_path or "", ctx.read(frame.project_path or ""))
        except FileNotFoundError:
            continue
        if fsrc.tree is None:
            continue
        line = fsrc.line(frame.line or 0)
        known = {n.value for n in ast.walk(fsrc.tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
        for name, ratio in close_matches(key, known):
            for q in ("'", '"'):
                old = f"{q}{key}{q}"
                if old in line:
                    yield Proposal("key.closest", f"no key {old}; the code elsewhere uses {q}{name}{q}", fsrc.path,
                                   fsrc.replace_line(frame.line or 0, line.replace(old, f"{q}{name}{q}")),
                                   3.4 + ratio - depth * 0.1)


def index_fixes(ctx: Context) -> Iterator[Proposal]:
    lc = failing_line(ctx)
    if lc is None:
        return
    src, lineno, line = lc
    patterns = [
        (r"\[len\((?P<x>[^()]+)\)\]", lambda m: f"[len({m.group('x')}) - 1]", "index at len(x) is one past the end"),
        (r"range\(len\((?P<x>[^()]+)\) \+ 1\)", lambda m: f"range(len({m.group('x')}))", "range runs one past the end"),
        (r"range\(1, len\((?P<x>[^()]+)\) \+ 1\)", lambda m: f"range(1, len({m.group('x')}))", "range runs one past the end"),
        (r"\[(?P<i>\w+) \+ 1\]", lambda m: f"[{m.group('i')}]", "index one past the intended element"),
        (r"\[(?P<i>\w+) - 1\]", lambda m: f"[{m.group('i')}]", "index one before the intended element"),
        (r"\[(?P<i>\w+)\]", lambda m: f"[{m.group('i')} - 1]", "off by one: index from 0"),
        (r"(?P<a>\w+) <= len\(", lambda m: f"{m.group('a')} < len(", "bound must be exclusive"),
    ]
    for k, (pattern, repl, why) in enumerate(patterns):
        fixed = re.sub(pattern, repl, line, count=1)
        if fixed != line:
            yield Proposal("index.off-by-one", why, src.path, src.replace_line(lineno, fixed), 2.8 - k * 0.1)
    func = src.enclosing_function(lineno)
    if func is not None:
        # the loop bound that feeds the index may sit a few lines above
        for n in range(max(func.lineno, lineno - 6), lineno):
            above = src.line(n)
            for pattern, repl, why in patterns[1:3] + patterns[6:]:
                fixed = re.sub(pattern, repl, above, count=1)
                if fixed != above:
                    yield Proposal("index.loop-bound", why, src.path, src.replace_line(n, fixed), 2.6)
    stmt = src.statement_at(lineno)
    if stmt is not None:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
                yield from guard(ctx, f"not {node.value.id}", [("None", 1.8)], "index.empty-guard",
                                  f"{node.value.id} can be empty")
                break


def zero_division(ctx: Context) -> Iterator[Proposal]:
    site = failing_statement(ctx)
    if site is None:
        return
    src, lineno, line, stmt = site
    divisors: list[str] = []
    for node in ast.walk(stmt):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div | ast.FloorDiv | ast.Mod):
            text = segment(src, node.right)
            if text and text not in divisors:
                divisors.append(text)
    func = src.enclosing_function(lineno)
    floaty = func is not None and (isinstance(func.returns, ast.Name) and func.returns.id == "float")
    for i, d in enumerate(divisors[:2]):
        m = re.fullmatch(r"len\((?P<x>.+)\)", d)
        cond = f"not {m.group('x')}" if m else f"{d} == 0"
        values = [("0.0", 2.6), ("0", 2.5), ("None", 2.3)] if floaty else [("0", 2.6), ("0.0", 2.5), ("None", 2.3)]
        yield from guard(ctx, cond, [(v, s - i * 0.2) for v, s in values], "zero.guard", f"{d} can be zero")
        whole = next((segment(src, n) for n in ast.walk(stmt) if isinstance(n, ast.BinOp)
                      and isinstance(n.op, ast.Div | ast.FloorDiv | ast.Mod) and segment(src, n.right) == d), None)
        if whole and whole in line:
            fallback = "0.0" if floaty else "0"
            yield Proposal("zero.conditional", f"{d} can be zero: the expression falls back to {fallback}", src.path,
                           src.replace_line(lineno, line.replace(whole, f"({whole} if {d} else {fallback})", 1)), 2.0 - i * 0.2)


def type_fixes(ctx: Context) -> Iterator[Proposal]:
    lc = failing_line(ctx)
    if lc is None:
        return
    src, lineno, line = lc
    msg = ctx.exc.message
    stmt = src.statement_at(lineno)
    if stmt is None:
        return
    concat = "can only concatenate str" in msg or re.search(r"unsupported operand type\(s\) for \+", msg)
    if concat:
        operands: list[ast.expr] = []
        for node in ast.walk(stmt):
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
                for side in (node.left, node.right):
                    if not isinstance(side, ast.BinOp) and not (isinstance(side, ast.Constant) and isinstance(side.value, str)):
                        operands.append(side)
        str_first = "can only concatenate str" in msg or "'str'" in msg.split(" and ")[-1]
        for k, node in enumerate(operands[:4]):
            text = segment(src, node)
            if not text or text not in line:
                continue
            for conv, score in (("str", 2.6), ("int", 2.0)) if str_first else (("int", 2.6), ("str", 2.0)):
                fixed = re.sub(rf"(?<![\w.]){re.escape(text)}(?![\w(])", f"{conv}({text})", line, count=1)
                if fixed != line:
                    yield Proposal(f"type.{conv}-operand", f"convert {text} with {conv}() before +", src.path,
                                   src.replace_line(lineno, fixed), score - k * 0.05)
    m = re.match(r"'(?P<op>[<>]=?)' not supported between instances of '(?P<a>\w+)' and '(?P<b>\w+)'", msg)
    if m and "NoneType" in (m.group("a"), m.group("b")):
        yield from _none_guard_for_compare(ctx)


def _none_guard_for_compare(ctx: Context) -> Iterator[Proposal]:
    site = failing_statement(ctx)
    if site is None:
        return
    src, lineno = site[0], site[1]
    spans = Spans(src)
    for node in ast.walk(site[3]):
        if isinstance(node, ast.Compare):
            for side in [node.left, *node.comparators]:
                if isinstance(side, ast.Name):
                    yield from guard(ctx, f"{side.id} is None", [("None", 1.8)], "none.guard", f"{side.id} can be None")
                    if node.lineno == lineno:
                        # `if n > largest:` where largest starts as None: the first value wins
                        cmp = spans.seg(node)
                        for new, why in ((f"({side.id} is None or {cmp})", "holds while nothing is there yet"),
                                         (f"({side.id} is not None and {cmp})", "only once there is something")):
                            yield Proposal("none.compare", f"{side.id} can be None: the comparison {why}", src.path,
                                           spans.sub(node, new), 2.2)


def reshaped(ctx: Context) -> Iterator[Proposal]:
    """Calls and containers reshaped (brain/offline/reshape_fixes.py) at the failing statement."""
    site = failing_statement(ctx)
    if site is None:
        return
    src, lineno, _line, stmt = site
    msg, kind = ctx.exc.message, ctx.exc.type
    fixes: list[Iterator[reshape_fixes.Fix]] = []
    if kind == "TypeError":
        fixes += [reshape_fixes.missing_argument(src, lineno, stmt, msg), reshape_fixes.extra_arguments(src, lineno, stmt, msg)]
    if kind == "KeyError":
        fixes.append(reshape_fixes.augmented_missing_key(src, lineno, stmt))
    if kind in ("AttributeError", "TypeError"):
        fixes.append(reshape_fixes.none_initialize(src, lineno, stmt, msg))
    for found in fixes:
        for fix in found:
            yield Proposal(fix.rule, fix.rationale, src.path, fix.new_text, fix.score)


def value_fixes(ctx: Context) -> Iterator[Proposal]:
    lc = failing_line(ctx)
    if lc is None:
        return
    src, lineno, line = lc
    if "invalid literal for int()" in ctx.exc.message:
        for m in re.finditer(r"(?<![\w.])int\((?P<arg>[^()]+)\)", line):
            arg = m.group("arg")
            yield Proposal("value.int-of-float", "the text holds a decimal: parse it as float first", src.path,
                           src.replace_line(lineno, line.replace(m.group(0), f"int(float({arg}))", 1)), 2.4)
            yield Proposal("value.int-strip", "strip surrounding whitespace before int()", src.path,
                           src.replace_line(lineno, line.replace(m.group(0), f"int({arg}.strip())", 1)), 2.2)


