"""Prepare (``Verification.prepare``), analyze: pick the failure to fix, find its failing project frame, classify it, and
derive how to reproduce it. Pure: text and the project's files in, an ``Analyzed`` out.

Reproductions, in order: the user's test or command (pytest or unittest command lines with
any options, a script, a module), the failing tests a pytest or unittest log names, the
project script the traceback starts in, and the code block of a bug report."""

from __future__ import annotations

import ast
from collections.abc import Callable

from brain.intake import command, commandline, report
from brain.intake.commandline import CommandError
from brain.intake.traceback import ProjectIndex, categorize, package_folders, parse_log
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
from sandbox.declarations import declares

# The file a reproduction PVE writes from a bug report runs as (the design's name for it).
REPORT_SCRIPT = "reproduce_issue.py"
# ... and a report's test module, at the project's root (beside its conftest.py).
REPORT_TESTS = "test_reproduce_issue.py"


def _no_file(rel: str) -> str:
    raise FileNotFoundError(rel)


def analyze(req: VerifyRequest, files: list[str], *, log_text: str | None, snippet: str | None = None,
            project: str = "the project", read: Callable[[str], str] = _no_file,
            all_files: set[str] | None = None, model_may_write: bool = False) -> Analyzed:
    """How to reproduce the failure (``req.test``, ``req.cmd``, the snippet, or derived from the
    log) and, when a log was given, what it reported. ``files`` are the project's Python files,
    ``all_files`` every file (its configuration too), ``read`` reads one; ``snippet`` is the file
    name in snippet mode; ``project`` names the folder in messages. ``model_may_write``: when the
    report holds no reproduction, answer with none (a model will write one) instead of refusing."""
    index = ProjectIndex(None, files=files, folders=_declared_folders(read))
    notes: list[str] = []
    parsed, failure = None, None
    if log_text is not None:
        parsed = parse_log(log_text, index=index)
        failure = pick_failure(parsed, req.test)
        notes += _others(parsed, failure)
        notes += realign(failure, read)
        stray = unmapped_frames(failure)
        if not any(f.project_path for f in failure.exception.frames) and not failure.exception.syntax_file \
                and stray and not failure.test_id:
            names = ", ".join(sorted({f.file for f in stray})[:3])
            raise BadInput(f"the traceback's frames are not in {project} ({names})",
                           hint="point PVE at the project folder the traceback came from",
                           code="frames-elsewhere", files=names)
    if snippet is not None:
        repro = snippet_reproduction(snippet, _snippet_argv(req.cmd, snippet))
    elif req.test:
        repro = reproduction_from_command(req.test, index, "--test", notes)
    elif req.cmd:
        repro = reproduction_from_command(req.cmd, index, "--cmd", notes)
    elif parsed is not None and failure is not None:
        try:
            repro = reproduction_from_log(parsed, failure, index, log_text or "", read, notes,
                                          all_files=all_files or set(files))
        except BadInput as exc:
            if exc.code != "no-reproduction" or not model_may_write:
                raise
            return Analyzed(reproduction=None, analysis=analyze_failure(failure, set()), notes=notes)
    else:
        raise BadInput("nothing to reproduce: give --error-log, --test or --cmd", code="nothing-to-reproduce")
    if not repro.snippet:
        config = all_files or set(files)
        overrides, dropped = commandline.addopts_override(read, config, index)
        if repro.kind is ReproKind.PYTEST:
            overrides += commandline.collect_too(read, config, repro.files)
        repro = repro.model_copy(update={"pytest_options": overrides, "pythonpath": index.importable_folders()})
        notes += dropped
    analysis = analyze_failure(failure, repro.frozen_files()) if failure else None
    return Analyzed(reproduction=repro, analysis=analysis, notes=notes)


def _declared_folders(read: Callable[[str], str]) -> list[str]:
    try:
        return package_folders(read("pyproject.toml"))
    except FileNotFoundError:
        return []


def importable_folders(files: list[str]) -> list[str]:
    """Project folders on sys.path for a reproduction written elsewhere (a model's)."""
    return ProjectIndex(None, files=files).importable_folders()


def holds_failure(text: str) -> bool:
    """Does the log reader find a failure in ``text`` (in any shape it reads)?"""
    return bool(parse_log(text).failures)


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


# --------------------------------------------------------------------------- what the report holds


def _others(parsed: ParsedLog, chosen: Failure) -> list[str]:
    """One answer per report: the others are named, not worked on."""
    def cause(f: Failure) -> tuple[str, str | None, str | None]:
        inner = next((fr for fr in reversed(f.exception.frames) if fr.project_path), None)
        return (f.exception.type, inner.project_path if inner else None, inner.function if inner else None)

    mine = cause(chosen)
    others = [f for f in parsed.failures if f is not chosen]
    same = [f for f in others if cause(f) == mine]
    distinct = {cause(f) for f in others} - {mine}
    if not distinct:
        return [f"{len(same)} more failure{'s' if len(same) != 1 else ''} in the log with the same cause"] if same else []
    where = f" ({chosen.test_id})" if chosen.test_id else ""
    return [f"the log has {len(distinct)} other distinct failure{'s' if len(distinct) != 1 else ''}; "
            f"this verification is about the first root cause: {chosen.exception.type}{where}"]


def realign(failure: Failure, read: Callable[[str], str]) -> list[str]:
    """A traceback from an older release: its line numbers disagree with the repository's file.
    Match each such frame by its function and code line, and say so."""
    notes: list[str] = []
    for frame in failure.exception.frames:
        if not frame.project_path or not frame.line or not frame.code:
            continue
        try:
            lines = read(frame.project_path).split("\n")
        except FileNotFoundError:
            continue
        want = " ".join(frame.code.split())
        if 0 < frame.line <= len(lines) and " ".join(lines[frame.line - 1].split()) == want:
            continue
        found = _find_line(lines, want, frame.function)
        if found is None:
            notes.append(f"{frame.project_path}:{frame.line} in the traceback is not `{frame.code[:80]}` in this "
                         f"repository, nor is that line in {frame.function or 'the file'}: the code changed since "
                         "the reporter's release")
            continue
        notes.append(f"the traceback's line numbers are not this repository's (an older release?): matched "
                     f"{frame.project_path} {frame.function or ''} by its code, line {frame.line} -> {found}")
        frame.line = found
    return notes


def _find_line(lines: list[str], want: str, function: str | None) -> int | None:
    """The 1-based line holding ``want`` inside ``def function`` (else anywhere, if unique)."""
    hits = [k + 1 for k, x in enumerate(lines) if " ".join(x.split()) == want]
    if function and function != "<module>":
        starts = [k for k, x in enumerate(lines) if x.lstrip().startswith((f"def {function}(", f"async def {function}("))]
        for start in starts:
            indent = len(lines[start]) - len(lines[start].lstrip())
            end = next((k for k in range(start + 1, len(lines)) if lines[k].strip()
                        and len(lines[k]) - len(lines[k].lstrip()) <= indent), len(lines))
            inside = [h for h in hits if start < h <= end]
            if inside:
                return inside[0]
    return hits[0] if len(hits) == 1 else None


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


def reproduction_from_command(text: str, index: ProjectIndex, flag: str, notes: list[str]) -> Reproduction:
    """A command as the user's CI ran it: pytest (any options), ``python -m unittest``, a
    script or a module. ``--test`` also takes bare test ids and files."""
    try:
        argv = commandline.split(text)
    except CommandError as exc:
        raise BadInput(f"{flag}: {exc}", code=exc.code, problem=str(exc)) from None
    args = commandline.strip_prefix(argv, commandline.PYTEST_PREFIXES)
    if args is not None:
        return _pytest_command(commandline.parse_pytest, args, index, flag, notes)
    args = commandline.strip_prefix(argv, commandline.UNITTEST_PREFIXES)
    if args is not None:
        return _pytest_command(commandline.parse_unittest, args, index, flag, notes)
    if flag == "--test":  # bare ids and files: pytest's arguments
        return _pytest_command(commandline.parse_pytest, argv, index, flag, notes)
    words = commandline.strip_prefix(argv, (["python"],))
    if words is not None:
        while words[:1] and words[0].startswith("-") and words[0] not in ("-m",):
            words = words[1:]  # python -X dev -W error script.py
        if words[:1] == ["-m"] and len(words) >= 2:
            module_file = _module_file(words[1], index)
            return Reproduction(kind=ReproKind.MODULE, target=words[1], argv=words[2:], derived_from=flag,
                                files=[module_file] if module_file else [], editable_defs=module_file is not None)
        if words and words[0].endswith((".py", ".pyw")):
            script = _project_file(words[0], index, flag)
            return Reproduction(kind=ReproKind.SCRIPT, target=script, argv=words[1:], files=[script], derived_from=flag,
                                editable_defs=True)
    raise BadInput(f"{flag} must run a Python script, module, pytest or unittest (e.g. \"python app.py\"), got {text!r}",
                   code="command-not-python", command=text[:200])


def _pytest_command(parse: Callable[[list[str], ProjectIndex], commandline.PytestCommand], args: list[str],
                    index: ProjectIndex, flag: str, notes: list[str]) -> Reproduction:
    try:
        cmd = parse(args, index)
    except CommandError as exc:
        raise BadInput(f"{flag}: {exc}", code=exc.code, problem=str(exc)) from None
    if cmd.missing:
        tid = cmd.missing[0]
        raise BadInput(f"the test {tid!r} is not in the project (no file or folder {tid.split('::')[0]})",
                       code="test-not-found", test=tid[:200])
    notes += cmd.notes
    targets = cmd.targets or [""]
    files = sorted({t.split("::")[0] for t in targets if t.split("::")[0].endswith((".py", ".pyw"))})
    return Reproduction(kind=ReproKind.PYTEST, argv=[*(t for t in targets if t), *cmd.options],
                        test_ids=[t or "." for t in targets], files=files, derived_from=flag)


def reproduction_from_log(parsed: ParsedLog, failure: Failure, index: ProjectIndex, text: str,
                          read: Callable[[str], str], notes: list[str], *, all_files: set[str] | None = None) -> Reproduction:
    if parsed.failing_tests:
        ids = [failure.test_id] if failure.test_id else []
        ids += [t for t in parsed.failing_tests if t not in ids and _same_cause(parsed, t, failure)]
        return _pytest_repro(ids, index, "log: failing test ids")
    frames = failure.exception.frames
    first = frames[0] if frames else None
    if first is not None and first.project_path and not is_test_path(first.project_path) \
            and first.function in (None, "<module>"):
        # The traceback starts at the top of a project script: running it is the reproduction,
        # and only its top-level statements are (its functions may hold the bug).
        script = first.project_path
        return Reproduction(kind=ReproKind.SCRIPT, target=script, files=[script], derived_from="log: the script it ran",
                            editable_defs=True)
    script_repro = _report_reproduction(text, failure, index, read, notes, all_files or set(index.files))
    if script_repro is not None:
        return script_repro
    raise BadInput("could not derive a reproduction from the error log: it names no test, starts in no project "
                   "script, and has no code block that uses the project",
                   hint="say how to trigger it: --test \"pytest tests/test_x.py::test_y\" or --cmd \"python script.py\"",
                   code="no-reproduction")


def _report_reproduction(text: str, failure: Failure, index: ProjectIndex, read: Callable[[str], str],
                         notes: list[str], all_files: set[str]) -> Reproduction | None:
    """A bug report's code block, made runnable, as the reproduction script."""
    def exports(package: str) -> set[str]:
        where = index.packages.get(package, "")
        try:
            return report.package_exports(read(f"{where}/__init__.py")) if not where.endswith(".py") else set()
        except FileNotFoundError:
            return set()

    target = REPORT_SCRIPT if REPORT_SCRIPT not in index.files else "reproduce_issue_pve.py"
    project_tools = command.tools(read, index.packages)

    def requires(package: str) -> bool:
        return declares(package, all_files, read)

    try:
        # The project's command-line tool, when the report shows it run (or its traceback starts
        # in it): the report's code is then the tool's input, not a caller of the library.
        cmd = command.command_from_report(text, failure, project_tools)
        if cmd is not None:
            return _command_reproduction(command.script(cmd, failure), target, notes)
        fixtures = _project_fixtures(index, read)
        script = report.reproduction_script(text, failure, index.packages, exports, frozenset(fixtures),
                                            _modules(index))
    except report.Unusable as exc:
        cmd = command.command_for_input(text, project_tools, set(index.packages), failure, requires) \
            if "uses the project" in str(exc) else None
        if cmd is None:
            raise BadInput(f"could not use the report's code: {exc}", code="report-code-unusable",
                           reason=str(exc)) from None
        return _command_reproduction(command.script(cmd, failure), target, notes)
    if script is None:  # no Python code at all: a document for the project's tool, or the traceback's own call
        cmd = command.command_for_input(text, project_tools, set(index.packages), failure, requires)
        if cmd is not None:
            return _command_reproduction(command.script(cmd, failure), target, notes)
        try:
            from_frames = report.frames_script(text, failure, index.packages, exports, _modules(index))
        except report.Unusable as exc:
            # no reproduction in the report (a model may still write one): said with its reason
            raise BadInput(f"could not derive a reproduction from the error log: {exc}", code="no-reproduction",
                           hint="say how to trigger it: --test \"pytest tests/test_x.py::test_y\" or --cmd "
                                "\"python script.py\"") from None
        if from_frames is None:
            return None
        notes += from_frames.notes
        return Reproduction(kind=ReproKind.SCRIPT, target=target, files=[target], script=from_frames.text,
                            derived_from="report: the traceback's own line")
    which = ", ".join(str(b) for b in script.blocks)
    notes.append(f"reproducing with the report's code block{'s' if len(script.blocks) > 1 else ''} {which}")
    notes += script.notes
    if script.tests:  # a test module: pytest runs it, beside the project's own conftest
        path = REPORT_TESTS if REPORT_TESTS not in index.files else "test_reproduce_issue_pve.py"
        text = _with_plugin_fixtures(script.text, fixtures, notes)
        return Reproduction(kind=ReproKind.PYTEST, target=path, files=[path], test_ids=[path], argv=[path],
                            script=text, derived_from=f"report: test code block {which}")
    return Reproduction(kind=ReproKind.SCRIPT, target=target, files=[target], script=script.text,
                        derived_from=f"report: code block{'s' if len(script.blocks) > 1 else ''} {which}")


def _modules(index: ProjectIndex) -> frozenset[str]:
    """The dotted names of the project's modules inside its packages (``dateutil.parser``)."""
    out: set[str] = set()
    for where in index.packages.values():
        if where.endswith(".py"):
            continue
        base = where.rsplit("/", 1)[0] + "/" if "/" in where else ""
        for path in index.files:
            if path.startswith(where + "/") and path.endswith(".py"):
                out.add(path[len(base):-3].replace("/", ".").removesuffix(".__init__"))
    return frozenset(out) | set(index.packages)


def _project_fixtures(index: ProjectIndex, read: Callable[[str], str]) -> dict[str, str]:
    """The pytest fixtures the project provides to a test written beside it, by name, with the
    module that defines them: those of its pytest plugin modules and of its top-level conftest.py."""
    names: dict[str, str] = {}
    folders = sorted(index.importable_folders(), key=len, reverse=True)
    for path in sorted(index.files):
        if path != "conftest.py" and is_test_path(path):
            continue
        try:
            text = read(path)
        except (FileNotFoundError, OSError, UnicodeDecodeError):
            continue
        if "fixture" not in text:
            continue
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            continue
        rel = next((path[len(f) + 1:] for f in folders if path.startswith(f + "/")), path)
        module = rel[:-3].replace("/", ".").removesuffix(".__init__")
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
                    "fixture" in ast.unparse(d) for d in node.decorator_list):
                names.setdefault(node.name, module)
    return names


def _with_plugin_fixtures(text: str, fixtures: dict[str, str], notes: list[str]) -> str:
    """A report's test uses a fixture of the project's pytest plugin (pyfakefs's ``fs``): import
    it into the test module, so it is there whether or not the plugin's entry point is loaded
    (the project may be imported from its source, not installed)."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return text
    used = {a.arg for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
            for a in n.args.args}
    imports = [f"from {fixtures[name]} import {name}" for name in sorted(used & set(fixtures))
               if fixtures[name] != "conftest" and not fixtures[name].endswith(".conftest")]
    if not imports:
        return text
    notes.append("the report's test uses the project's pytest fixtures: " + "; ".join(imports))
    return "\n".join(imports) + "\n" + text


def _command_reproduction(script: report.Script, target: str, notes: list[str]) -> Reproduction:
    notes.append(f"reproducing with the report's command: {script.notes[0]}")
    notes += script.notes[1:]
    return Reproduction(kind=ReproKind.SCRIPT, target=target, files=[target], script=script.text,
                        derived_from="report: the project's command")


def snippet_reproduction(name: str, argv: list[str] | None = None) -> Reproduction:
    return Reproduction(kind=ReproKind.SCRIPT, target=name, files=[name], snippet=True, editable_defs=True,
                        derived_from="snippet", argv=argv or [])


def _snippet_argv(cmd: str | None, name: str) -> list[str]:
    """The arguments of ``python NAME ARGS...`` (the command a report shows ran the snippet)."""
    if not cmd:
        return []
    try:
        words = commandline.strip_prefix(commandline.split(cmd), (["python"],))
    except CommandError as exc:
        raise BadInput(f"--cmd: {exc}", code=exc.code, problem=str(exc)) from None
    if not words or words[0].replace("\\", "/").rsplit("/", 1)[-1] != name:
        raise BadInput(f"a single .py file runs as `python {name} [ARGS]`; --cmd {cmd!r} runs something else",
                       code="snippet-with-test")
    return words[1:]


def _same_cause(parsed: ParsedLog, test_id: str, failure: Failure) -> bool:
    other = next((f for f in parsed.failures if f.test_id == test_id), None)
    return other is not None and other.exception.type == failure.exception.type


def _pytest_repro(ids: list[str], index: ProjectIndex, origin: str) -> Reproduction:
    """The failing tests a log names (those not in this folder are left out)."""
    mapped: list[str] = []
    files: list[str] = []
    for tid in ids:
        path, sep, rest = tid.partition("::")
        rel = path if path in index.files else index.locate(path) if path.endswith((".py", ".pyw")) else None
        if rel is None:
            continue
        mapped.append(rel + sep + rest)
        if rel not in files:
            files.append(rel)
    if not mapped:
        raise BadInput("the failing tests in the log are not in the project folder",
                       hint="point PVE at the repository root the log came from, or pass --test",
                       code="tests-elsewhere")
    return Reproduction(kind=ReproKind.PYTEST, argv=list(mapped), test_ids=mapped, files=files, derived_from=origin)


def _project_file(path: str, index: ProjectIndex, flag: str) -> str:
    rel = path.removeprefix("./")
    rel = rel if rel in index.files else index.locate(rel) or ""
    if not rel:
        raise BadInput(f"{flag}: {path} is not a file in the project", code="file-not-found", file=path[:200])
    return rel


def _module_file(module: str, index: ProjectIndex) -> str | None:
    base = module.replace(".", "/")
    for folder in ["", *(f + "/" for f in index.importable_folders())]:
        for cand in (f"{folder}{base}.py", f"{folder}{base}/__main__.py"):
            if cand in index.files:
                return cand
    return None
