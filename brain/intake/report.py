"""A bug report as a reproduction: the code a reporter pasted beside their traceback.

Most bug reports on GitHub are a few sentences, a code block that calls the library, and the
traceback from the reporter's machine. This module takes the report's code blocks (fenced,
indented, REPL transcripts with ``>>>`` or IPython prompts; read in ``blocks``), picks the one
that plausibly produced the traceback, and makes it runnable the way a careful maintainer would: code from
earlier blocks it relies on, a missing import of the library, the answers to ``input()`` the
report shows. When no block will do, it says why in words for the report's author.

Pure: text in, a script's text out. Nothing here runs the code; the sandbox does, and the
reproduction must then fail as reported like every reproduction.
"""

from __future__ import annotations

import ast
import builtins
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from brain.intake.blocks import Block, as_python3, blocks
from brain.intake.files import block_for_file
from brain.stdlib_names import FROM_IMPORTS, safe_module
from pve.models import Failure

# (Block, blocks and as_python3 are read in ``blocks``; callers may still import them from here.)
__all__ = ["Block", "Script", "Unusable", "as_python3", "blocks", "frames_script", "package_exports",
           "reproduction_script"]

_INPUT_NAMES = {"input", "raw_input"}


@dataclass
class Script:
    """A reproduction written from the report, and how it was made."""

    text: str
    blocks: list[int]  # the report's blocks it came from
    notes: list[str] = field(default_factory=list)  # what was added, in words
    tests: bool = False  # the block is a test module (pytest runs it), not a script


class Unusable(ValueError):
    """The report has code, but none that can reproduce the failure; the message says why."""


# --------------------------------------------------------------------------- picking a block


def reproduction_script(report: str, failure: Failure, import_names: dict[str, str],
                        exports: Callable[[str], set[str]], fixtures: frozenset[str] = frozenset(),
                        modules: frozenset[str] = frozenset()) -> Script | None:
    """The script that reproduces ``failure`` from the report's code blocks; None when the
    report has no Python code block at all. Raises Unusable when it has some, but none will do.

    ``import_names``: the project's top-level import names (``{"tablekit": "src/tablekit"}``);
    ``exports(name)``: the names package ``name`` exports at its top level (read from its source);
    ``fixtures``: the pytest fixtures the project provides (a pytest plugin's ``fs``);
    ``modules``: the project's modules by dotted name (``dateutil.parser``)."""
    candidates = [b for b in blocks(report) if b.kind in ("code", "repl") and b.code.strip()]
    if not candidates:
        return None
    scored = [(_score(b, failure, import_names, fixtures), b) for b in candidates]
    best_score = max(score for score, _ in scored)
    if best_score <= 0:
        raise Unusable("none of the report's code blocks uses the project or matches the traceback's code")
    chosen = next(b for score, b in scored if score == best_score)
    notes: list[str] = []
    try:
        tree = ast.parse(chosen.code)
    except SyntaxError as exc:
        raise Unusable(f"code block {chosen.number} is not valid Python ({exc.msg}, line {exc.lineno})") from None
    used = [chosen.number]
    text = chosen.code
    if chosen.py2:
        notes.append(f"code block {chosen.number} is Python 2 (print statements, except X, e): read as Python 3")
    missing = _unbound(tree)
    # Earlier blocks the chosen one relies on ("first I build the table, then …").
    earlier: list[Block] = []
    for b in candidates:
        if b.number >= chosen.number or not missing:
            continue
        try:
            binds = _binds(ast.parse(b.code))
        except SyntaxError:
            continue
        if binds & missing:
            earlier.append(b)
            missing -= binds
    if earlier:
        text = "\n\n".join([*(b.code for b in earlier), text])
        used = [*(b.number for b in earlier), *used]
        notes.append(f"code block {chosen.number} uses names from block"
                     f"{'s' if len(earlier) > 1 else ''} {', '.join(str(b.number) for b in earlier)}: run together")
    imports = _missing_imports(missing, import_names, exports)
    if imports:
        text = "\n".join(imports) + "\n" + text
        notes.append("added " + "; ".join(imports) + " (the report's code uses it without importing it)")
    stdlib = _stdlib_imports(missing - {n for line in imports for n in re.findall(r"\w+", line)})
    if stdlib:
        text = "\n".join(stdlib) + "\n" + text
        notes.append("added " + "; ".join(stdlib) + " (standard library; the report's code uses it without importing it)")
    text = _files_from_blocks(text, report, chosen, notes)
    submodules = _unimported_submodules(ast.parse(text), modules)
    if submodules:
        lines = [f"import {m}" for m in submodules]
        text = "\n".join(lines) + "\n" + text
        notes.append("added " + "; ".join(lines) + " (the report's code reaches the submodule through its package; "
                     "the reporter's session had it loaded)")
    text = _answer_inputs(text, report, notes)
    tests = _is_test_module(tree)
    if tests:
        notes.append(f"code block {chosen.number} is a test module: pytest runs it")
    return Script(text=text.rstrip("\n") + "\n", blocks=used, notes=notes, tests=tests)


# Frames whose code is the reporter's own top level: a REPL, a notebook cell, a script not shown.
_TOP_FILES = re.compile(r"^<(?:stdin|string|python-input-\d+|ipython-input-[^>]*)>$")


def frames_script(report: str, failure: Failure, import_names: dict[str, str], exports: Callable[[str], set[str]],
                  modules: frozenset[str] = frozenset()) -> Script | None:
    """A reproduction from the traceback's own lines, when the report has no code to run: the
    call its outermost frame shows (a ``<stdin>``/notebook cell/script line, outside the
    project), with the project imported and the one name it needs taken from the report's
    one data block (a dict, list or string literal, or JSON). None when the frames show no
    such call; Unusable when they do but it needs what the report does not show."""
    outer = next((f for f in failure.exception.frames if f.project_path is None and f.code
                  and (f.function in (None, "<module>") or _TOP_FILES.match(f.file))), None)
    if outer is None or not outer.code:
        return None
    line = outer.code.strip()
    try:
        tree = ast.parse(line)
    except SyntaxError:
        return None  # a line of a longer statement: not runnable alone
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    if not calls:
        return None
    missing = _unbound(tree)
    imports = _missing_imports(missing, import_names, exports)
    provided = {n for line_ in imports for n in re.findall(r"\w+", line_)}
    rest = sorted(missing - provided - {n for n in missing if n in sys.stdlib_module_names})
    notes = [f"no code block to run: the reproduction is the traceback's own line `{line}` "
             f"({outer.file}, line {outer.line})"]
    text = line + "\n"
    if rest:
        data = [b for b in blocks(report) if b.text.strip() and _literal(b.text) is not None]
        if len(rest) != 1 or len(data) != 1:
            names = ", ".join(rest)
            raise Unusable(f"the traceback's line `{line}` uses {names}, and the report does not show "
                           f"{'its value' if len(rest) == 1 else 'their values'}")
        text = f"{rest[0]} = {_literal(data[0].text)!r}\n{text}"
        notes.append(f"{rest[0]} is the data of code block {data[0].number} (the only value the report shows)")
    stdlib = _stdlib_imports(missing & set(sys.stdlib_module_names))
    head = [*imports, *stdlib]
    if head:
        text = "\n".join(head) + "\n" + text
        notes.append("added " + "; ".join(head))
    submodules = _unimported_submodules(ast.parse(text), modules)
    if submodules:
        text = "".join(f"import {m}\n" for m in submodules) + text
        notes.append("added " + "; ".join(f"import {m}" for m in submodules))
    return Script(text=text, blocks=[], notes=notes)


def _literal(text: str) -> object | None:
    """The value of a block that is only data: a Python literal or JSON (None otherwise)."""
    import json

    body = text.strip()
    try:
        return ast.literal_eval(body)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def _unimported_submodules(tree: ast.Module, modules: frozenset[str]) -> list[str]:
    """``pkg.sub`` of the project that the code reads as an attribute (``dateutil.parser.parse``)
    after only ``import pkg``: a package does not load its submodules by itself."""
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {f"{n.module}.{a.name}" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
                 for a in n.names}
    found: list[str] = []
    for n in ast.walk(tree):
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id in imported:
            name = f"{n.value.id}.{n.attr}"
            if name in modules and name not in imported and name not in found:
                found.append(name)
    return sorted(found)


def _test_functions(tree: ast.Module) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    out: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
            out.append(node)
        elif isinstance(node, ast.ClassDef) and (node.name.startswith("Test") or any(
                (b.attr if isinstance(b, ast.Attribute) else getattr(b, "id", "")).endswith("TestCase") for b in node.bases)):
            out += [f for f in node.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                    and f.name.startswith("test")]
    return out


def _is_test_module(tree: ast.Module) -> bool:
    """A block of tests the reporter ran with pytest (or unittest): it defines tests and does
    not call them itself (run as a script, it would do nothing and pass)."""
    tests = _test_functions(tree)
    if not tests:
        return False
    names = {t.name for t in tests}
    top_calls = {n.func.id for stmt in tree.body if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                                           ast.ClassDef, ast.If))
                 for n in ast.walk(stmt) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    return not (names & top_calls)


def _score(block: Block, failure: Failure, import_names: dict[str, str],
           fixtures: frozenset[str] = frozenset()) -> int:
    """How plausibly this block produced the traceback: it holds the code of the traceback's
    frames outside the project (the reporter's own script), imports the project, calls the
    functions the traceback runs through."""
    code = block.code
    # (as written, too: a Python 2 block's frames show ``print x``, its code ``print(x)``)
    flat = {" ".join(x.split()) for x in f"{code}\n{block.text}".split("\n") if x.strip()}
    score = 0
    frames = failure.exception.frames
    for f in frames:
        if f.project_path is None and f.code and " ".join(f.code.split()) in flat:
            score += 3
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return score
    imported = _imported_modules(tree)
    if imported & set(import_names):
        score += 2
    elif fixtures and any(a.arg in fixtures for t in _test_functions(tree) for a in t.args.args):
        score += 2  # its tests use the project through a fixture the project's pytest plugin provides
        imported = imported | set(import_names)
    called = {n.attr if isinstance(n, ast.Attribute) else n.id for n in ast.walk(tree)
              if isinstance(n, (ast.Attribute, ast.Name))}
    if any(f.function in called for f in frames if f.project_path and f.function):
        score += 1
    if not imported & set(import_names) and score < 3:
        return 0  # neither the project nor the traceback's own code: not this report's reproduction
    return score


def _imported_modules(tree: ast.AST) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


def _binds(tree: ast.Module) -> set[str]:
    """Names a module binds at its top level (assignments, defs, imports, loops, with)."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            out.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            out |= {(a.asname or a.name).split(".")[0] for a in node.names if a.name != "*"}
    return out


def _unbound(tree: ast.Module) -> set[str]:
    """Names the code reads but never binds, that are not builtins: what it needs from elsewhere."""
    bound = _binds(tree)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            args = node.args
            bound |= {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
            bound |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, ast.comprehension):
            bound |= {n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}
    loaded = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return {name for name in loaded - bound if not hasattr(builtins, name) and name != "__file__"}


# Names reporters use from the standard library without importing them (their session had):
# the offline engine's table, and a few more that snippets use.
_STDLIB_NAMES = {**FROM_IMPORTS, "shuffle": "random", "uniform": "random", "sample": "random", "timezone": "datetime",
                 "PurePath": "pathlib", "islice": "itertools", "product": "itertools", "StringIO": "io",
                 "BytesIO": "io", "Enum": "enum", "IntEnum": "enum", "UUID": "uuid", "uuid4": "uuid",
                 "List": "typing", "Dict": "typing", "Union": "typing", "NamedTuple": "typing",
                 "TypedDict": "typing", "Mapping": "collections.abc", "Sequence": "collections.abc", "nan": "math",
                 "deepcopy": "copy"}


def _stdlib_imports(missing: set[str]) -> list[str]:
    """Imports for standard-library names and modules the code uses without importing them."""
    modules = sorted(n for n in missing if safe_module(n))
    lines = [f"import {m}" for m in modules]
    by_module: dict[str, list[str]] = {}
    for name in sorted(missing - set(modules)):
        if name in _STDLIB_NAMES:
            by_module.setdefault(_STDLIB_NAMES[name], []).append(name)
    lines += [f"from {m} import {', '.join(names)}" for m, names in sorted(by_module.items())]
    return lines


# open("deps.toml") / Path("x.json").read_text() / load("x.csv"): a file the code reads by name
_OPENED = re.compile(r"""(?:open|Path|read_text|read_bytes|load|loads?_file|from_file|read_csv|parse_file)\(\s*[rbfu]?['"]([^'"\n]+\.\w{1,5})['"]""")


def _files_from_blocks(text: str, report: str, chosen: Block, notes: list[str]) -> str:
    """Files the code reads by a relative name, written from the report's other blocks when the
    report names the block for it or one block alone is in the file's format."""
    wanted = [m for m in dict.fromkeys(_OPENED.findall(text)) if not m.startswith(("/", "~", "\\")) and ":" not in m
              and ".." not in re.split(r"[/\\]", m)]  # only files beside the code (the sandbox's own folder)
    if not wanted:
        return text
    files: dict[str, str] = {}
    others = [b for b in blocks(report) if b.number != chosen.number]
    for name in wanted:
        block = block_for_file(name, others, report)
        if block is not None:
            files[name] = block.text if block.text.endswith("\n") else block.text + "\n"
            notes.append(f"wrote {name} from code block {block.number} (the code reads it)")
    if not files:
        return text
    writer = "".join(f"open({n!r}, 'w', encoding='utf-8').write({c!r})\n" for n, c in files.items())
    return f"import os as _pve_os, tempfile as _pve_tempfile\n_pve_os.chdir(_pve_tempfile.mkdtemp(prefix='pve-report-'))\n" \
           f"{writer}{text}"


def _missing_imports(missing: set[str], import_names: dict[str, str],
                     exports: Callable[[str], set[str]]) -> list[str]:
    """``import tablekit`` for the library itself; ``from tablekit import Table`` for a name the
    library exports at its top level (what its README's examples import)."""
    lines: list[str] = []
    for name in sorted(missing & set(import_names)):
        lines.append(f"import {name}")
    rest = missing - set(import_names)
    for package in sorted(import_names):
        if not rest:
            break
        offered = sorted(rest & exports(package))
        if offered:
            lines.append(f"from {package} import {', '.join(offered)}")
            rest -= set(offered)
    return lines


def _answer_inputs(text: str, report: str, notes: list[str]) -> str:
    """``input()`` in the reporter's code: what they typed, when the report shows it after the
    prompt (``Enter a number: abc``); otherwise the block cannot run unattended."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return text
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
             and n.func.id in _INPUT_NAMES]
    if not calls:
        return text
    calls.sort(key=lambda c: (c.lineno, c.col_offset))
    answers: list[str] = []
    for call in calls:
        prompt = call.args[0].value if call.args and isinstance(call.args[0], ast.Constant) \
            and isinstance(call.args[0].value, str) else None
        typed = _typed_after(prompt, report) if prompt and prompt.strip() else None
        if typed is None:
            what = f"input({prompt!r})" if prompt else "input()"
            raise Unusable(f"the report's code reads {what}, and the report does not show what was typed "
                           f"(paste the session's output, or replace the input() with the value)")
        answers.append(typed)
    notes.append("fed input() what the report shows was typed: " + ", ".join(repr(a) for a in answers))
    feed = "\n".join(answers) + "\n"
    return f"import io as _pve_io, sys as _pve_sys; _pve_sys.stdin = _pve_io.StringIO({feed!r})\n{text}"


def _typed_after(prompt: str, report: str) -> str | None:
    """What follows ``prompt`` on a line of the report's output (not in its code)."""
    for line in report.split("\n"):
        at = line.find(prompt)
        if at < 0 or "input(" in line:
            continue
        typed = line[at + len(prompt):].strip()
        if typed:
            return typed
    return None


def package_exports(source: str) -> set[str]:
    """The names a package's ``__init__.py`` binds at its top level (``__all__`` when given)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets) \
                and isinstance(node.value, (ast.List, ast.Tuple)):
            return {e.value for e in node.value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
    out: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, ast.Assign):
            out |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.ImportFrom):
            out |= {a.asname or a.name for a in node.names if a.name != "*"}
    return {n for n in out if not n.startswith("_")}
