"""Find the failures in an error log: CPython tracebacks, pytest reports and unittest's.

Handles chained exceptions, SyntaxError blocks with caret lines, 3.11+ ``^^^^`` markers, pytest's
long / short / line / native traceback styles and its short summary, collection errors, and the
noise of CI logs (see ``logtext``). Paths from another machine (``/home/runner/work/…``,
``C:\\…``) are mapped back onto the project when the file exists there.

Parsing is pure: text in, models out. Nothing from the log is executed.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from pathlib import Path

from brain.intake.logtext import clean_lines
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


# Where a project keeps its importable packages (besides its root), by convention.
PACKAGE_FOLDERS = ("src", "lib", "python")
# Root files that are tooling, never what a user imports.
_NOT_MODULES = {"setup.py", "conftest.py", "noxfile.py", "fabfile.py", "tasks.py", "manage.py", "dodo.py",
                "versioneer.py", "_version.py", "__main__.py"}
# Path components after which a path is an installed copy: pip, Debian, eggs, zipapps, wheels.
_INSTALLED = re.compile(r"^(?:site-packages|dist-packages|.+\.(?:egg|pyz|zip|whl|par))$", re.I)


def import_names(files: Iterable[str], folders: Iterable[str] = ()) -> dict[str, str]:
    """The project's top-level import names and where each lives in the repository:
    ``{"tablekit": "src/tablekit", "six": "six.py"}``. Packages at the root or in a package
    folder (``src/`` and the like, or ``folders`` from the project's build configuration);
    test folders and tooling scripts are not import names a user's traceback runs through."""
    files = set(files)
    bases = ["", *PACKAGE_FOLDERS, *(f.strip("/") for f in folders)]
    names: dict[str, str] = {}
    for base in bases:
        prefix = base + "/" if base else ""
        for f in sorted(files):
            if not f.startswith(prefix):
                continue
            rest = f[len(prefix):].split("/")
            name = rest[0]
            if len(rest) == 2 and rest[1] == "__init__.py" and name.isidentifier() \
                    and name not in ("tests", "test", "testing", "docs", "examples", "benchmarks", "scripts"):
                names.setdefault(name, prefix + name)
            elif len(rest) == 1 and name.endswith(".py") and name not in _NOT_MODULES \
                    and not is_test_path(name) and name[:-3].isidentifier():
                names.setdefault(name[:-3], prefix + name)
    return names


class ProjectIndex:
    """The project's Python files, for mapping foreign paths back onto it: a CI runner's
    checkout (``/home/runner/work/…``), another OS's paths, and an installed copy of the project
    (``…/site-packages/tablekit/table.py``) by the project's import names."""

    def __init__(self, root: Path | None, files: Iterable[str] = (), folders: Iterable[str] = ()) -> None:
        self.root = root
        self.files: set[str] = set(files)
        if root is not None and not self.files:
            self.files = set(python_files(root))
        self._by_name: dict[str, list[str]] = {}
        for f in self.files:
            self._by_name.setdefault(f.rsplit("/", 1)[-1], []).append(f)
        self.packages = import_names(self.files, folders)

    def importable_folders(self) -> list[str]:
        """Folders to put on sys.path so the project imports as if installed (``src``)."""
        return sorted({p.rsplit("/", 1)[0] for p in self.packages.values() if "/" in p})

    def locate(self, raw: str) -> str | None:
        """Project-relative path for a path as written in a log, or None if not in the project."""
        if not raw or raw.startswith("<") or not raw.endswith((".py", ".pyw")):
            return None
        path = raw.replace("\\", "/")
        path = re.sub(r"^[A-Za-z]:/", "/", path)
        parts = [p for p in path.split("/") if p not in ("", ".")]
        if ".." in parts:
            return None
        installed = [k for k, p in enumerate(parts) if _INSTALLED.match(p)]
        if installed:
            return self._installed(parts[installed[-1] + 1:])
        if re.search(r"/lib/python3\.\d+/", path) or re.search(r"/Lib/(?!site-packages)", path):
            return None  # the standard library
        for k in range(len(parts)):
            suffix = "/".join(parts[k:])
            if suffix in self.files:
                return suffix
        if not path.startswith("/") and len(parts) == 1:
            same = self._by_name.get(parts[0], [])
            if len(same) == 1:
                return same[0]
        return None

    def module_node(self, name: str) -> str | None:
        """A dotted unittest name (``tests.test_calc.TestCalc.test_clamp``) or a file path as a
        pytest node id (``tests/test_calc.py::TestCalc::test_clamp``): the longest module prefix
        that is a file of the project, the rest as the class and test."""
        if name.endswith((".py", ".pyw")) or "/" in name:
            path = name.removeprefix("./")
            return path if path in self.files else self.locate(path)
        parts = name.split(".")
        for k in range(len(parts), 0, -1):
            module = "/".join(parts[:k])
            for candidate in (f"{module}.py", f"{module}/__init__.py"):
                hits = [f for f in self.files if f == candidate or f.endswith("/" + candidate)]
                if candidate in hits:
                    hits = [candidate]
                if len(hits) == 1:  # a Django app's tests may sit under the project's folder
                    return "::".join([hits[0], *parts[k:]])
        return None

    def _installed(self, parts: list[str]) -> str | None:
        """``tablekit/table.py`` inside an installed copy -> the repository's own file, when
        ``tablekit`` is one of the project's import names. Other packages stay unmapped."""
        while parts and _INSTALLED.match(parts[0]):
            parts = parts[1:]
        if not parts:
            return None
        head = parts[0][:-3] if len(parts) == 1 and parts[0].endswith(".py") else parts[0]
        where = self.packages.get(head)
        if where is None:
            return None
        rel = where if len(parts) == 1 else "/".join([where, *parts[1:]])
        return rel if rel in self.files else None


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
    if i == n - 1 or not any(x.strip() for x in lines[i + 1:]):
        if 'File "'.startswith(lines[i].strip()) and lines[i].startswith((" ", "\t")):
            return None, i  # the text ends inside the next frame's line ("  Fil"): cut, not an exception
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
        if _FRAME.match(line):
            # Frames without their "Traceback (most recent call last):" header (the reporter
            # copied from the first frame): a failure when an exception line ends them.
            frames, j = _parse_frames(lines, i, index)
            exc, j = _exception_at(lines, j, frames)
            if exc is not None and looks_like_exception(exc.qualified_type):
                failures.append(Failure(exception=exc, chain=list(chain), origin=origin))
                chain = []
                i = j
                continue
            i = max(j, i + 1)
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


# --------------------------------------------------------------------------- unittest

_UT_RULE = re.compile(r"^(?:=|-){50,}$")
_UT_HEADER = re.compile(r"^(?P<kind>FAIL|ERROR|UNEXPECTED SUCCESS): (?P<name>[\w.]+) \((?P<where>[\w.]+)\)"
                        r"(?: \((?P<sub>.*)\))?\s*$")
_UT_FIXTURES = {"setUpClass", "tearDownClass", "setUpModule", "tearDownModule"}


def _unittest_id(name: str, where: str, index: ProjectIndex) -> str | None:
    """The pytest node id of a unittest report header's test.

    ``test_x (pkg.test_m.TestC.test_x)`` (3.11+), ``test_x (pkg.test_m.TestC)`` (older),
    ``setUpClass (pkg.test_m.TestC)`` (the class), ``test_m (unittest.loader._FailedTest…)``
    (a module that could not be imported: the file)."""
    if where.startswith("unittest.loader._Failed") or where.startswith("unittest.loader.ModuleImportFailure"):
        node = index.module_node(name)
        return node.split("::", 1)[0] if node else None
    if name in _UT_FIXTURES:
        return index.module_node(where)
    dotted = where if where.endswith("." + name) else f"{where}.{name}"
    return index.module_node(dotted)


def _parse_unittest(lines: list[str], index: ProjectIndex) -> tuple[list[Failure], list[str], set[int]]:
    """unittest's FAIL/ERROR blocks (``python -m unittest``, ``setup.py test``, Django's runner,
    tox/nox output of either): each header's traceback, with its test as a pytest node id."""
    failures: list[Failure] = []
    ids: list[str] = []
    consumed: set[int] = set()
    i, n = 0, len(lines)
    while i < n:
        head = _UT_HEADER.match(lines[i])
        if not head or i == 0 or not _UT_RULE.match(lines[i - 1].strip()):
            i += 1
            continue
        j = i + 1
        while j < n and not _UT_RULE.match(lines[j].strip()) and j - i < 6:
            j += 1  # the test's docstring, if any, sits between the header and the rule
        k = j + 1
        while k < n and not (_UT_RULE.match(lines[k].strip()) and (k + 1 >= n or _UT_HEADER.match(lines[k + 1])
                                                                   or lines[k + 1].startswith("Ran "))):
            k += 1
        body = lines[j + 1:k]
        found = _parse_cpython(body, index, origin="unittest")
        tid = _unittest_id(head.group("name"), head.group("where"), index)
        consumed.update(range(i - 1, k))
        if tid and tid not in ids:
            ids.append(tid)
        if found:
            failure = found[-1]  # a module that failed to import: its own traceback comes last
            failure.test_id = tid
            failures.append(failure)
        elif head.group("kind") == "UNEXPECTED SUCCESS" and tid:
            exc = ExceptionInfo(type="AssertionError", qualified_type="AssertionError",
                                message="unexpected success (the test is marked expectedFailure)")
            failures.append(Failure(exception=exc, test_id=tid, origin="unittest"))
        i = k
    return failures, ids, consumed


_PYTEST_MARKERS = re.compile(r"^={3,} (?:test session starts|FAILURES|ERRORS|short test summary info)|"
                             r"^(?:FAILED|ERROR) \S+::|^collected \d+ items?|^\d+ (?:passed|failed)")


def parse_log(text: str, root: Path | None = None, index: ProjectIndex | None = None) -> ParsedLog:
    """All failures in ``text``, with frames mapped onto ``root`` where the files exist."""
    index = index or ProjectIndex(root)
    lines = clean_lines(text)
    if any(_IPY_MARK.search(x) for x in lines):
        lines = _from_ipython(lines)
    if any(_GROUP_HEADER.match(x) for x in lines):
        lines = _ungrouped(lines)
    is_pytest = any(_PYTEST_MARKERS.search(x) for x in lines)
    failures: list[Failure] = []
    failing: list[str] = []
    consumed: set[int] = set()
    if is_pytest:
        failures, failing, consumed = _parse_pytest(lines, index)
    if any(_UT_HEADER.match(x) for x in lines):
        ut_failures, ut_ids, ut_consumed = _parse_unittest(lines, index)
        failures += ut_failures
        failing += [t for t in ut_ids if t not in failing]
        consumed |= ut_consumed
    rest = [x if k not in consumed else "" for k, x in enumerate(lines)]
    seen = {_signature(f) for f in failures}
    for f in _parse_cpython(rest, index):
        sig = _signature(f)
        if sig not in seen:
            seen.add(sig)
            failures.append(f)
    if not failures and any(_QUOTED.match(x) for x in rest):
        # a traceback pasted into a quoted reply ("> Traceback ..."): read without the quote marks
        # (only when nothing else was found: pytest marks its failing line with ">" too)
        rest = [_QUOTED.sub("", x) for x in rest]
        failures = _parse_cpython(rest, index)
    if not failures:
        # nothing complete anywhere: every line counts (a unittest block cut before its end was
        # taken by the unittest reader without a failure)
        whole = [_QUOTED.sub("", x) for x in lines] if any(_QUOTED.match(x) for x in lines) else lines
        cut = _cut_traceback(whole, index) or _pytest_fragment(whole, index) or _bare_exception(whole)
        if cut is not None:
            failures.append(cut)
    return ParsedLog(failures=failures, failing_tests=failing, is_pytest=is_pytest)


_QUOTED = re.compile(r"^(?:>[ \t]?)+")

# IPython's and Jupyter's tracebacks: "----> 12 code" markers, "Cell In[3], line 1" (IPython 8),
# "<ipython-input-8-…> in <module>()" and "~/path.py in func(args)" (IPython 7),
# "File ~/path.py:123, in func(args)" (IPython 8).
_IPY_MARK = re.compile(r"^\s*-*-> ?\d+ |^Cell In ?\[|<ipython-input-|^\S+\s+Traceback \(most recent call last\)$")
_IPY_HEADER = re.compile(r"^(?:(?P<type>[A-Za-z_][\w.]*)\s+)?Traceback \(most recent call last\):?\s*$")
_IPY_CELL = re.compile(r"^Cell In ?\[(?P<n>\d*)\], line (?P<line>\d+)")
_IPY_FILE8 = re.compile(r"^File (?P<file>\S.*?):(?P<line>\d+), in (?P<func>[\w<>.]+)")
_IPY_FILE7 = re.compile(r"^(?P<file>~?[^\s\"]*\.pyw?|<ipython-input-[^>]*>|<stdin>|<string>)\s+in\s+(?P<func>[\w<>.]+)")
_IPY_CODE = re.compile(r"^\s*-*-> ?(?P<line>\d+)\s?(?P<code>.*)$")


# An ExceptionGroup's tree (3.11+): its traceback and each sub-exception's, drawn in a box.
_GROUP_HEADER = re.compile(r"^\s*\+ Exception Group Traceback \(most recent call last\):")
_GROUP_RULE = re.compile(r"^\s*\+?-?\+-+(?: (?:\d+|\.\.\.)(?: -+)?)?\s*$|^\s*\+-+\s*$")
_GROUP_EDGE = re.compile(r"^\s*[|+] ?")


def _ungrouped(lines: list[str]) -> list[str]:
    """The tree as separate tracebacks, the group's first: each line without its box edge."""
    out: list[str] = []
    for line in lines:
        if _GROUP_RULE.match(line):
            out.append("")
            continue
        m = _GROUP_EDGE.match(line)
        if m and (line.lstrip().startswith(("|", "+ Exception Group"))):
            line = line[m.end():].replace("Exception Group Traceback", "Traceback")
        out.append(line)
    return out


def _from_ipython(lines: list[str]) -> list[str]:
    """IPython's traceback as CPython prints it (``File "…", line N, in f`` and the line's code),
    so one reader handles both. A frame's line is the one its ``--->`` marker points at."""
    out: list[str] = []
    pending: tuple[str, str | None, str] | None = None  # file, line (IPython 8 gives it), function
    in_frame = False  # after a frame's marked line, before the blank line that ends its context

    def flush(line: str | None, code: str) -> None:
        nonlocal pending
        if pending is not None:
            file, at, func = pending
            out.append(f'  File "{file}", line {line or at or 0}, in {func}')
            if code:
                out.append(f"    {code.strip()}")
        pending = None

    for raw in lines:
        x = raw.strip()
        header = _IPY_HEADER.match(x)
        if header and "-" * 10 not in x:
            flush(None, "")
            out.append("Traceback (most recent call last):")
            continue
        m = _IPY_CELL.match(x) or _IPY_FILE8.match(x) or _IPY_FILE7.match(x)
        if m:
            flush(None, "")
            d = m.groupdict()
            file = d.get("file") or f"<ipython-input-{d.get('n') or 0}>"
            func = d.get("func") or "<module>"
            # (IPython 8 names methods by their qualified name, "Table.column": the frame's is "column")
            pending = (file, d.get("line"), func if func.startswith("<") else func.split("(")[0].rsplit(".", 1)[-1])
            in_frame = False
            continue
        code = _IPY_CODE.match(raw)
        if code and pending is not None:
            flush(code["line"], code["code"])
            in_frame = True
            continue
        if (pending is not None or in_frame) and re.match(r"^\s*\d+(?:\s|$)", raw):
            continue  # context lines around the marked one
        if re.fullmatch(r"-{10,}", x) or (pending is not None and not x):
            continue
        if in_frame and not x:  # the blank line between two frames: CPython prints none
            in_frame = False
            continue
        in_frame = False
        flush(None, "")
        out.append(raw)
    flush(None, "")
    return out


# "# AttributeError: 'X' object has no attribute 'y'" (an issue's title), or a line of prose
_NAMED_EXC = re.compile(r"^(?:#+\s*)?(?P<type>[A-Za-z_][\w.]*\w)\s*:\s*(?P<msg>\S.*)$")
# "a `TypeError` in astroid", "`AssertionError: Past end?` on match statement"
_TICKED_EXC = re.compile(r"`(?P<type>[A-Za-z_][\w.]*(?:Error|Exception|Exit|Warning|Interrupt|Fault))(?::\s*(?P<msg>[^`]*))?`")


def _cut_traceback(lines: list[str], index: ProjectIndex) -> Failure | None:
    """A traceback whose exception line the reporter (or a length limit) cut off: its frames,
    with the exception the rest of the report names (the title "AttributeError: ...", or a
    `TypeError` in the prose). None when there are no frames or no exception is named."""
    frames: list[Frame] = []
    i = 0
    while i < len(lines):
        if _FRAME.match(lines[i]):
            found, j = _parse_frames(lines, i, index)
            frames = found or frames  # the last block: the one nearest the (missing) exception
            i = max(j, i + 1)
        else:
            i += 1
    last = next((x for x in reversed(lines) if x.strip()), "")
    tail = _FRAME.match(last)
    if frames and tail and frames[-1].line == int(tail["line"]) and frames[-1].code is None:
        # the text ends on this frame's own line (a length limit): its name may be halved
        frames = [*frames[:-1], frames[-1].model_copy(update={"cut": True})]
    if not frames:
        return None
    named = _named_exception(lines)
    if named is None:
        if not any(f.project_path for f in frames):
            return None
        # Nothing names the exception (the report was cut before it): a crash in these frames,
        # of any type; the reproduction is held to raising inside the reported frames.
        return Failure(exception=ExceptionInfo(type="", qualified_type="", message="", frames=frames, cut=True,
                                               type_truncated=True))
    qualified, message = named
    marker = max((k for k, x in enumerate(lines) if x.strip() in (_CAUSE, _CONTEXT)), default=None)
    if marker is not None:
        # A chain cut after its marker ("The above exception was the direct cause..."): when the
        # exception the report names is a complete link before it, that link is the failure.
        earlier = [f for f in _parse_cpython(lines[:marker], index)
                   if f.exception.type == qualified.rsplit(".", 1)[-1]]
        if earlier:
            return earlier[-1]
    return Failure(exception=ExceptionInfo(type=qualified.rsplit(".", 1)[-1], qualified_type=qualified,
                                           message=message, frames=frames, cut=True))


_E_LINE = re.compile(r"^E\s+(?P<type>[A-Za-z_][\w.]*)(?::\s*(?P<msg>.*))?$")
_PYTEST_WHERE = re.compile(r"^(?P<file>\S+\.py):(?P<line>\d+): (?P<type>[A-Za-z_][\w.]*)$")


def _pytest_fragment(lines: list[str], index: ProjectIndex) -> Failure | None:
    """A piece of pytest's failure output pasted without its header: the failing function's
    source, its ``>`` line and the ``E   Type: message`` lines (and, when kept, pytest's
    ``path.py:123: Type`` line, the failing frame)."""
    hits = [(k, m) for k, x in enumerate(lines) if (m := _E_LINE.match(x)) and looks_like_exception(m["type"])]
    if not hits:
        return None
    at, m = hits[0]
    code = next((x[1:].strip() for x in reversed(lines[:at]) if x.startswith(">")), None)
    function = next((d["name"] for x in reversed(lines[:at])
                     if (d := re.match(r"^\s*(?:async\s+)?def (?P<name>\w+)\(", x))), None)
    frames: list[Frame] = []
    where = next((w for x in lines[at + 1:at + 30] if (w := _PYTEST_WHERE.match(x.strip()))), None)
    if where is not None:
        frames.append(Frame(file=where["file"], line=int(where["line"]), function=function, code=code,
                            project_path=index.locate(where["file"])))
    qualified = m["type"]
    return Failure(exception=ExceptionInfo(type=qualified.rsplit(".", 1)[-1], qualified_type=qualified,
                                           message=(m["msg"] or "").strip(), frames=frames, cut=True))


def _bare_exception(lines: list[str]) -> Failure | None:
    """Only the end of a traceback: the failing line's code (and its ``^^^`` marks), then
    ``Type: message`` at the start of a line. The exception, without frames: the reproduction is
    held to its type."""
    for k in range(len(lines) - 1, 0, -1):
        m = _EXC_LINE.match(lines[k])
        if not m or not m["msg"] or not looks_like_exception(m["type"]) or lines[k][:1].isspace():
            continue
        before = next((x for x in reversed(lines[:k]) if x.strip()), "")
        if before[:1].isspace() and not _FRAME.match(before):
            qualified = m["type"]
            return Failure(exception=ExceptionInfo(type=qualified.rsplit(".", 1)[-1], qualified_type=qualified,
                                                   message=m["msg"].strip(), frames=[], cut=True))
    return None


_EXC_WORD = r"[A-Za-z_][\w.]*(?:Error|Exception|Exit|Warning|Interrupt|Fault)"
# A title that starts "InvalidOperation: …": a class name (two capitalised words or more) and a
# message, as a traceback's last line reads, even without an exception-like suffix.
_CAMEL = re.compile(r"(?:[\w]+\.)*[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]+)+")
_TITLE_NAMED = re.compile(rf"\b(?P<type>{_EXC_WORD})\s*:\s*(?P<msg>[^`]+)")
_TITLE_WORD = re.compile(rf"\b(?P<type>{_EXC_WORD})\b")
# CPython's own messages, for a title that quotes the message without its type
_MESSAGE_TYPES = (
    (re.compile(r"object has no attribute|has no attribute '"), "AttributeError"),
    (re.compile(r"index out of range"), "IndexError"),
    (re.compile(r"division by zero|division or modulo by zero"), "ZeroDivisionError"),
    (re.compile(r"object is not (?:subscriptable|callable|iterable)|unsupported operand type|takes \d+ positional argument|"
                r"got an unexpected keyword argument|missing \d+ required positional argument|can only concatenate"),
     "TypeError"),
    (re.compile(r"No such file or directory"), "FileNotFoundError"),
    (re.compile(r"maximum recursion depth exceeded"), "RecursionError"),
)


def _named_exception(lines: list[str]) -> tuple[str, str] | None:
    """(type, message) of the exception a report names where its traceback does not: the
    issue's title (the "# " line PVE's input starts with) first, then a ticked `XxxError` in the
    prose. None when nothing names one."""
    title = next((x.strip()[1:].strip() for x in lines if x.strip().startswith("# ")), "")
    for candidate in (title, *(x.strip() for x in lines)):
        m = _NAMED_EXC.match(candidate)
        if m and (looks_like_exception(m.group("type")) or (candidate is title and _CAMEL.fullmatch(m.group("type")))):
            return m.group("type"), m.group("msg").strip()
        if candidate is not title:
            continue
        m = _TICKED_EXC.search(candidate) or _TITLE_NAMED.search(candidate) or _TITLE_WORD.search(candidate)
        if m and looks_like_exception(m.group("type")):
            return m.group("type"), (m.groupdict().get("msg") or "").strip().strip("`")
        for pattern, kind in _MESSAGE_TYPES:
            if pattern.search(candidate):
                return kind, candidate
    for line in lines:
        m = _TICKED_EXC.search(line)
        if m and looks_like_exception(m.group("type")):
            return m.group("type"), (m.group("msg") or "").strip()
    return None


def _signature(f: Failure) -> tuple[str, str, tuple[tuple[str, int | None], ...]]:
    e = f.exception
    return (e.type, e.message, tuple((fr.file, fr.line) for fr in e.frames))


def package_folders(pyproject: str) -> list[str]:
    """Folders a ``pyproject.toml`` says hold the packages (beyond the conventional ``src/``):
    setuptools' ``package-dir`` and ``packages.find.where``, Poetry's ``packages[].from``,
    Hatch's wheel ``packages``. Read as data; nothing of the project runs."""
    try:
        tool = tomllib.loads(pyproject).get("tool", {})
    except tomllib.TOMLDecodeError:
        return []
    found: list[str] = []
    setuptools = tool.get("setuptools", {})
    root = setuptools.get("package-dir", {}).get("") if isinstance(setuptools.get("package-dir"), dict) else None
    if isinstance(root, str):
        found.append(root)
    find = setuptools.get("packages", {})
    if isinstance(find, dict) and isinstance(find.get("find", {}).get("where"), list):
        found += [w for w in find["find"]["where"] if isinstance(w, str)]
    for entry in tool.get("poetry", {}).get("packages", []) or []:
        if isinstance(entry, dict) and isinstance(entry.get("from"), str):
            found.append(entry["from"])
    wheel = tool.get("hatch", {}).get("build", {}).get("targets", {}).get("wheel", {})
    for path in wheel.get("packages", []) if isinstance(wheel, dict) else []:
        if isinstance(path, str) and "/" in path.strip("/"):
            found.append(path.strip("/").rsplit("/", 1)[0])
    return [f.strip("/") for f in found if f.strip("/") not in ("", ".")]
