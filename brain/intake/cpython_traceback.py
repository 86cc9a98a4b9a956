"""CPython's traceback as it prints one: the grammar of its frames (``File "…", line N, in f``
and the code under them), its exception line, the markers that chain one traceback to the next;
and what an exception's name says (a category, whether a word names an exception at all).

Apart because every reader of a log reads this grammar: pytest's ``--tb=native`` sections,
unittest's blocks, a traceback cut short, a plain one. Pure: text in, models out.
"""

from __future__ import annotations

import re

from brain.intake.project_index import ProjectIndex
from pve.models import SYNTAX_ERRORS, Category, ExceptionInfo, Failure, Frame

TB_HEADER = re.compile(r"^\s*(?:\|\s*)?Traceback \(most recent call last\):\s*$")
FRAME = re.compile(r'^\s*(?:\|\s*)?File "(?P<file>[^"]+)", line (?P<line>\d+)(?:, in (?P<func>.+))?\s*$')
_CARET = re.compile(r"^\s*[\^~\s]+$")
EXC_LINE = re.compile(r"^(?:\|\s*)?(?P<type>[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*)(?::\s?(?P<msg>.*))?$")
CAUSE = "The above exception was the direct cause of the following exception:"
CONTEXT = "During handling of the above exception, another exception occurred:"

_EXC_SUFFIXES = ("Error", "Exception", "Exit", "Interrupt", "Warning", "Group", "Failed", "Timeout")
_EXC_NAMES = {"StopIteration", "StopAsyncIteration", "KeyboardInterrupt", "GeneratorExit", "SystemExit"}


_CATEGORY = {
    "SyntaxError": Category.SYNTAX, "IndentationError": Category.SYNTAX, "TabError": Category.SYNTAX,
    "ImportError": Category.IMPORT, "ModuleNotFoundError": Category.IMPORT,
    "NameError": Category.NAME, "UnboundLocalError": Category.NAME,
    "AttributeError": Category.ATTRIBUTE, "TypeError": Category.TYPE,
    "IndexError": Category.INDEX, "KeyError": Category.KEY,
    "ValueError": Category.VALUE, "UnicodeDecodeError": Category.VALUE,
    "UnicodeEncodeError": Category.VALUE, "JSONDecodeError": Category.VALUE,
    "ZeroDivisionError": Category.ARITHMETIC, "OverflowError": Category.ARITHMETIC,
    "FloatingPointError": Category.ARITHMETIC, "ArithmeticError": Category.ARITHMETIC,
    "AssertionError": Category.ASSERTION, "RecursionError": Category.RECURSION,
    "TimeoutError": Category.TIMEOUT, "Timeout": Category.TIMEOUT,
    "FileNotFoundError": Category.ENVIRONMENT, "PermissionError": Category.ENVIRONMENT,
    "OSError": Category.ENVIRONMENT, "ConnectionError": Category.ENVIRONMENT,
}


def categorize(exc_type: str) -> Category:
    """Map an exception type (short or qualified) to a coarse category."""
    return _CATEGORY.get(exc_type.rsplit(".", 1)[-1], Category.RUNTIME)


def looks_like_exception(name: str) -> bool:
    short = name.rsplit(".", 1)[-1]
    return short in _EXC_NAMES or short.endswith(_EXC_SUFFIXES)


def parse_frames(lines: list[str], i: int, index: ProjectIndex) -> tuple[list[Frame], int]:
    """Frames starting at lines[i]; returns them and the index of the first line after."""
    frames: list[Frame] = []
    n = len(lines)
    while i < n:
        m = FRAME.match(lines[i])
        if not m:
            stripped = lines[i].strip().lstrip("|").strip()
            # "[Previous line repeated 996 more times]" and blank separators inside the block
            if stripped.startswith("[Previous line repeated") or (stripped == "" and frames and i + 1 < n and FRAME.match(lines[i + 1])):
                i += 1
                continue
            break
        frame_indent = len(lines[i]) - len(lines[i].lstrip())
        code = None
        i += 1
        while i < n and lines[i].strip() and (len(lines[i]) - len(lines[i].lstrip())) > frame_indent \
                and not FRAME.match(lines[i]):
            text = lines[i].strip().lstrip("|").strip() if lines[i].lstrip().startswith("|") else lines[i].strip()
            if code is None and not _CARET.match(lines[i]):
                code = text
            i += 1
        file = m.group("file")
        frames.append(Frame(file=file, line=int(m.group("line")), function=(m.group("func") or None),
                            code=code, project_path=index.locate(file)))
    return frames, i


def _exception_at(lines: list[str], i: int, frames: list[Frame]) -> tuple[ExceptionInfo | None, int]:
    n = len(lines)
    while i < n and not lines[i].strip():
        i += 1
    if i >= n:
        return None, i
    m = EXC_LINE.match(lines[i].strip())
    if not m:
        return None, i
    if i == n - 1 or not any(x.strip() for x in lines[i + 1:]):
        if 'File "'.startswith(lines[i].strip()) and lines[i].startswith((" ", "\t")):
            return None, i  # the text ends inside the next frame's line ("  Fil"): cut, not an exception
    qualified = m.group("type")
    message = (m.group("msg") or "").strip()
    i += 1
    # indented continuation lines belong to the message (pydantic, ExceptionGroup notes, …)
    extra = 0
    while i < n and lines[i].startswith((" ", "\t")) and lines[i].strip() and not FRAME.match(lines[i]) and extra < 20:
        message += "\n" + lines[i].strip()
        i += 1
        extra += 1
    short = qualified.rsplit(".", 1)[-1]
    info = ExceptionInfo(type=short, qualified_type=qualified, message=message, frames=frames)
    if short in SYNTAX_ERRORS and frames and frames[-1].function is None:
        # The last "frame" of a SyntaxError is the compiler's location, not a call.
        loc = frames[-1]
        info.syntax_file = loc.project_path or loc.file
        info.syntax_line = loc.line
    return info, i


def parse_cpython(lines: list[str], index: ProjectIndex, origin: str = "traceback") -> list[Failure]:
    failures: list[Failure] = []
    chain: list[ExceptionInfo] = []
    i, n = 0, len(lines)
    while i < n:
        line = lines[i]
        if TB_HEADER.match(line):
            frames, j = parse_frames(lines, i + 1, index)
            exc, j = _exception_at(lines, j, frames)
            if exc is None:
                i = max(j, i + 1)
                chain = []
                continue
            failures.append(Failure(exception=exc, chain=list(chain), origin=origin))
            k = j
            while k < n and not lines[k].strip():
                k += 1
            if k < n and lines[k].strip() in (CAUSE, CONTEXT):
                # The next block continues this chain; it replaces this failure.
                chain = [*chain, exc]
                failures.pop()
                i = k + 1
            else:
                chain = []
                i = j
            continue
        if FRAME.match(line):
            # Frames without their "Traceback (most recent call last):" header (the reporter
            # copied from the first frame): a failure when an exception line ends them.
            frames, j = parse_frames(lines, i, index)
            exc, j = _exception_at(lines, j, frames)
            if exc is not None and looks_like_exception(exc.qualified_type):
                failures.append(Failure(exception=exc, chain=list(chain), origin=origin))
                chain = []
                i = j
                continue
            i = max(j, i + 1)
            continue
        st = line.strip()
        m = EXC_LINE.match(st)
        if m and m.group("type") in SYNTAX_ERRORS:
            # A SyntaxError printed without a "Traceback" header (the script itself did not compile).
            start = i
            while start > 0 and i - start < 5 and not FRAME.match(lines[start]):
                start -= 1
            if FRAME.match(lines[start]):
                frames, _ = parse_frames(lines, start, index)
                exc, j = _exception_at(lines, i, frames[-1:])
                if exc is not None:
                    failures.append(Failure(exception=exc, chain=list(chain), origin=origin))
                    chain = []
                    i = j
                    continue
        i += 1
    return failures
