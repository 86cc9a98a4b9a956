"""Find the failures in an error log: CPython tracebacks, pytest reports and unittest's.

Handles chained exceptions, SyntaxError blocks with caret lines, 3.11+ ``^^^^`` markers, pytest's
long / short / line / native traceback styles and its short summary, collection errors, and the
noise of CI logs (see ``logtext``). Paths from another machine (``/home/runner/work/…``,
``C:\\…``) are mapped back onto the project when the file exists there.

The readers live beside this entrance, one concern each: CPython's grammar
(``cpython_traceback``), pytest's and unittest's reports (``pytest_report``, ``unittest_report``),
IPython's and ExceptionGroup's prints (``traceback_dialects``), incomplete tracebacks
(``fragments``), the project's files (``project_index``).

Parsing is pure: text in, models out. Nothing from the log is executed.
"""

from __future__ import annotations

import re
from pathlib import Path

from brain.intake.cpython_traceback import categorize, looks_like_exception, parse_cpython
from brain.intake.fragments import fragment_failure
from brain.intake.logtext import clean_lines
from brain.intake.project_index import PACKAGE_FOLDERS, ProjectIndex, import_names, package_folders
from brain.intake.pytest_report import PYTEST_MARKERS, parse_pytest
from brain.intake.traceback_dialects import as_cpython
from brain.intake.unittest_report import UNITTEST_HEADER, parse_unittest
from pve.models import Failure, ParsedLog

# (the project index and the exception names are read elsewhere; callers import them from here)
__all__ = ["PACKAGE_FOLDERS", "ProjectIndex", "categorize", "import_names", "looks_like_exception",
           "package_folders", "parse_log"]

_QUOTED = re.compile(r"^(?:>[ \t]?)+")


def parse_log(text: str, root: Path | None = None, index: ProjectIndex | None = None) -> ParsedLog:
    """All failures in ``text``, with frames mapped onto ``root`` where the files exist."""
    index = index or ProjectIndex(root)
    lines = clean_lines(text)
    lines = as_cpython(lines)
    is_pytest = any(PYTEST_MARKERS.search(x) for x in lines)
    failures: list[Failure] = []
    failing: list[str] = []
    consumed: set[int] = set()
    if is_pytest:
        failures, failing, consumed = parse_pytest(lines, index)
    if any(UNITTEST_HEADER.match(x) for x in lines):
        ut_failures, ut_ids, ut_consumed = parse_unittest(lines, index)
        failures += ut_failures
        failing += [t for t in ut_ids if t not in failing]
        consumed |= ut_consumed
    rest = [x if k not in consumed else "" for k, x in enumerate(lines)]
    seen = {_signature(f) for f in failures}
    for f in parse_cpython(rest, index):
        sig = _signature(f)
        if sig not in seen:
            seen.add(sig)
            failures.append(f)
    if not failures and any(_QUOTED.match(x) for x in rest):
        # a traceback pasted into a quoted reply ("> Traceback ..."): read without the quote marks
        # (only when nothing else was found: pytest marks its failing line with ">" too)
        rest = [_QUOTED.sub("", x) for x in rest]
        failures = parse_cpython(rest, index)
    if not failures:
        # nothing complete anywhere: every line counts (a unittest block cut before its end was
        # taken by the unittest reader without a failure)
        whole = [_QUOTED.sub("", x) for x in lines] if any(_QUOTED.match(x) for x in lines) else lines
        cut = fragment_failure(whole, index)
        if cut is not None:
            failures.append(cut)
    return ParsedLog(failures=failures, failing_tests=failing, is_pytest=is_pytest)


def _signature(f: Failure) -> tuple[str, str, tuple[tuple[str, int | None], ...]]:
    e = f.exception
    return (e.type, e.message, tuple((fr.file, fr.line) for fr in e.frames))
