"""Repair operators inside regular expressions: the pattern literals a suspicious statement
passes to ``re`` (directly, or through a module-level ``NAME = re.compile(...)`` it uses).

Real fixes in text-processing code edit the regex far more often than the Python around it
(``&([^;]+;)`` -> ``&([^&;]+;)``): a character class that admits too much or too little, a
quantifier (``+``/``*``, greedy/lazy, ``{m,n}``), a missing or extra anchor, an unescaped dot,
the order of alternatives. Each mutant is a whole-file text whose diff is the literal alone,
and compiles as a regex; the sandbox decides the rest.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass

from brain.source import SourceFile

_RE_FUNCS = {"compile", "match", "search", "fullmatch", "sub", "subn", "split", "findall", "finditer"}
_META = set(".^$*+?{}[]\\|()")
_MAX_PER_LITERAL = 40


@dataclass(frozen=True)
class RegexEdit:
    rule: str
    rationale: str
    new_text: str


def at_statement(src: SourceFile, stmt: ast.stmt) -> Iterator[RegexEdit]:
    """Mutants of every regex literal the statement uses."""
    seen: set[tuple[int, int]] = set()
    for literal in _literals(src, stmt):
        key = (literal.lineno, literal.col_offset)
        if key in seen:
            continue
        seen.add(key)
        yield from _mutate_literal(src, literal)


def _literals(src: SourceFile, stmt: ast.stmt) -> Iterator[ast.Constant]:
    tree = src.tree
    compiled: dict[str, ast.Constant] = {}
    if tree is not None:
        for top in tree.body:  # module-level NAME = re.compile("...")
            if isinstance(top, ast.Assign) and len(top.targets) == 1 and isinstance(top.targets[0], ast.Name):
                lit = _pattern_arg(top.value)
                if lit is not None:
                    compiled[top.targets[0].id] = lit
    for node in ast.walk(stmt):
        lit = _pattern_arg(node)
        if lit is not None:
            yield lit
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in compiled:
            yield compiled[node.id]


def _pattern_arg(node: ast.AST) -> ast.Constant | None:
    """The pattern of ``re.<func>(pattern, ...)`` when it is a string literal."""
    if not isinstance(node, ast.Call):
        return None
    f = node.func
    if not (isinstance(f, ast.Attribute) and f.attr in _RE_FUNCS and isinstance(f.value, ast.Name) and f.value.id == "re"):
        return None
    arg = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "pattern"), None)
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg
    return None


def _mutate_literal(src: SourceFile, lit: ast.Constant) -> Iterator[RegexEdit]:
    segment = _segment(src, lit)
    if segment is None:
        return
    start, end, written = segment
    m = re.fullmatch(r"(?P<prefix>[rRuU]?)(?P<quote>'''|\"\"\"|'|\")(?P<body>.*)(?P=quote)", written, re.S)
    if m is None:
        return  # implicit concatenation, bytes, or something unusual: leave it
    quote, pattern = m.group("quote"), str(lit.value)
    count = 0
    for rule, why, new in _variants(pattern):
        if new == pattern or not _compiles(new):
            continue
        literal = _as_literal(new, quote)
        if literal is None:
            continue
        text = src.text[:start] + literal + src.text[end:]
        yield RegexEdit(rule, f"regex {pattern!r}: {why}", text)
        count += 1
        if count >= _MAX_PER_LITERAL:
            return


def _segment(src: SourceFile, node: ast.Constant) -> tuple[int, int, str] | None:
    """Character offsets of the literal in ``src.text`` (AST columns are UTF-8 byte offsets)."""
    if node.end_lineno is None or node.end_col_offset is None:
        return None
    lines = src.text.splitlines(keepends=True)

    def offset(line: int, col: int) -> int:
        before = sum(len(x) for x in lines[: line - 1])
        return before + len(lines[line - 1].encode("utf-8")[:col].decode("utf-8", "ignore"))

    try:
        a, b = offset(node.lineno, node.col_offset), offset(node.end_lineno, node.end_col_offset)
    except IndexError:
        return None
    return a, b, src.text[a:b]


def _as_literal(pattern: str, quote: str) -> str | None:
    """A raw string literal for ``pattern`` in the original quotes, when one can hold it."""
    if pattern.endswith("\\") and (len(pattern) - len(pattern.rstrip("\\"))) % 2:
        return None
    if quote in pattern or (len(quote) == 1 and "\n" in pattern):
        return None
    return f"r{quote}{pattern}{quote}"


def _compiles(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except (re.error, RecursionError, OverflowError):
        return False
    return True


# --------------------------------------------------------------------------- the edits


def _variants(p: str) -> Iterator[tuple[str, str, str]]:
    yield from _classes(p)
    yield from _quantifiers(p)
    yield from _anchors(p)
    yield from _escapes(p)
    yield from _alternation(p)


def _tokens(p: str) -> list[tuple[int, int, str]]:
    """(start, end, kind) for each top-level token: "class", "escape", "quant", "meta", "lit"."""
    out: list[tuple[int, int, str]] = []
    i = 0
    while i < len(p):
        c = p[i]
        if c == "\\" and i + 1 < len(p):
            out.append((i, i + 2, "escape"))
            i += 2
        elif c == "[":
            j = i + 1
            if j < len(p) and p[j] == "^":
                j += 1
            if j < len(p) and p[j] == "]":
                j += 1
            while j < len(p) and p[j] != "]":
                j += 2 if p[j] == "\\" else 1
            out.append((i, min(j + 1, len(p)), "class"))
            i = j + 1
        elif c in "*+?":
            out.append((i, i + 1, "quant"))
            i += 1
        elif c == "{":
            m = re.match(r"\{(\d*)(,?)(\d*)\}", p[i:])
            if m:
                out.append((i, i + m.end(), "quant"))
                i += m.end()
            else:
                out.append((i, i + 1, "lit"))
                i += 1
        elif c in _META:
            out.append((i, i + 1, "meta"))
            i += 1
        else:
            out.append((i, i + 1, "lit"))
            i += 1
    return out


def _classes(p: str) -> Iterator[tuple[str, str, str]]:
    tokens = _tokens(p)
    literals = [p[a:b] for a, b, kind in tokens if kind == "lit" and p[a:b].strip()]
    literals += [p[a:b] for a, b, kind in tokens if kind == "escape" and p[a + 1] in ".-&;:/#@'\"<>=,"]
    for a, b, kind in tokens:
        if kind != "class" or b - a < 3:
            continue
        body = p[a + 1:b - 1]
        negated = body.startswith("^")
        inner = body[1:] if negated else body
        for ch in dict.fromkeys(literals):
            bare = ch[-1]
            if bare in inner or ch in inner:
                continue
            piece = "\\-" if bare == "-" else ch if len(ch) == 2 else re.escape(bare) if bare in "]\\^" else bare
            new_body = ("^" if negated else "") + piece + inner
            yield ("regex.class-add", f"{'exclude' if negated else 'admit'} {bare!r} in {p[a:b]}",
                   p[:a] + "[" + new_body + "]" + p[b:])
        members = _class_members(inner)
        if len(members) > 1:
            for k, member in enumerate(members):
                rest = "".join(members[:k] + members[k + 1:])
                yield ("regex.class-remove", f"{p[a:b]} should not {'exclude' if negated else 'admit'} {member!r}",
                       p[:a] + "[" + ("^" if negated else "") + rest + "]" + p[b:])
        if negated:
            yield ("regex.class-negate", f"{p[a:b]} should not be negated", p[:a] + "[" + inner + "]" + p[b:])


def _class_members(inner: str) -> list[str]:
    out, i = [], 0
    while i < len(inner):
        if inner[i] == "\\" and i + 1 < len(inner):
            out.append(inner[i:i + 2])
            i += 2
        elif i + 2 < len(inner) and inner[i + 1] == "-":
            out.append(inner[i:i + 3])
            i += 3
        else:
            out.append(inner[i])
            i += 1
    return out


def _quantifiers(p: str) -> Iterator[tuple[str, str, str]]:
    tokens = _tokens(p)
    for idx, (a, b, kind) in enumerate(tokens):
        if kind != "quant":
            continue
        q = p[a:b]
        lazy = b < len(p) and p[b] == "?" and q in "*+?" and q != "?"
        if q in ("+", "*"):
            other = "*" if q == "+" else "+"
            yield ("regex.quantifier", f"'{q}' should be '{other}'", p[:a] + other + p[b:])
            if lazy:
                yield ("regex.greedy", f"'{q}?' should be greedy", p[:b] + p[b + 1:])
            else:
                yield ("regex.lazy", f"'{q}' should be lazy", p[:b] + "?" + p[b:])
        elif q == "?" and idx > 0 and tokens[idx - 1][2] != "quant":
            yield ("regex.quantifier", "the '?' should not be optional", p[:a] + p[b:])
            yield ("regex.quantifier", "'?' should be '*'", p[:a] + "*" + p[b:])
        elif q.startswith("{"):
            m = re.fullmatch(r"\{(\d*)(,?)(\d*)\}", q)
            if m is None:
                continue
            lo, comma, hi = m.groups()
            for new_lo, new_hi in ((lo, str(int(hi) + 1) if hi else hi), (str(int(lo) - 1) if lo and int(lo) > 0 else lo, hi),
                                   (str(int(lo) + 1) if lo else lo, hi), (lo, str(int(hi) - 1) if hi and int(hi) > 0 else hi)):
                new = "{" + new_lo + comma + new_hi + "}"
                if new != q:
                    yield ("regex.quantifier", f"{q} should be {new}", p[:a] + new + p[b:])
            if comma and hi:
                yield ("regex.quantifier", f"{q} should have no upper bound", p[:a] + "{" + lo + ",}" + p[b:])
    # a single literal or class that should repeat
    for a, b, kind in tokens:
        if kind in ("class", "escape") and (b >= len(p) or p[b] not in "*+?{"):
            yield ("regex.quantifier", f"{p[a:b]} should repeat", p[:b] + "+" + p[b:])


def _anchors(p: str) -> Iterator[tuple[str, str, str]]:
    if p.startswith("^"):
        yield ("regex.anchor", "the match should not be anchored at the start", p[1:])
    else:
        yield ("regex.anchor", "the match should start at the beginning", "^" + p)
    if p.endswith("$") and not p.endswith("\\$"):
        yield ("regex.anchor", "the match should not be anchored at the end", p[:-1])
    elif not p.endswith("\\Z"):
        yield ("regex.anchor", "the match should reach the end", p + "$")
    if not p.startswith("\\b") and not p.startswith("^"):
        yield ("regex.anchor", "the match should start at a word boundary", "\\b" + p + ("" if p.endswith("\\b") else "\\b"))


def _escapes(p: str) -> Iterator[tuple[str, str, str]]:
    swaps = {"\\d": ["\\w"], "\\w": ["\\d", "[\\w-]"], "\\s": ["[ \\t]", " "], "\\S": ["\\w"], "\\b": ["\\B"]}
    for a, b, kind in _tokens(p):
        piece = p[a:b]
        if kind == "meta" and piece == ".":
            yield ("regex.escape", "the '.' should match a dot only", p[:a] + "\\." + p[b:])
        elif kind == "escape" and piece == "\\.":
            yield ("regex.escape", "'\\.' should match any character", p[:a] + "." + p[b:])
        elif kind == "escape":
            for new in swaps.get(piece, []):
                yield ("regex.escape", f"{piece} should be {new}", p[:a] + new + p[b:])


def _alternation(p: str) -> Iterator[tuple[str, str, str]]:
    """``a|b`` -> ``b|a`` (alternatives are tried in order) and each alternative dropped, for
    every group (and the whole pattern) with alternatives."""
    spans: list[tuple[int, int]] = [(0, len(p))]
    stack: list[int] = []
    for a, b, kind in _tokens(p):
        if kind == "meta" and p[a] == "(":
            stack.append(b)
        elif kind == "meta" and p[a] == ")" and stack:
            start = stack.pop()
            if p[start:start + 1] == "?":  # (?:...), (?P<name>...): the body starts after the head
                m = re.match(r"\?(?::|P<\w+>|[=!]|<[=!])", p[start:])
                if m is None:
                    continue
                start += m.end()
            spans.append((start, a))
    for start, end in spans:
        parts = _split_alternatives(p[start:end])
        if len(parts) < 2:
            continue
        for k in range(len(parts) - 1):
            swapped = [*parts[:k], parts[k + 1], parts[k], *parts[k + 2:]]
            yield ("regex.alternation", f"try {parts[k + 1]!r} before {parts[k]!r}",
                   p[:start] + "|".join(swapped) + p[end:])
        for k in range(len(parts)):
            rest = parts[:k] + parts[k + 1:]
            yield ("regex.alternation", f"the alternative {parts[k]!r} should not be there",
                   p[:start] + "|".join(rest) + p[end:])


def _split_alternatives(body: str) -> list[str]:
    parts, depth, last = [], 0, 0
    tokens = _tokens(body)
    for a, _b, kind in tokens:
        ch = body[a]
        if kind == "meta" and ch == "(":
            depth += 1
        elif kind == "meta" and ch == ")":
            depth -= 1
        elif kind == "meta" and ch == "|" and depth == 0:
            parts.append(body[last:a])
            last = a + 1
    parts.append(body[last:])
    return parts
