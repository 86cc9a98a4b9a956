"""Find the failures in an error log: CPython tracebacks and pytest reports.

Handles chained exceptions, SyntaxError blocks with caret lines, 3.11+ ``^^^^`` markers, pytest's
long / short / line / native traceback styles and its short summary, collection errors, and the
noise of CI logs (see ``logtext``). Paths from another machine (``/home/runner/work/…``,
``C:\\…``) are mapped back onto the project when the file exists there.

Parsing is pure: text in, models out. Nothing from the log is executed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from brain.logtext import clean_lines
from pve.layout import is_test_path, python_files
from pve.models import SYNTAX_ERRORS, Category, ExceptionInfo, Failure, Frame, ParsedLog

_TB_HEADER = re.compile(r"^\s*(?:\|\s*)?Traceback \(most recent call last\):\s*$")
_FRAME = re.compile(r'^\s*(?:\|\s*)?File "(?P<file>[^"]+)", line (?P<line>\d+)(?:, in (?P<func>.+))?\s*$')
_CARET = re.compile(r"^\s*[\^~\s]+$")
_EXC_LINE = re.compile(r"^(?:\|\s*)?(?P<type>[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*)(?::\s?(?P<msg>.*))?$")
_CAUSE = "The above exception was the direct cause of the following exception:"
_CONTEXT = "During handling of the above exception, another exception occurred:"

_PYTEST_HEADER = re.compile(r"^_{3,} (?P<name>.+?) _{3,}$")
_PYTEST_BANNER = re.compile(r"^={3,} ?(?P<title>.*?) ?={3,}$")
_PYTEST_SUMMARY = re.compile(r"^(?P<kind>FAILED|ERROR) (?P<id>\S.*?)(?: - (?P<rest>.*))?$")
_PYTEST_LOC = re.compile(r"^(?P<file>[^\s:][^:]*?\.py):(?P<line>\d+):(?: (?P<rest>.*))?$")
_PYTEST_SEP = re.compile(r"^(?:_ ){3,}_?$")
_DEF = re.compile(r"^\s*(?:async\s+)?def\s+(?P<name>\w+)\s*\(")
_IDENT_ONLY = re.compile(r"^[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*$")

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


# --------------------------------------------------------------------------- project file index


class ProjectIndex:
    """The project's Python files, for mapping foreign paths back onto it."""

    def __init__(self, root: Path | None, files: Iterable[str] = ()) -> None:
        self.root = root
        self.files: set[str] = set(files)
        if root is not None and not self.files:
            self.files = set(python_files(root))
        self._by_name: dict[str, list[str]] = {}
        for f in self.files:
            self._by_name.setdefault(f.rsplit("/", 1)[-1], []).append(f)

    def locate(self, raw: str) -> str | None:
        """Project-relative path for a path as written in a log, or None if not in the project."""
        if not raw or raw.startswith("<") or not raw.endswith((".py", ".pyw")):
            return None
        path = raw.replace("\\", "/")
        path = re.sub(r"^[A-Za-z]:/", "/", path)
        if "/site-packages/" in path or "/dist-packages/" in path or re.search(r"/lib/python3\.\d+/", path):
            return None
        parts = [p for p in path.split("/") if p not in ("", ".")]
        if ".." in parts:
            return None
        for k in range(len(parts)):
            suffix = "/".join(parts[k:])
            if suffix in self.files:
                return suffix
        if not path.startswith("/") and len(parts) == 1:
            same = self._by_name.get(parts[0], [])
            if len(same) == 1:
                return same[0]
        return None


# --------------------------------------------------------------------------- CPython tracebacks


def _parse_frames(lines: list[str], i: int, index: ProjectIndex) -> tuple[list[Frame], int]:
    """Frames starting at lines[i]; returns them and the index of the first line after."""
    frames: list[Frame] = []
    n = len(lines)
    while i < n:
        m = _FRAME.match(lines[i])
        if not m:
            stripped = lines[i].strip().lstrip("|").strip()
            # "[Previous line repeated 996 more times]" and blank separators inside the block
            if stripped.startswith("[Previous line repeated") or (stripped == "" and frames and i + 1 < n and _FRAME.match(lines[i + 1])):
                i += 1
                continue
            break
        frame_indent = len(lines[i]) - len(lines[i].lstrip())
        code = None
        i += 1
        while i < n and lines[i].strip() and (len(lines[i]) - len(lines[i].lstrip())) > frame_indent \
                and not _FRAME.match(lines[i]):
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
    m = _EXC_LINE.match(lines[i].strip())
    if not m:
        return None, i
    qualified = m.group("type")
    message = (m.group("msg") or "").strip()
    i += 1
    # indented continuation lines belong to the message (pydantic, ExceptionGroup notes, …)
    extra = 0
    while i < n and lines[i].startswith((" ", "\t")) and lines[i].strip() and not _FRAME.match(lines[i]) and extra < 20:
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


def _parse_cpython(lines: list[str], index: ProjectIndex, origin: str = "traceback") -> list[Failure]:
    failures: list[Failure] = []
    chain: list[ExceptionInfo] = []
    i, n = 0, len(lines)
    while i < n:
        line = lines[i]
        if _TB_HEADER.match(line):
            frames, j = _parse_frames(lines, i + 1, index)
            exc, j = _exception_at(lines, j, frames)
            if exc is None:
                i = max(j, i + 1)
                chain = []
                continue
            failures.append(Failure(exception=exc, chain=list(chain), origin=origin))
            k = j
            while k < n and not lines[k].strip():
                k += 1
            if k < n and lines[k].strip() in (_CAUSE, _CONTEXT):
                # The next block continues this chain; it replaces this failure.
                chain = [*chain, exc]
                failures.pop()
                i = k + 1
            else:
                chain = []
                i = j
            continue
        st = line.strip()
        m = _EXC_LINE.match(st)
        if m and m.group("type") in SYNTAX_ERRORS:
            # A SyntaxError printed without a "Traceback" header (the script itself did not compile).
            start = i
            while start > 0 and i - start < 5 and not _FRAME.match(lines[start]):
                start -= 1
            if _FRAME.match(lines[start]):
                frames, _ = _parse_frames(lines, start, index)
                exc, j = _exception_at(lines, i, frames[-1:])
                if exc is not None:
                    failures.append(Failure(exception=exc, chain=list(chain), origin=origin))
                    chain = []
                    i = j
                    continue
        i += 1
    return failures


# --------------------------------------------------------------------------- pytest


def _section_failure(name: str, body: list[str], index: ProjectIndex) -> Failure | None:
    """One ``____ test_name ____`` section of pytest's FAILURES/ERRORS report."""
    if any(_TB_HEADER.match(x) for x in body):  # --tb=native
        found = _parse_cpython(body, index, origin="pytest")
        if found:
            found[-1].origin = "pytest"
            found[-1].test_id = _id_from_header(name, found[-1].exception.frames)
            return found[-1]
    # Collection errors print a SyntaxError as E-prefixed CPython lines.
    e_lines = [x[1:].lstrip() if x.startswith("E ") else None for x in body]
    e_text = [x[2:] if x.startswith("E ") else x for x in body if x.startswith("E")]
    frames: list[Frame] = []
    current_def: str | None = None
    last_code: str | None = None
    final_type: str | None = None
    for raw in body:
        if _PYTEST_SEP.match(raw.strip()):
            current_def, last_code = None, None
            continue
        dm = _DEF.match(raw)
        if dm:
            current_def = dm.group("name")
        if raw.startswith(">"):
            last_code = raw[1:].strip()
        loc = _PYTEST_LOC.match(raw)
        if loc:
            rest = (loc.group("rest") or "").strip()
            func = None
            if rest.startswith("in "):
                func = rest[3:].strip()
            elif rest and _IDENT_ONLY.match(rest.split(":", 1)[0]) and looks_like_exception(rest.split(":", 1)[0]):
                final_type = rest
            func = func or current_def
            file = loc.group("file")
            frames.append(Frame(file=file, line=int(loc.group("line")), function=func,
                                code=last_code, project_path=index.locate(file)))
            current_def, last_code = None, None
            continue
        if frames and frames[-1].code is None and raw.startswith("    ") and not raw.strip().startswith("E "):
            frames[-1].code = raw.strip()
    # Short style puts the code *after* the location; long style puts it before. For long style we
    # captured `>` lines before the location, which is right.
    qualified, message = None, ""
    for x in e_lines:
        if x is None:
            continue
        m = _EXC_LINE.match(x.strip())
        if m and looks_like_exception(m.group("type")):
            qualified, message = m.group("type"), (m.group("msg") or "").strip()
            break
    if final_type:
        ftype, _, fmsg = final_type.partition(":")
        if qualified is None or qualified.rsplit(".", 1)[-1] != ftype.rsplit(".", 1)[-1]:
            qualified = ftype.strip()
            message = fmsg.strip() or message or _first_e_message(e_lines)
    if qualified is None:
        if not frames:
            return None
        qualified = "AssertionError" if any((x or "").lstrip().startswith("assert ") for x in e_lines) else None
        if qualified is None:
            return None
        message = _first_e_message(e_lines)
    if not message:
        message = _first_e_message(e_lines)
    short = qualified.rsplit(".", 1)[-1]
    exc = ExceptionInfo(type=short, qualified_type=qualified, message=message, frames=frames)
    if short in SYNTAX_ERRORS:
        syn = _parse_cpython(["Traceback (most recent call last):", *[t for t in e_text if t.strip()]], index)
        for f in syn:
            if f.exception.syntax_line:
                exc.syntax_file, exc.syntax_line = f.exception.syntax_file, f.exception.syntax_line
                exc.frames = exc.frames + f.exception.frames[-1:]
    return Failure(exception=exc, origin="pytest", test_id=_id_from_header(name, frames))


def _first_e_message(e_lines: list[str | None]) -> str:
    for x in e_lines:
        if x and x.strip():
            return x.strip()
    return ""


def _id_from_header(name: str, frames: list[Frame]) -> str | None:
    if name.startswith("ERROR collecting "):
        return name[len("ERROR collecting "):].strip()
    if name.startswith(("ERROR at setup of ", "ERROR at teardown of ")):
        name = name.split(" of ", 1)[1]
    test_file = next((f.project_path or f.file for f in frames if is_test_path(f.project_path or f.file)), None)
    if test_file is None:
        return None
    base, bracket, params = name.partition("[")
    return f"{test_file}::{base.replace('.', '::')}{bracket}{params}"


def _parse_pytest(lines: list[str], index: ProjectIndex) -> tuple[list[Failure], list[str], set[int]]:
    """Failures from pytest report sections, the failing ids, and the line numbers consumed."""
    failures: list[Failure] = []
    summary: list[tuple[str, str, str]] = []
    consumed: set[int] = set()
    i, n = 0, len(lines)
    in_report = False
    while i < n:
        line = lines[i]
        banner = _PYTEST_BANNER.match(line)
        if banner:
            title = banner.group("title")
            in_report = title in ("FAILURES", "ERRORS")
            i += 1
            continue
        head = _PYTEST_HEADER.match(line)
        if head and in_report:
            j = i + 1
            while j < n and not _PYTEST_HEADER.match(lines[j]) and not _PYTEST_BANNER.match(lines[j]):
                j += 1
            body = lines[i + 1:j]
            # Captured output sub-sections are the program's prints, not the report.
            cut = next((k for k, x in enumerate(body) if re.match(r"^-{3,} Captured .* -{3,}$", x)), len(body))
            failure = _section_failure(head.group("name"), body[:cut], index)
            if failure is not None:
                failures.append(failure)
            consumed.update(range(i, j))
            i = j
            continue
        sm = _PYTEST_SUMMARY.match(line)
        if sm and ("::" in sm.group("id") or sm.group("id").endswith(".py")):
            summary.append((sm.group("kind"), sm.group("id").strip(), (sm.group("rest") or "").strip()))
            consumed.add(i)
        i += 1
    ids = [tid for _, tid, _ in summary]
    # Prefer the summary's exact node ids for sections we parsed.
    for failure in failures:
        if failure.test_id is None:
            continue
        tail = failure.test_id.split("::", 1)[-1]
        exact = [t for t in ids if t == failure.test_id or t.endswith("::" + tail)]
        if len(exact) == 1:
            failure.test_id = exact[0]
    have = {f.test_id for f in failures}
    for kind, tid, rest in summary:
        if tid in have:
            continue
        failures.append(Failure(exception=_summary_exception(kind, rest), test_id=tid, origin="pytest-summary"))
    if not ids:
        ids = [f.test_id for f in failures if f.test_id]
    return failures, list(dict.fromkeys(ids)), consumed


def _summary_exception(kind: str, rest: str) -> ExceptionInfo:
    """The exception in ``FAILED id - Type: msg``; pytest cuts long lines with "..."."""
    truncated = rest.endswith("...")
    if truncated:
        rest = rest[:-3]
    qualified, colon, msg = rest.partition(":")
    qualified = qualified.strip()
    if qualified and _IDENT_ONLY.match(qualified) and (colon or truncated or looks_like_exception(qualified)):
        short = qualified.rsplit(".", 1)[-1]
        return ExceptionInfo(type=short, qualified_type=qualified, message=msg.strip(),
                             type_truncated=truncated and not colon)
    # "FAILED t - assert 1 == 2" (no type): a failed assertion; ERROR without detail: unknown.
    qualified = "AssertionError" if kind == "FAILED" else "Exception"
    return ExceptionInfo(type=qualified, qualified_type=qualified, message=rest.strip())


_PYTEST_MARKERS = re.compile(r"^={3,} (?:test session starts|FAILURES|ERRORS|short test summary info)|"
                             r"^(?:FAILED|ERROR) \S+::|^collected \d+ items?|^\d+ (?:passed|failed)")


def parse_log(text: str, root: Path | None = None, index: ProjectIndex | None = None) -> ParsedLog:
    """All failures in ``text``, with frames mapped onto ``root`` where the files exist."""
    index = index or ProjectIndex(root)
    lines = clean_lines(text)
    is_pytest = any(_PYTEST_MARKERS.search(x) for x in lines)
    failures: list[Failure] = []
    failing: list[str] = []
    consumed: set[int] = set()
    if is_pytest:
        failures, failing, consumed = _parse_pytest(lines, index)
    rest = [x if k not in consumed else "" for k, x in enumerate(lines)]
    seen = {_signature(f) for f in failures}
    for f in _parse_cpython(rest, index):
        sig = _signature(f)
        if sig not in seen:
            seen.add(sig)
            failures.append(f)
    return ParsedLog(failures=failures, failing_tests=failing, is_pytest=is_pytest)


def _signature(f: Failure) -> tuple[str, str, tuple[tuple[str, int | None], ...]]:
    e = f.exception
    return (e.type, e.message, tuple((fr.file, fr.line) for fr in e.frames))
