"""Python source lines as HTML with classes for a few token kinds: enough colour to read a diff
at a glance, server-side (no script, nothing from a CDN), one line at a time (a diff's lines
are fragments: a string may open on one and close on another, so no parser is used)."""

from __future__ import annotations

import html
import keyword
import re

_TOKEN = re.compile(r"""
    (?P<comment>\#.*)
  | (?P<string>[rbuRBUfF]{0,2}(?:'''|\"\"\"|'(?:\\.|[^'\\])*'?|"(?:\\.|[^"\\])*"?))
  | (?P<number>\b(?:0[xob][0-9a-fA-F_]+|\d[\d_]*(?:\.\d*)?(?:[eE][+-]?\d+)?j?)\b)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
""", re.VERBOSE)
_BUILTINS = frozenset({"None", "True", "False", "self", "len", "range", "print", "isinstance", "str", "int",
                       "float", "list", "dict", "set", "tuple", "sum", "min", "max", "super"})


def line(text: str) -> str:
    out, pos = [], 0
    for m in _TOKEN.finditer(text):
        out.append(html.escape(text[pos:m.start()]))
        kind, value = m.lastgroup, m.group()
        if kind == "name":
            kind = "kw" if keyword.iskeyword(value) else ("bi" if value in _BUILTINS else "")
        else:
            kind = {"comment": "cm", "string": "st", "number": "nu"}[kind or ""]
        out.append(f'<span class="{kind}">{html.escape(value)}</span>' if kind else html.escape(value))
        pos = m.end()
    out.append(html.escape(text[pos:]))
    return "".join(out)
