"""Regression test selection: which of the tests that passed before a candidate's change can
behave differently with it.

The baseline recorded which project functions each test ran (``sandbox/inside/reach.py``). A test
that never entered a function the candidate changes runs exactly the same code with the
candidate, so it passes again; only the others are run again (the safe criterion of
Rothermel and Harrold). A function's identity is its place in the original file (the line of
its ``def``); it is changed when its body is (nested functions' bodies are their own), or it is
gone. Everything executed at import (module and class bodies, decorators, default values,
signatures) is the module's own part: a change there, to a function that ran outside any test's
call (imports, fixtures), or to a file that is not plain Python source the record saw into,
selects every test; so does a record that saw a test start a process or run project code it
could not see (those tests are always selected).

Not covered (said in the README): a test that depends on state an earlier test left (a cache
filled by a call in another test) while not calling the changed function itself.
"""

from __future__ import annotations

import ast
import copy
import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from pve.layout import is_test_path
from pve.models import Reach


@dataclass
class Affected:
    """The tests to run again (None: every test), what changed, and why in words."""

    tests: set[str] | None
    changed: list[str] = field(default_factory=list)  # "path: qualified name" of the changed functions
    why: str = ""


@dataclass
class _Scopes:
    module: str  # what runs at import, with every function's body left out
    functions: dict[str, tuple[int, str]]  # qualified name (#k for a repeat) -> (def line, body)
    bare: str = ""  # the module with every function definition removed (its own code)
    whole: dict[str, str] = field(default_factory=dict)  # qualified name -> the whole definition (decorators, signature, body)


def affected(reach: Reach, read_original: Callable[[str], str], patches: dict[str, str]) -> Affected:
    """The tests (node ids, from ``reach``) that can behave differently with ``patches``."""
    if reach.whole:
        return Affected(None, why="the baseline ran project code it could not see into outside a test")
    index = {name: k for k, name in enumerate(reach.functions)}
    seen = set(reach.files)
    changed: list[int] = []
    names: list[str] = []
    for path, new_text in sorted(patches.items()):
        old_text = _original_text(read_original, path)
        if old_text == new_text:
            continue
        if not path.endswith(".py") or is_test_path(path):
            return Affected(None, why=f"{path} is not a project source module")
        if old_text is None:
            return Affected(None, why=f"{path} is a new file")
        if path not in seen:
            # Never imported by a test (an import by any other loader would have been seen as
            # unseen code): no test ran it.
            continue
        old, new = _scopes(old_text), _scopes(new_text)
        if old is None or new is None:
            return Affected(None, why=f"{path} does not parse")
        if old.module != new.module:
            return Affected(None, why=f"{path} changes what runs at import (module or class level)")
        for qualname, (line, body) in old.functions.items():
            if qualname in new.functions and new.functions[qualname][1] == body:
                continue
            k = index.get(f"{path}:{line}")
            if k is None:
                return Affected(None, why=f"{path}:{line} ({qualname}) is not in the baseline's record")
            changed.append(k)
            names.append(f"{path}: {qualname.split('#')[0]}")
    shared = set(reach.shared).intersection(changed)
    if shared:
        first = reach.functions[min(shared)]
        return Affected(None, names, f"{first} runs outside a test's call (at import or in a fixture)")
    hit = set(changed)
    tests = {t for t, fs in reach.tests.items() if hit.intersection(fs)} | set(reach.spawned)
    return Affected(tests, names)


@functools.lru_cache(maxsize=16)  # the original file again for every candidate that gets this far
def _scopes(text: str) -> _Scopes | None:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    functions: dict[str, tuple[int, str]] = {}

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in _defs(body):
            if isinstance(node, ast.ClassDef):
                visit(node.body, f"{prefix}{node.name}.")
                continue
            name = f"{prefix}{node.name}"
            key, k = name, 1
            while key in functions:
                k += 1
                key = f"{name}#{k}"
            functions[key] = (node.lineno, _dump(node.body))
            whole[key] = ast.dump(node)
            visit(node.body, f"{name}.<locals>.")

    whole: dict[str, str] = {}
    visit(tree.body, "")
    return _Scopes(module=_dump(tree.body), functions=functions, bare=ast.dump(_Drop().visit(copy.deepcopy(tree))),
                   whole=whole)


def _defs(body: list[ast.stmt]) -> list[ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef]:
    """The functions and classes defined in a body, however deep in its ``if``/``try``/``with``
    blocks (not inside another function or class: those are visited from there)."""
    found: list[ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef] = []
    stack = list(reversed(body))
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.append(node)
            continue
        stack.extend(reversed([c for c in ast.iter_child_nodes(node) if isinstance(c, ast.stmt)]))
    return found


class _Stub(ast.NodeTransformer):
    """Every function's body replaced by ``pass``: its signature, decorators and defaults stay
    (they run where the function is defined)."""

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        for part in (*node.decorator_list, node.args, *([node.returns] if node.returns else [])):
            self.visit(part)
        node.body = [ast.Pass()]
        return node

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]


def _dump(body: list[ast.stmt]) -> str:
    module = ast.Module(body=copy.deepcopy(body), type_ignores=[])
    return ast.dump(_Stub().visit(module))


def evidence(reach: Reach, read_original: Callable[[str], str], patches: dict[str, str]) -> dict[str, set[str]]:
    """Every edited part of the code -> the tests (node ids) whose call ran it: a function whose
    body, signature or decorators changed, or a module's own code (run at import: evidenced by
    the tests that ran any function of that module). A new function has no "before" and is
    judged through the edited code that calls it; a file no test imported has no tests at all.
    Each edit needs tests of its own: a harmless change to a well-tested function must not lend
    its tests to an untested one (TRUTH.md, verified)."""
    index = {name: k for k, name in enumerate(reach.functions)}
    out: dict[str, set[str]] = {}
    for path, new_text in sorted(patches.items()):
        old_text = _original_text(read_original, path)
        if old_text == new_text:
            continue
        if old_text is None or not path.endswith(".py"):
            out[f"{path} (not a source module the tests ran)"] = set()
            continue
        old, new = _scopes(old_text), _scopes(new_text)
        if old is None or new is None:
            out[f"{path} (does not parse)"] = set()
            continue
        in_file = {k for name, k in index.items() if name.startswith(f"{path}:")}
        for qualname, dump in old.whole.items():
            if new.whole.get(qualname) == dump:
                continue
            k = index.get(f"{path}:{old.functions[qualname][0]}")
            out[f"{path}: {qualname.split('#')[0]}"] = {t for t, fs in reach.tests.items() if k is not None and k in fs}
        if old.bare != new.bare:
            # Run at import by every test that imports it; evidenced by the tests that ran a
            # function of it, or, for a module of data (sqlparse's keyword tables: no function
            # of its own that a test runs), of a module that imports it and so reads that data.
            ran = in_file | {k for name, k in index.items() if name.split(":", 1)[0] in _importers(path, index, read_original)}
            out[f"{path}: module level"] = {t for t, fs in reach.tests.items() if ran.intersection(fs)}
    return out


def _original_text(read_original: Callable[[str], str], path: str) -> str | None:
    """The file as it was (None: it did not exist, or is not text)."""
    try:
        return read_original(path)
    except (OSError, UnicodeDecodeError):
        return None


def _importers(path: str, index: dict[str, int], read_original: Callable[[str], str]) -> set[str]:
    """The project files (of those whose functions the tests ran) that import ``path``'s module."""
    parts = path[:-3].split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    if parts and parts[0] == "src":
        parts = parts[1:]
    if not parts:
        return set()
    dotted, name, package = ".".join(parts), parts[-1], "/".join(path.split("/")[:-1])
    found = set()
    for other in {n.split(":", 1)[0] for n in index}:
        if other == path:
            continue
        text = _original_text(read_original, other)
        for level, target, names in _imports(text) if text is not None else ():
            same_package = level > 0 and "/".join(other.split("/")[:-1]) == package
            if level < 0:  # a plain "import a.b.c"
                if any(n == dotted or n.startswith(dotted + ".") for n in names):
                    found.add(other)
            elif (level == 0 and (target == dotted or (target + "." + name == dotted and name in names))) or \
                    (same_package and (target == name or (not target and name in names))):
                found.add(other)
    return found


@functools.lru_cache(maxsize=256)  # each candidate's evidence asks again of the same original files
def _imports(text: str) -> tuple[tuple[int, str, frozenset[str]], ...]:
    """A module's imports: (level, module, names); level -1 for ``import a, b.c`` (names: a, b.c)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return ()
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.append((-1, "", frozenset(a.name for a in node.names)))
        elif isinstance(node, ast.ImportFrom):
            out.append((node.level, node.module or "", frozenset(a.name for a in node.names)))
    return tuple(out)


def coverage(parts: dict[str, set[str]], tests: set[str]) -> str:
    """Which of ``tests`` (those that passed before and after) ran which edited part, in words:
    the evidence a verdict rests on."""
    shown = [f"{name} ({len(ran & tests)} test{'s' if len(ran & tests) != 1 else ''})" for name, ran in parts.items()]
    ran = set[str]().union(*parts.values()) & tests if parts else tests
    return (f"{len(ran)} test{'s' if len(ran) != 1 else ''} that ran the edited code passed before and after"
            + (": " + ", ".join(shown) if shown else ""))


class _Drop(ast.NodeTransformer):
    """Every function definition removed: what is left runs at import (the module's own part)."""

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        return None

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]


def described(result: Affected, passed: int, selected: int) -> str:
    """The oracle's scope for one candidate, for the verdict and the proof."""
    if result.tests is None:
        return f"all {passed} tests that passed before" + (f" ({result.why})" if result.why else "")
    what = ", ".join(dict.fromkeys(result.changed)) or "nothing any test ran"
    return (f"{selected} of {passed} tests that passed before run the changed code ({_short(what)}); the other "
            f"{passed - selected} never entered it and cannot behave differently")


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
