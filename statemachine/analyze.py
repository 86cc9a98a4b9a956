"""Step 1, analyze: pick the failure to fix, find its failing project frame, classify it, and
derive how to reproduce it. Pure: text and the project's file list in, an ``Analyzed`` out."""

from __future__ import annotations

import shlex

from brain.traceback import ProjectIndex, categorize, parse_log
from pve.errors import BadInput
from pve.layout import is_test_path
from pve.models import (
    Analysis,
    Analyzed,
    ExceptionInfo,
    Failure,
    Frame,
    ParsedLog,
    Reproduction,
    ReproKind,
    VerifyRequest,
)

_PYTEST_PREFIXES = (["pytest"], ["py.test"], ["python", "-m", "pytest"], ["python3", "-m", "pytest"])


def analyze(req: VerifyRequest, files: list[str], *, log_text: str | None, snippet: str | None = None,
            project: str = "the project") -> Analyzed:
    """How to reproduce the failure (``req.test``, ``req.cmd``, the snippet, or derived from the
    log) and, when a log was given, what it reported. ``files`` are the project's Python files;
    ``snippet`` is the file name in snippet mode; ``project`` names the folder in messages."""
    index = ProjectIndex(None, files=files)
    parsed, failure = None, None
    if log_text is not None:
        parsed = parse_log(log_text, index=index)
        failure = pick_failure(parsed, req.test)
        stray = unmapped_frames(failure)
        if not any(f.project_path for f in failure.exception.frames) and not failure.exception.syntax_file \
                and stray and not failure.test_id:
            names = ", ".join(sorted({f.file for f in stray})[:3])
            raise BadInput(f"the traceback's frames are not in {project} ({names})",
                           hint="point PVE at the project folder the traceback came from",
                           code="frames-elsewhere", files=names)
    if snippet is not None:
        repro = snippet_reproduction(snippet)
    elif req.test:
        repro = reproduction_from_test(req.test, index)
    elif req.cmd:
        repro = reproduction_from_cmd(req.cmd, index)
    elif parsed is not None and failure is not None:
        repro = reproduction_from_log(parsed, failure, index)
    else:
        raise BadInput("nothing to reproduce: give --error-log, --test or --cmd", code="nothing-to-reproduce")
    analysis = analyze_failure(failure, set() if repro.snippet else set(repro.files)) if failure else None
    return Analyzed(reproduction=repro, analysis=analysis)


def pick_failure(parsed: ParsedLog, test: str | None = None) -> Failure:
    """The failure to work on: the given test's, else the first with an exception located in the project."""
    if not parsed.failures:
        raise BadInput("no Python traceback or pytest failure found in the error log",
                       hint="paste the full output, including the 'Traceback (most recent call last):' block",
                       code="no-failure")
    pool = parsed.failures
    if test:  # a CI run with several failures: the one this verification is about
        pool = [f for f in pool if f.test_id and f.test_id in test.split()] or pool
    located = [f for f in pool if any(fr.project_path for fr in f.exception.frames) or f.exception.syntax_file]
    return (located or pool)[0]


def analyze_failure(failure: Failure, repro_files: set[str]) -> Analysis:
    exc = failure.exception
    project = [f for f in exc.frames if f.project_path]
    # The frame to fix: innermost in project code that is neither a test nor the reproduction.
    editable = [f for f in project if not is_test_path(f.project_path or "") and f.project_path not in repro_files]
    failing: Frame | None = (editable or project)[-1] if (editable or project) else None
    if exc.syntax_file and exc.syntax_line and not failing:
        failing = Frame(file=exc.syntax_file, line=exc.syntax_line, project_path=exc.syntax_file)
    return Analysis(exception=exc, category=categorize(exc.type), failing_frame=failing,
                    project_frames=project, test_id=failure.test_id)


def analysis_from_run(exc: ExceptionInfo, repro_files: set[str], test_id: str | None = None) -> Analysis:
    """When no log was given, the reproduction's own failure is the report."""
    return analyze_failure(Failure(exception=exc, test_id=test_id), repro_files)


def unmapped_frames(failure: Failure) -> list[Frame]:
    """Frames that look like project code (not stdlib/site-packages) but whose files are not in PATH."""
    out = []
    for f in failure.exception.frames:
        name = f.file.replace("\\", "/")
        if f.project_path or name.startswith("<") or "site-packages" in name or "dist-packages" in name \
                or "/lib/python" in name:
            continue
        out.append(f)
    return out


# --------------------------------------------------------------------------- reproduction


def reproduction_from_test(spec: str, index: ProjectIndex) -> Reproduction:
    argv = _split(spec, "--test")
    for prefix in _PYTEST_PREFIXES:
        if argv[: len(prefix)] == prefix:
            argv = argv[len(prefix):]
            break
    ids = [a for a in argv if not a.startswith("-")]
    if not ids:
        raise BadInput("--test needs at least one test id or file, e.g. --test \"pytest tests/test_x.py::test_y\"",
                       code="test-missing")
    return _pytest_repro(ids, [a for a in argv if a.startswith("-")], index, "--test")


def reproduction_from_cmd(cmd: str, index: ProjectIndex) -> Reproduction:
    argv = _split(cmd, "--cmd")
    for prefix in _PYTEST_PREFIXES:
        if argv[: len(prefix)] == prefix:
            rest = argv[len(prefix):]
            ids = [a for a in rest if not a.startswith("-")]
            if ids:
                return _pytest_repro(ids, [a for a in rest if a.startswith("-")], index, "--cmd")
            return Reproduction(kind=ReproKind.PYTEST, argv=rest, derived_from="--cmd")
    if (argv and argv[0] in ("python", "python3")) or (argv and argv[0].startswith("python3.")):
        rest = argv[1:]
        if rest[:1] == ["-m"] and len(rest) >= 2:
            return Reproduction(kind=ReproKind.MODULE, target=rest[1], argv=rest[2:], derived_from="--cmd",
                                files=[f for f in (_module_file(rest[1], index),) if f])
        if rest and rest[0].endswith(".py"):
            script = _project_file(rest[0], index, "--cmd")
            return Reproduction(kind=ReproKind.SCRIPT, target=script, argv=rest[1:], files=[script], derived_from="--cmd")
    raise BadInput(f"--cmd must run a Python script, module or pytest (e.g. \"python app.py\"), got {cmd!r}",
                   code="command-not-python", command=cmd[:200])


def reproduction_from_log(parsed: ParsedLog, failure: Failure, index: ProjectIndex) -> Reproduction:
    if parsed.is_pytest and parsed.failing_tests:
        ids = [failure.test_id] if failure.test_id else []
        ids += [t for t in parsed.failing_tests if t not in ids and _same_cause(parsed, t, failure)]
        return _pytest_repro(ids, [], index, "log: failing pytest ids", strict=False)
    frames = [f for f in failure.exception.frames if f.project_path]
    if frames and not is_test_path(frames[0].project_path or ""):
        script = frames[0].project_path or ""
        return Reproduction(kind=ReproKind.SCRIPT, target=script, files=[script], derived_from="log: outermost frame")
    raise BadInput("could not derive a reproduction from the error log",
                   hint="say how to trigger it: --test \"pytest tests/test_x.py::test_y\" or --cmd \"python script.py\"",
                   code="no-reproduction")


def snippet_reproduction(name: str) -> Reproduction:
    return Reproduction(kind=ReproKind.SCRIPT, target=name, files=[name], snippet=True, derived_from="snippet")


def _same_cause(parsed: ParsedLog, test_id: str, failure: Failure) -> bool:
    other = next((f for f in parsed.failures if f.test_id == test_id), None)
    return other is not None and other.exception.type == failure.exception.type


def _pytest_repro(ids: list[str], options: list[str], index: ProjectIndex, origin: str, strict: bool = True) -> Reproduction:
    mapped: list[str] = []
    files: list[str] = []
    for tid in ids:
        path, sep, rest = tid.partition("::")
        rel = _locate_any(path, index)
        if rel is None:
            if strict:
                raise BadInput(f"the test {tid!r} is not in the project (no file {path})", code="test-not-found",
                               test=tid[:200])
            continue
        mapped.append(rel + sep + rest)
        if rel not in files:
            files.append(rel)
    if not mapped:
        raise BadInput("the failing tests in the log are not in the project folder",
                       hint="point PVE at the repository root the log came from, or pass --test",
                       code="tests-elsewhere")
    return Reproduction(kind=ReproKind.PYTEST, argv=[*files, *options], test_ids=mapped, files=files, derived_from=origin)


def _locate_any(path: str, index: ProjectIndex) -> str | None:
    if path in index.files:
        return path
    if path.endswith(".py"):
        return index.locate(path)
    return None


def _project_file(path: str, index: ProjectIndex, flag: str) -> str:
    rel = _locate_any(path.removeprefix("./"), index)
    if rel is None:
        raise BadInput(f"{flag}: {path} is not a file in the project", code="file-not-found", file=path[:200])
    return rel


def _module_file(module: str, index: ProjectIndex) -> str | None:
    base = module.replace(".", "/")
    for cand in (f"{base}.py", f"{base}/__main__.py"):
        if cand in index.files:
            return cand
    return None


def _split(text: str, flag: str) -> list[str]:
    try:
        argv = shlex.split(text)
    except ValueError as exc:
        raise BadInput(f"{flag}: {exc}", code="unparsable-command", problem=str(exc)) from None
    if not argv:
        raise BadInput(f"{flag} is empty", code="empty-command")
    return argv
