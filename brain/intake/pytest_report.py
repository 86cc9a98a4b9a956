"""pytest's report in a log: the FAILURES and ERRORS sections (long, short, line and native
traceback styles, collection errors) and the short test summary, each failure with its test's
node id.

Apart from CPython's grammar (``cpython_traceback``), which the ``--tb=native`` sections and
collection errors are read with. Pure: text in, models out.
"""

from __future__ import annotations

import re

from brain.intake.cpython_traceback import EXC_LINE, TB_HEADER, looks_like_exception, parse_cpython
from brain.intake.project_index import ProjectIndex
from pve.layout import is_test_path
from pve.models import SYNTAX_ERRORS, ExceptionInfo, Failure, Frame

_PYTEST_HEADER = re.compile(r"^_{3,} (?P<name>.+?) _{3,}$")
_PYTEST_BANNER = re.compile(r"^={3,} ?(?P<title>.*?) ?={3,}$")
_PYTEST_SUMMARY = re.compile(r"^(?P<kind>FAILED|ERROR) (?P<id>\S.*?)(?: - (?P<rest>.*))?$")
_PYTEST_LOC = re.compile(r"^(?P<file>[^\s:][^:]*?\.py):(?P<line>\d+):(?: (?P<rest>.*))?$")
_PYTEST_SEP = re.compile(r"^(?:_ ){3,}_?$")
_DEF = re.compile(r"^\s*(?:async\s+)?def\s+(?P<name>\w+)\s*\(")
_IDENT_ONLY = re.compile(r"^[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*$")
# Lines only pytest writes: a log that has one is read as pytest's report.
PYTEST_MARKERS = re.compile(r"^={3,} (?:test session starts|FAILURES|ERRORS|short test summary info)|"
                             r"^(?:FAILED|ERROR) \S+::|^collected \d+ items?|^\d+ (?:passed|failed)")


def _section_failure(name: str, body: list[str], index: ProjectIndex) -> Failure | None:
    """One ``____ test_name ____`` section of pytest's FAILURES/ERRORS report."""
    if any(TB_HEADER.match(x) for x in body):  # --tb=native
        found = parse_cpython(body, index, origin="pytest")
        if found:
            found[-1].origin = "pytest"
            found[-1].test_id = _id_from_header(name, found[-1].exception.frames)
            return found[-1]
    # Collection errors print a SyntaxError as E-prefixed CPython lines.
    e_lines = [x[1:].lstrip() if x.startswith("E ") else None for x in body]
    e_text = [x[2:] if x.startswith("E ") else x for x in body if x.startswith("E")]
    frames: list[Frame] = []
    # The frame's function is the outermost ``def`` of the source pytest prints for it: a nested
    # def inside (a helper, a closure) is not where the frame is.
    current_def: str | None = None
    def_indent = 1 << 30
    last_code: str | None = None
    final_type: str | None = None
    for raw in body:
        if _PYTEST_SEP.match(raw.strip()):
            current_def, def_indent, last_code = None, 1 << 30, None
            continue
        dm = _DEF.match(raw)
        if dm and len(raw) - len(raw.lstrip()) < def_indent:
            current_def, def_indent = dm.group("name"), len(raw) - len(raw.lstrip())
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
            current_def, def_indent, last_code = None, 1 << 30, None
            continue
        if frames and frames[-1].code is None and raw.startswith("    ") and not raw.strip().startswith("E "):
            frames[-1].code = raw.strip()
    # Short style puts the code *after* the location; long style puts it before. For long style we
    # captured `>` lines before the location, which is right.
    qualified, message = None, ""
    for x in e_lines:
        if x is None:
            continue
        m = EXC_LINE.match(x.strip())
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
        syn = parse_cpython(["Traceback (most recent call last):", *[t for t in e_text if t.strip()]], index)
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


def parse_pytest(lines: list[str], index: ProjectIndex) -> tuple[list[Failure], list[str], set[int]]:
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
