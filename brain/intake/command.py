"""A bug report whose failure came from the project's own command-line tool: the command as the
reproduction.

Reports of linters, formatters and converters rarely hold code that calls the library. They hold
the input the tool choked on (a Python block, a CSV, a TOML file), the command that was run
(``pylint crash.py``, ``pyupgrade --py36-plus t.py``, ``python -m pycodestyle t2.py``) and the
traceback. A maintainer reproduces them by writing the input to the named file and running the
command; so does this module, without a model:

* the project's console scripts come from its declarations (``[project.scripts]``, Poetry's
  scripts, ``setup.cfg``'s and ``setup.py``'s ``console_scripts``); ``python -m pkg`` runs a
  module of the project;
* the command is the one the report shows (a shell block, a ``$``-prompted line, inline code),
  else the console script the traceback's entry frame names (``…/bin/pyupgrade``) with the
  options the report mentions, else the project's own tool when the report's code is input for
  it (a traceback that came through another program, such as flake8 running pyflakes);
* input files are written from the report's blocks: the block the report names the file for,
  the content a shell line writes (``echo "…" > example.py``), or the single block in the file's
  format;
* the script runs the tool in a fresh folder with that ``sys.argv``. Its exit status is its
  verdict on the input, not the bug; a crash the tool catches and prints (a linter's crash
  report, a logged error) is raised again as the exception the report shows.

Pure: text in, a script's text out. The reproduction still counts only once it has failed as
reported in the sandbox."""

from __future__ import annotations

import configparser
import re
import shlex
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field

from brain.intake.blocks import Block, blocks
from brain.intake.files import (
    FORMATS,
    PROMPT,
    SHELL_LANGS,
    block_for_file,
    parses,
    written_by_shell,
)
from brain.intake.report import Script, Unusable
from pve.models import Failure

_INLINE = re.compile(r"`([^`\n]{1,500})`")
_LONGEST = 500  # a command line is short; longer lines are never matched (the regexes stay linear)
_ENTRY = re.compile(r"(?:^|[/\\])(?:bin|Scripts)[/\\]([\w.-]+?)(?:\.exe|-script\.py)?$")


@dataclass
class Tool:
    """A command the project ships: ``pylint`` runs ``pylint:run_pylint``."""

    name: str
    target: str  # "module:attr" for a console script, "module" for ``python -m module``
    module: bool = False


@dataclass
class Command:
    """The command that failed, as the report shows it (or as PVE put it together)."""

    tool: Tool
    args: list[str]
    how: str  # in words: where the command came from
    assembled: bool = False  # put together from the traceback, not shown whole by the report
    stdin: str | None = None  # a file whose content is piped in
    files: dict[str, str] = field(default_factory=dict)  # name -> content (written before running)
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- the project's tools


def console_scripts(read: Callable[[str], str]) -> dict[str, str]:
    """The project's console scripts by name (``{"pylint": "pylint:run_pylint"}``), from every
    declaration that names them."""
    found: dict[str, str] = {}
    text = _read(read, "pyproject.toml")
    if text:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            data = {}
        project = data.get("project") or {}
        poetry = (data.get("tool") or {}).get("poetry") or {}
        for table in (project.get("scripts"), (project.get("entry-points") or {}).get("console_scripts"),
                      poetry.get("scripts")):
            if isinstance(table, dict):
                found.update({k: v for k, v in table.items() if isinstance(v, str) and ":" in v})
    text = _read(read, "setup.cfg")
    if text:
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read_string(text)
            entries = parser.get("options.entry_points", "console_scripts", fallback="")
        except configparser.Error:
            entries = ""
        found.update(_entry_lines(entries))
    text = _read(read, "setup.py")
    if text and "console_scripts" in text:
        found.update(_entry_lines("\n".join(re.findall(r"""['"]([^'"\n]+=[^'"\n]+:[^'"\n]+)['"]""", text))))
    return found


def _entry_lines(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        m = re.match(r"^\s*([\w.-]+)\s*=\s*([\w.]+:[\w.]+)", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def _read(read: Callable[[str], str], path: str) -> str:
    try:
        return read(path)
    except (FileNotFoundError, OSError, UnicodeDecodeError):
        return ""


def tools(read: Callable[[str], str], modules: dict[str, str]) -> dict[str, Tool]:
    """Every command of the project: console scripts, and ``python -m`` for its modules that can
    run as a program (a package with ``__main__.py``, a module with a ``__main__`` guard)."""
    out = {name: Tool(name, target) for name, target in console_scripts(read).items()}
    for name, where in modules.items():
        main = f"{where}/__main__.py" if not where.endswith(".py") else where
        text = _read(read, main)
        if text and (not where.endswith(".py") or "__main__" in text):
            out.setdefault(f"-m {name}", Tool(name, name, module=True))
    return out


# --------------------------------------------------------------------------- the command


def command_from_report(report: str, failure: Failure, project_tools: dict[str, Tool]) -> Command | None:
    """The command the report shows (or its traceback names) that runs one of the project's
    tools; None when the report shows none. Raises Unusable when it does, but its input is not
    in the report."""
    if not project_tools:
        return None
    shown = _shown_command(report, project_tools)
    if shown is None:
        entry = _entry_tool(failure, project_tools)
        if entry is None:
            return None
        args = _mentioned_options(report, entry)
        shown = Command(entry, args, f"the traceback's entry frame runs {entry.name}"
                        + (f"; with the option{'s' if len(args) > 1 else ''} the report mentions "
                           f"({' '.join(args)})" if args else ""), assembled=True)
    return _with_inputs(shown, report)


def command_for_input(report: str, project_tools: dict[str, Tool], names: set[str], failure: Failure,
                      declared: Callable[[str], bool]) -> Command | None:
    """A tool run on the report's code, when the report's code is input, not a caller: the
    project's own (the one named like the project, or its only one: flake8 ran pyflakes, so
    pyflakes runs it), else the program the traceback came through when the project declares it
    among its requirements (pylint, running astroid's inference on the report's code)."""
    # Console scripts only: a package's ``python -m`` interface may take anything but a file.
    scripts = [t for t in project_tools.values() if not t.module]
    own = {_norm(n) for n in names}  # the project's import names
    named = [t for t in scripts if _norm(t.name) in own]
    tool = named[0] if named else (scripts[0] if len(scripts) == 1 else None)
    program = None if tool is not None else _program_of(failure, declared, report, names)
    tool = tool or program
    if tool is None:
        return None
    all_blocks = [b for b in blocks(report) if b.kind in ("code", "other") and b.text.strip()]
    inputs, name = [b for b in all_blocks if b.lang in FORMATS[".py"] and parses(b.text)], "t.py"
    if not inputs:  # input in another format the report labels (a Markdown or TOML document)
        typed = [(b, suffix) for b in all_blocks for suffix, langs in FORMATS.items()
                 if b.lang and b.lang in langs and suffix not in (".py", ".pyi", ".txt")]
        inputs, name = ([typed[0][0]], "t" + typed[0][1]) if len({b.number for b, _ in typed}) == 1 else ([], "")
    if len(inputs) != 1:
        return None
    whose = f"{tool.name}, which the traceback came through and the project requires" if program else \
        f"the project's tool, {_display(tool, [])}"
    cmd = Command(tool, [name], f"the report's {'code' if name == 't.py' else 'document'} is input, not a caller: "
                                f"run with {whose}")
    cmd.files[name] = _block_text(inputs[0])
    cmd.notes.append(f"wrote {name} from code block {inputs[0].number}")
    return cmd


def _program_of(failure: Failure, declared: Callable[[str], bool], report: str = "",
                names: set[str] | frozenset[str] = frozenset()) -> Tool | None:
    """The program whose frames come before the project's in the traceback (``pylint/pylint/…``,
    ``…/site-packages/flake8/…``), as ``python -m program``, when the project requires it; also
    from the report's other tracebacks (a chain's later link, cut short) when the failure's own
    frames are all the project's."""
    files = []
    for f in failure.exception.frames:
        if f.project_path:
            break
        files.append(f.file)
    files += [m.group(1) for m in re.finditer(r'^\s*File "([^"\n]{1,400})", line \d+', report[:200_000], re.M)]
    for file in files:
        package = _package_of(file)
        if package and package not in names and declared(package):
            return Tool(package, package, module=True)
    return None


def _package_of(file: str) -> str:
    """The top-level package a traceback's file belongs to, where its path says (an installed
    copy's ``site-packages/<pkg>/``, a checkout's ``<pkg>/<pkg>/``)."""
    parts = [p for p in re.split(r"[/\\]", file) if p not in ("", ".", "..", "…", "...")]
    at = next((k for k, p in enumerate(parts) if p in ("site-packages", "dist-packages")), None)
    package = parts[at + 1] if at is not None and at + 2 < len(parts) else \
        parts[0] if len(parts) > 2 and parts[0] == parts[1] else ""
    return package if package.isidentifier() else ""


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _shown_command(report: str, project_tools: dict[str, Tool]) -> Command | None:
    for line, where in _command_lines(report):
        cmd = _parse_command(line, project_tools)
        if cmd is not None:
            cmd.how = f"the report's command ({where}): {_display(cmd.tool, cmd.args)}"
            return cmd
    return None


def _command_lines(report: str) -> list[tuple[str, str]]:
    """Candidate command lines: lines of shell-like blocks (prompted or not), then prompted
    lines anywhere, then inline code spans, in the report's order within each kind."""
    out: list[tuple[str, str]] = []
    for b in blocks(report):
        if b.kind == "repl" or b.lang not in SHELL_LANGS:
            continue
        for line in b.text.split("\n"):
            if line.strip() and len(line) <= _LONGEST and not line.lstrip().startswith(("Traceback", "File ")):
                out.append((line, f"block {b.number}"))
    for line in report.split("\n"):
        if len(line) > _LONGEST:
            continue
        m = PROMPT.match(line.lstrip("> "))
        if m:
            out.append((line.lstrip("> "), "a prompted line"))
    for m in _INLINE.finditer(report):
        out.append((m.group(1), "inline code"))
    return out


def _parse_command(line: str, project_tools: dict[str, Tool]) -> Command | None:
    if len(line) > _LONGEST:
        return None
    text = PROMPT.sub("", line, count=1).strip()
    if not text:
        return None
    stdin = None
    redirect = re.search(r"\s<\s*(\S+)\s*$", text)
    if redirect:
        stdin, text = redirect.group(1), text[:redirect.start()]
    pipe = re.match(r"^(?:cat|type)\s+(\S+)\s*\|\s*(.+)$", text)
    if pipe:
        stdin, text = pipe.group(1), pipe.group(2)
    text = re.split(r"\s(?:\||&&|;|2>&1|>\s*\S)", text)[0]
    try:
        argv = shlex.split(text)
    except ValueError:
        return None
    while argv and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", argv[0]):  # FOO=1 tool …
        argv = argv[1:]
    if argv[:2] in (["uv", "run"], ["poetry", "run"], ["pipx", "run"], ["pdm", "run"], ["hatch", "run"]):
        argv = argv[2:]
    if not argv:
        return None
    head = re.split(r"[/\\]", argv[0])[-1]
    if re.match(r"^python(?:\d(?:\.\d+)?)?(?:\.exe)?$|^py$", head):
        rest = argv[1:]
        while rest[:1] and rest[0].startswith("-") and rest[0] != "-m":
            rest = rest[1:]
        if rest[:1] == ["-m"] and len(rest) >= 2:
            tool = project_tools.get(f"-m {rest[1]}")
            if tool is None:
                tool = next((t for t in project_tools.values() if not t.module and t.name == rest[1]), None)
            if tool is not None:
                return Command(tool, rest[2:], "", stdin=stdin)
        return None
    tool = project_tools.get(head)
    if tool is None or tool.module:
        return None
    return Command(tool, argv[1:], "", stdin=stdin)


def _entry_tool(failure: Failure, project_tools: dict[str, Tool]) -> Tool | None:
    """The tool whose console script the traceback starts in (``…/bin/pyupgrade``, line 10, in
    <module>), or whose ``__main__`` it runs."""
    frames = failure.exception.frames
    for f in frames[:3]:
        m = _ENTRY.search(f.file.replace("\\", "/"))
        if m and m.group(1) in project_tools and f.function in (None, "<module>"):
            return project_tools[m.group(1)]
        if f.function == "<module>" and f.project_path and f.project_path.endswith("__main__.py"):
            package = f.project_path.rsplit("/", 2)[-2]
            tool = project_tools.get(f"-m {package}")
            if tool is not None:
                return tool
    return None


def _mentioned_options(report: str, tool: Tool) -> list[str]:
    """Options the report mentions in inline code (``--py3-plus``), for a command it does not
    show whole; and a file argument to run them on."""
    options: list[str] = []
    for m in _INLINE.finditer(report):
        word = m.group(1).strip()
        if re.match(r"^--?[A-Za-z][\w-]*(?:=\S+)?$", word) and word not in options:
            options.append(word)
    return [*options, "t.py"]


# --------------------------------------------------------------------------- its inputs


def _with_inputs(cmd: Command, report: str) -> Command:
    """The files the command reads, written from the report's blocks; Unusable when a file it
    names is not in the report."""
    all_blocks = blocks(report)
    written = written_by_shell(report)
    used: set[int] = set()
    names = [a for a in cmd.args if _looks_like_file(a)]
    if cmd.stdin:
        names.append(cmd.stdin)
    variables = sorted({v for a in cmd.args for v in re.findall(r"\$\{?(\w+)", a)})
    if variables:
        raise Unusable(f"the report's command uses shell variables (${', $'.join(variables)}) whose values it "
                       "does not show")
    # A path of the reporter's machine (/home/u/proj/t.py, ..\\x.py, C:\\t.py): the file by its
    # base name in the fresh folder the command runs in, and the command rewritten to match.
    moved = {n: re.split(r"[/\\]", n)[-1] for n in names
             if n.startswith(("/", "\\", "~")) or ".." in re.split(r"[/\\]", n) or ":" in n}
    if moved:
        cmd.args = [moved.get(a, a) for a in cmd.args]
        cmd.stdin = moved.get(cmd.stdin, cmd.stdin) if cmd.stdin else None
        names = [moved.get(n, n) for n in names]
        cmd.notes.append("ran on " + ", ".join(f"{b} (the report's {a})" for a, b in moved.items()))
        written = {**written, **{moved[k]: v for k, v in written.items() if k in moved}}
    for name in names:
        if name in cmd.files:
            continue
        if name in written:
            cmd.files[name] = written[name]
            cmd.notes.append(f"wrote {name} as the report's shell line does")
            continue
        block = block_for_file(name, all_blocks, report, used)
        if block is None and cmd.assembled:
            raise Unusable(f"the traceback comes from the project's {cmd.tool.name}, and the report shows no "
                           "input for it (the file it ran on)")
        if block is None:
            raise Unusable(f"the report's command reads {name}, and the report does not show its content")
        used.add(block.number)
        cmd.files[name] = _block_text(block)
        cmd.notes.append(f"wrote {name} from code block {block.number}")
    return cmd


def _looks_like_file(arg: str) -> bool:
    if arg.startswith("-") or arg in (".", "..") or arg.endswith(("/", "\\")):
        return False
    return bool(re.search(r"\.[A-Za-z0-9]{1,5}$", arg)) and not re.match(r"^\w+://", arg)


def _block_text(block: Block) -> str:
    return block.text if block.text.endswith("\n") else block.text + "\n"


# --------------------------------------------------------------------------- the script


def _display(tool: Tool, args: list[str]) -> str:
    head = ["python", "-m", tool.target] if tool.module else [tool.name]
    return shlex.join([*head, *args])


def _printable(text: str) -> str:
    """Report text for a comment line: no control character can start a line of code."""
    return re.sub(r"[\x00-\x1f\x7f\u2028\u2029\x85]", "?", text)


def script(cmd: Command, failure: Failure) -> Script:
    """The reproduction: the command, run in a fresh folder holding its input files."""
    shown, how = _printable(_display(cmd.tool, cmd.args)), _printable(cmd.how)  # (report text, in comment lines)
    text = f'''# Written by PVE from the report: {shown}
# ({how}), run in a fresh folder with the files the report shows. The tool's exit status is
# its verdict on the input, not the bug; a crash it catches and prints is raised again here, and
# a command line it refuses (argparse's or click's usage error) fails the run.
''' + _WATCH + _run(cmd) + _reraise(failure)
    return Script(text=text, blocks=[], notes=[cmd.how, *cmd.notes])


# What the script does before the tool runs: it notes every exception a traceback is printed for
# (a crash the tool catches and prints), and turns argparse's and click's usage errors into a
# failure of the run.
_WATCH = '''import os as _pve_os, sys as _pve_sys, tempfile as _pve_tempfile, traceback as _pve_traceback

_pve_shown = []
_pve_init = _pve_traceback.TracebackException.__init__


def _pve_watch(self, exc_type, exc_value, exc_tb, *args, _seen=None, **kwargs):
    if _seen is None and isinstance(exc_value, Exception):  # a crash shown, not one it chains to
        _pve_shown.append(exc_value)
    _pve_init(self, exc_type, exc_value, exc_tb, *args, _seen=_seen, **kwargs)


_pve_traceback.TracebackException.__init__ = _pve_watch


class _PVERejected(BaseException):  # not an Exception: a tool's "except Exception" cannot swallow it
    pass


def _pve_reject(self, message):  # argparse's error(): the tool refused its command line
    raise _PVERejected(message)


import argparse as _pve_argparse  # noqa: E402
_pve_argparse.ArgumentParser.error = _pve_reject
try:
    import click.exceptions as _pve_click  # noqa: E402
    _pve_click_init = _pve_click.UsageError.__init__

    def _pve_click_usage(self, message, *args, **kwargs):
        _pve_init_args = (message, *args)
        _pve_click_init(self, *_pve_init_args, **kwargs)
        raise _PVERejected(message)
    _pve_click.UsageError.__init__ = _pve_click_usage
except ImportError:
    pass
'''


def _tool_call(tool: Tool) -> str:
    """The statements that run the tool (indented for the script's ``try:``)."""
    if tool.module:
        return (f"import runpy as _pve_runpy\n"
                f"    _pve_runpy.run_module({tool.target!r}, run_name='__main__', alter_sys=True)")
    module, _, attr = tool.target.partition(":")
    return (f"import importlib as _pve_importlib\n"
            f"    _pve_main = _pve_importlib.import_module({module.strip()!r})\n"
            f"    for _pve_part in {attr.strip()!r}.split('.'):\n"
            f"        _pve_main = getattr(_pve_main, _pve_part)\n"
            f"    _pve_main()")


def _run(cmd: Command) -> str:
    """The input files written in a fresh folder, then the tool run there with the command's argv."""
    tool = cmd.tool
    call = _tool_call(tool)
    argv0 = tool.target if tool.module else tool.name
    stdin = (f"_pve_sys.stdin = open({cmd.stdin!r}, encoding='utf-8')\n" if cmd.stdin else "")
    return f'''_pve_here = _pve_tempfile.mkdtemp(prefix="pve-report-")
for _pve_name, _pve_text in {cmd.files!r}.items():
    _pve_path = _pve_os.path.join(_pve_here, _pve_name)
    _pve_os.makedirs(_pve_os.path.dirname(_pve_path), exist_ok=True)
    with open(_pve_path, "w", encoding="utf-8") as _pve_file:
        _pve_file.write(_pve_text)
_pve_os.chdir(_pve_here)
{stdin}_pve_sys.argv = {[argv0, *cmd.args]!r}
try:
    {call}
except SystemExit:
    pass
except _PVERejected as _pve_why:
    # A run that never reached the input proves nothing: the command line must still be accepted.
    raise RuntimeError(f"the tool rejected the report's command line: {{_pve_why}}") from None
'''


def _reraise(failure: Failure) -> str:
    """The reported exception raised again when the tool caught and printed it."""
    return f'''_pve_traceback.TracebackException.__init__ = _pve_init
if _pve_shown:
    # the reported exception may be a link of a shown chain (pylint wraps a crash in AstroidError)
    _pve_links = []
    for _pve_exc in _pve_shown:
        while _pve_exc is not None and _pve_exc not in _pve_links:
            _pve_links.append(_pve_exc)
            _pve_exc = _pve_exc.__cause__ or _pve_exc.__context__
    _pve_reported = [e for e in _pve_links if type(e).__name__ == {failure.exception.type.rsplit(".", 1)[-1]!r}]
    raise (_pve_reported or _pve_shown)[-1]
'''
