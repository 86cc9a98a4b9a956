"""Which of a report's blocks holds a file: the input a command reads, a file the code opens.

Reporters show a file's content in a block and name it in the prose before it ("my
``pyproject.toml``:"), in a first-line comment (``# deps.toml``), in a shell line that writes it
(``echo "…" > example.py``), or not at all when it is the only block in its format. Pure: text in,
blocks out."""

from __future__ import annotations

import ast
import re
import shlex

from brain.intake.blocks import Block

# Shell prompts a report puts before a command (``$ ``, ``% ``, ``> ``, ``(venv) $ ``, ``C:\> ``).
# ``#`` is root's prompt only after a user@host or a path (a line starting "# " is a comment).
PROMPT = re.compile(r"^[ \t]*(?:\([^)\n]{0,80}\)[ \t]?)?(?:(?:[\w.@~:/-]{1,200}[ \t]?)?(?:\$|%|>|❯)|[\w.-]{0,80}@[\w.:/~-]{1,200}#)[ \t]"
                    r"|^[ \t]*[A-Za-z]:\\[^>\n]{0,200}>[ \t]*")
SHELL_LANGS = {"", "console", "shell", "sh", "bash", "zsh", "shell-session", "shellsession", "text", "txt",
               "powershell", "ps1", "cmd", "bat", "pytb", "python-traceback"}
# Input formats a report shows as blocks, by file suffix (and the fence languages that mean them).
FORMATS = {".py": {"python", "py", "python3", "py3", ""}, ".pyi": {"python", "py", ""},
           ".md": {"md", "markdown", ""}, ".rst": {"rst", ""}, ".toml": {"toml", ""}, ".json": {"json", ""},
           ".yaml": {"yaml", "yml", ""}, ".yml": {"yaml", "yml", ""}, ".cfg": {"ini", "cfg", ""},
           ".ini": {"ini", "cfg", ""}, ".csv": {"csv", "text", "txt", ""}, ".txt": {"text", "txt", ""},
           ".html": {"html", ""}, ".xml": {"xml", ""}}


def written_by_shell(report: str) -> dict[str, str]:
    """Files a report's shell lines write: ``echo "x" > f.py``, ``printf 'x\\n' > f.py``."""
    out: dict[str, str] = {}
    for line in report.split("\n"):
        if len(line) > 500 or not re.search(r"\b(?:echo|printf)\b", line):
            continue  # (a shell line that writes a file is short; longer lines are not matched)
        text = PROMPT.sub("", line, count=1).strip()
        m = re.match(r"^(echo(?:\s+-[neE]+)?|printf)\s+(.+?)\s*>\s*(\S+)$", text)
        if not m:
            continue
        try:
            words = shlex.split(m.group(2))
        except ValueError:
            continue
        if not words:
            continue
        verb, body = m.group(1), " ".join(words)
        if verb == "printf":
            out[m.group(3)] = _unescape(body)
        else:  # sh's echo (dash, the usual /bin/sh) reads backslash escapes; it ends with a newline
            out[m.group(3)] = _unescape(body) + "\n"
    return out


def _unescape(text: str) -> str:
    return re.sub(r"\\([ntr\\])", lambda m: {"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}[m.group(1)], text)


def block_for_file(name: str, candidates: list[Block], report: str, used: set[int] | None = None) -> Block | None:
    """The block that holds file ``name``: the one the report names it for (the name on the line
    before the block, or as the block's first-line comment), else the only block in its format."""
    used = used or set()
    base = re.split(r"[/\\]", name)[-1]
    suffix = "." + base.rsplit(".", 1)[-1].lower() if "." in base else ""
    langs = FORMATS.get(suffix)
    free = [b for b in candidates if b.number not in used and b.kind != "traceback" and b.kind != "repl"
            and b.text.strip() and "Traceback (most recent call last)" not in b.text]
    for b in free:
        first = b.text.strip().split("\n", 1)[0]
        if re.match(rf"^(?:#|//|<!--)\s*(?:file:?\s*)?{re.escape(base)}\b", first, re.I) or \
                re.search(rf"(?:^|[\s`*(]){re.escape(base)}[`*]?\s*[:)]?\s*$", _text_before(report, b), re.M):
            return b
    if langs is None:
        return None
    fit = [b for b in free if b.lang in langs and b.lang not in SHELL_LANGS - {"", "text", "txt"}
           and _fits(b, suffix)]
    return fit[0] if len(fit) == 1 else None


def _text_before(report: str, block: Block) -> str:
    """The last non-empty line of prose before ``block`` in the report."""
    at = report.find(block.text.split("\n", 1)[0]) if block.text.strip() else -1
    if at < 0:
        return ""
    lines = [x for x in report[:at].split("\n")[:-1] if x.strip() and not x.strip().startswith(("```", "~~~"))]
    return lines[-1] if lines else ""


def _fits(block: Block, suffix: str) -> bool:
    if suffix in (".py", ".pyi"):
        return parses(block.text) and not _is_shell(block.text)
    return not _is_shell(block.text)


def _is_shell(text: str) -> bool:
    return any(PROMPT.match(x[:500]) for x in text.split("\n")[:2])


def parses(text: str) -> bool:
    try:
        ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return True
