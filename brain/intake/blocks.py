"""A report's code blocks, read and classified: fenced, indented, ``>>>`` and IPython transcripts,
a shell line running ``python -c``, and Python 2 read as Python 3.

Apart from ``report`` (which picks a block and makes it a reproduction) because every reader of a
report needs the blocks: ``files`` finds the block that holds a file, ``command`` the block a
tool reads; none of them needs the others. Pure: text in, blocks out.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`\s]*)[^`]*$")
_PYTHON_LANGS = {"python", "py", "python3", "py3", "pycon", "ipython", "pytb", "python-traceback", "sage"}
_NOT_PYTHON_LANGS = {"console", "shell", "sh", "bash", "zsh", "text", "txt", "log", "diff", "toml", "yaml", "yml",
                     "json", "ini", "cfg", "html", "xml", "sql", "js", "javascript", "c", "cpp", "rust", "go",
                     "powershell", "ps1", "bat", "cmd", "dockerfile", "make", "markdown", "md", "rst"}
_PROMPT = re.compile(r"^(?:>>>|\.\.\.)(?: |$)")
_IPY_PROMPT = re.compile(r"^(?:In \[\d+\]:|\s+\.\.\.:)(?: |$)")
_TB = "Traceback (most recent call last):"


@dataclass
class Block:
    """One code block of the report, as written, and what it is."""

    number: int  # 1-based, in the report's order
    text: str
    lang: str = ""
    kind: str = "code"  # "code" | "repl" | "traceback" | "other"
    code: str = ""  # the Python to run (a transcript without its prompts and output)
    py2: bool = False  # written as Python 2 (``print x``): ``code`` is its Python 3 reading


def blocks(text: str) -> list[Block]:
    """The report's fenced and indented code blocks, classified."""
    lines = text.replace("\r\n", "\n").split("\n")
    found: list[tuple[str, str]] = []
    i, n = 0, len(lines)
    while i < n:
        m = _FENCE.match(lines[i])
        if m:
            fence, indent = m.group("fence"), len(m.group("indent"))
            body: list[str] = []
            i += 1
            while i < n and not re.match(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*$", lines[i]):
                line = lines[i]
                body.append(line[min(indent, len(line) - len(line.lstrip(" "))):])
                i += 1
            i += 1
            found.append(("\n".join(body), m.group("info").lower()))
            continue
        if lines[i].startswith(("    ", "\t")) and lines[i].strip() and (i == 0 or not lines[i - 1].strip()):
            body = []
            while i < n and (lines[i].startswith(("    ", "\t")) or not lines[i].strip()):
                body.append(lines[i][4:] if lines[i].startswith("    ") else lines[i][1:])
                i += 1
            found.append(("\n".join(body).rstrip("\n"), ""))
            continue
        i += 1
    return [_classify(k, body, lang) for k, (body, lang) in enumerate(found, 1)]


_PYTHON_C = re.compile(r"""\bpython[\d.]*(?:\.exe)?\s+(?:-[A-Za-z]+\s+)*-c\s+(?P<q>['"])(?P<code>.*?)(?P=q)""", re.S)


def as_python3(code: str) -> tuple[str, bool]:
    """Python 2 as a reporter of old days wrote it, read as Python 3: ``print x`` statements and
    ``except X, e:``. (The code, and whether anything was rewritten.) Only code that does not
    parse as Python 3 and does after the rewrite is changed."""
    try:
        ast.parse(code)
        return code, False
    except (SyntaxError, ValueError):
        pass
    lines = []
    for line in code.split("\n"):
        m = re.match(r"^(\s*)print(?:\s+(?!\s*[=(\[.,])(.*?)|\s*)$", line)
        if m and not re.match(r"^\s*print\s*[=+\-*/%&|^<>!]=?", line):
            body = (m.group(2) or "").rstrip()
            if body.startswith(">>"):  # print >>sys.stderr, x
                target, _, rest = body[2:].partition(",")
                line = f"{m.group(1)}print({rest.strip()}, file={target.strip()})"
            else:
                end = ", end=' '" if body.endswith(",") else ""  # "print x," kept the line open
                line = f"{m.group(1)}print({body.rstrip(',')}{end})"
        line = re.sub(r"^(\s*except\s+[\w.()\s,]+?),\s*(\w+)\s*:", r"\1 as \2:", line)
        lines.append(line)
    converted = "\n".join(lines)
    try:
        ast.parse(converted)
    except (SyntaxError, ValueError):
        return code, False
    return converted, converted != code


def _classify(number: int, text: str, lang: str) -> Block:
    block = Block(number=number, text=text, lang=lang)
    inline = _PYTHON_C.search(text) if lang in _NOT_PYTHON_LANGS or not lang else None
    if inline and "\n" in inline.group("code").strip("\n") and _TB not in text:
        # a shell line running Python's -c (``uv run --with pkg python -c '...'``): that code
        block.kind, block.code = "code", inline.group("code").strip("\n") + "\n"
        try:
            ast.parse(block.code)
            return block
        except SyntaxError:
            block.kind, block.code = "code", ""
    lines = text.split("\n")
    if any(_PROMPT.match(x) or _IPY_PROMPT.match(x) for x in lines):
        block.kind, block.code = "repl", _transcript_code(lines)
        return block
    if lang in _NOT_PYTHON_LANGS and _TB not in text:
        block.kind = "other"
        return block
    if _TB in text or any(x.lstrip().startswith('File "') for x in lines[:3]):
        block.kind = "traceback"
        return block
    text3, rewritten = as_python3(text)
    try:
        tree = ast.parse(text3)
    except (SyntaxError, ValueError):
        block.kind = "other"
        return block
    does_something = any(isinstance(n, (ast.Call, ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef))
                         for n in ast.walk(tree))
    block.kind = "code" if (lang in _PYTHON_LANGS or does_something) else "other"
    block.code = text3 if block.kind == "code" else ""
    block.py2 = rewritten and block.kind == "code"
    return block


def _transcript_code(lines: list[str]) -> str:
    """The statements of a ``>>>`` or IPython transcript; its output lines are not code."""
    code: list[str] = []
    for line in lines:
        m = _PROMPT.match(line) or _IPY_PROMPT.match(line)
        if m:
            code.append(line[m.end():])
    return as_python3("\n".join(code))[0]
