"""Crash templates for code that does not compile: SyntaxError (a missing colon, an unclosed
bracket or string, ``=`` for ``==``, Python 2's print) and IndentationError or TabError.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from brain.offline.proposal import Context, Proposal
from brain.source import SourceFile, indent_of

_COMPOUND = re.compile(r"^\s*(if|elif|else|for|while|def|class|try|except|finally|with|async def|async for|async with|match|case)\b")


def syntax_fixes(ctx: Context) -> Iterator[Proposal]:
    src = ctx.src
    exc = ctx.exc
    if src is None or not exc.syntax_line:
        return
    n = exc.syntax_line
    msg = exc.message
    for lineno, base in ((n, 3.0), (n - 1, 2.0)):
        line = src.line(lineno)
        if not line.strip():
            continue
        body = line.rstrip("\n").rstrip()
        nl = "\n" if line.endswith("\n") else ""
        code, _, comment = body.partition("  #")
        if _COMPOUND.match(code) and not code.endswith(":"):
            fixed = code + ":" + (f"  #{comment}" if comment else "") + nl
            yield Proposal("syntax.missing-colon", "a compound statement needs a ':'", src.path,
                           src.replace_line(lineno, fixed), base + (1 if "expected ':'" in msg else 0))
        for opener, closer in (("(", ")"), ("[", "]"), ("{", "}")):
            if body.count(opener) > body.count(closer):
                yield Proposal("syntax.close-bracket", f"close the '{opener}'", src.path,
                               src.replace_line(lineno, body + closer * (body.count(opener) - body.count(closer)) + nl),
                               base + (1 if "never closed" in msg else 0))
            if body.count(closer) > body.count(opener):
                idx = body.rfind(closer)
                yield Proposal("syntax.extra-bracket", f"remove the unmatched '{closer}'", src.path,
                               src.replace_line(lineno, body[:idx] + body[idx + 1:] + nl), base)
        cond = re.match(r"^(\s*(?:if|elif|while)\s+.*?[^=!<>])=([^=].*:)\s*$", body)
        if cond:
            yield Proposal("syntax.assign-in-condition", "compare with '==' in a condition", src.path,
                           src.replace_line(lineno, f"{cond.group(1)}=={cond.group(2)}{nl}"), base + 0.5)
        pm = re.match(r"^(\s*)print\s+(?!\()(.+)$", body)
        if pm:
            yield Proposal("syntax.print-call", "print is a function", src.path,
                           src.replace_line(lineno, f"{pm.group(1)}print({pm.group(2)}){nl}"), base + 0.5)
        for q in ('"', "'"):
            if body.count(q) % 2 == 1 and "unterminated string" in msg:
                yield Proposal("syntax.close-string", "close the string literal", src.path,
                               src.replace_line(lineno, body + q + nl), base + 0.5)
    if exc.type in ("IndentationError", "TabError"):
        yield from _indent_fixes(src, n, msg)


def _indent_fixes(src: SourceFile, n: int, msg: str) -> Iterator[Proposal]:
    line = src.line(n)
    prev = next((src.line(k) for k in range(n - 1, 0, -1) if src.line(k).strip()), "")
    content = line.lstrip(" \t")
    prev_ind = indent_of(prev).replace("\t", "    ")
    options: list[tuple[str, float]] = []
    if "expected an indented block" in msg:
        options.append((prev_ind + "    ", 3.5))
    if "unexpected indent" in msg or "unindent does not match" in msg or "inconsistent" in msg:
        options.append((prev_ind, 3.2))
        levels = sorted({indent_of(x).replace("\t", "    ") for x in src.lines[: n - 1] if x.strip()}, key=len)
        for lvl in reversed(levels):
            if len(lvl) < len(indent_of(line).replace("\t", "    ")):
                options.append((lvl, 3.0))
                break
    for ind, score in options:
        yield Proposal("syntax.indent", "fix the indentation", src.path, src.replace_line(n, ind + content), score)
    if "\t" in line:
        yield Proposal("syntax.tabs", "indent with spaces", src.path, src.replace_line(n, line.replace("\t", "    ")), 2.5)


