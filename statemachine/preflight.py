"""Step 4, preflight: static checks a candidate must pass before it may run.

These catch the shortcuts that make a reproduction "pass" without fixing anything (see
ARCHITECTURE.md, "what verified means", rule 4). They compare the candidate's AST with the
original's; nothing is executed.
"""

from __future__ import annotations

import ast
import fnmatch
import functools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from pve.layout import is_test_path
from pve.models import Analysis, Candidate, FileEdit, Preflight, Reproduction
from statemachine.shortcuts import (
    checks_values,
    dotted,
    expected_values,
    fitted_literals,
    introspection,
    is_test_configuration,
    judged_text,
    judging_edits,
    workarounds,
)

_EXIT_CALLS = {"sys.exit", "os._exit", "exit", "quit", "os.abort"}
_DANGEROUS_CALLS = {"os.system", "os.popen", "os.execv", "os.execve", "os.execl", "os.execvp", "os.spawnl",
                    "os.spawnv", "eval", "exec", "compile", "__import__", "importlib.import_module",
                    "subprocess.run", "subprocess.call", "subprocess.check_call", "subprocess.check_output",
                    "subprocess.Popen", "ctypes.CDLL", "pty.spawn"}
_DANGEROUS_MODULES = {"subprocess", "ctypes", "pty", "importlib"}
_SKIP_CALLS = {"pytest.skip", "pytest.xfail", "pytest.exit", "unittest.skip", "skip", "xfail"}
_BROAD = {"Exception", "BaseException"}


def is_protected(path: str, globs: tuple[str, ...]) -> bool:
    """Does a glob (``docs/**``, ``*.cfg``) or a folder (``vendor/``) cover ``path``?"""
    return any(fnmatch.fnmatchcase(path, g) or path.startswith(g.rstrip("/") + "/") for g in globs)


def preflight(candidate: Candidate, original: Callable[[str], str], analysis: Analysis | None,
              repro: Reproduction, *, marker: str | None = None, protected: tuple[str, ...] = (),
              declarations: tuple[str, ...] = ()) -> Preflight:
    """``marker``: the line a model's reproduction prints when fixed; a candidate must not print it.
    ``protected``: globs of paths no fix may touch (the repository's ``ignore`` setting).
    ``declarations``: the files the project's environment was built from."""
    reasons: list[str] = []
    workaround: list[str] = []
    repro_files = set(repro.files)
    judged = judged_text(repro, original)
    expected = expected_values(repro, judged)
    values_checked = checks_values(repro, judged)
    for edit in candidate.edits:
        path = edit.path
        refused = _refused(edit, repro, marker=marker, protected=protected, declarations=declarations)
        if refused is not None:
            reasons.append(refused)
            continue
        try:
            old_text = original(path)
        except FileNotFoundError:
            old_text = ""
        try:
            change = _change(_original(old_text), edit.new_text, path)
        except (SyntaxError, ValueError) as exc:
            reasons.append(f"{path} does not compile: {exc}")
            continue
        reasons.extend(_added(change))
        reasons.extend(introspection(change.old, change.new))
        reasons.extend(_against_the_failure(path, change, analysis, script=path in repro_files))
        orig = change.original
        if orig.tree is None:
            continue  # a fix for a file that does not parse: there is no "before" to compare with
        touched = [d for start, end, d in orig.defs if start <= change.last and change.first <= end]
        reasons.extend(judging_edits(path, change.old, change.new, touched, script=path in repro_files))
        reasons.extend(fitted_literals(change.old, change.new, _region_text(orig, change), expected, candidate.rule))
        workaround.extend(workarounds(change.old, change.new, values_checked=values_checked,
                                      own=_own_functions(orig.tree)))
        workaround.extend(_orphaned(change))
    return Preflight(ok=not reasons, reasons=reasons, workaround=list(dict.fromkeys(workaround)) if not reasons else [])


def _refused(edit: FileEdit, repro: Reproduction, *, marker: str | None, protected: tuple[str, ...],
             declarations: tuple[str, ...]) -> str | None:
    """Why no fix may make this edit, whatever its code (what the file is, or the reproduction's
    success marker in it), or None."""
    path = edit.path
    if is_protected(path, protected):
        return f"edits {path}, which the repository's configuration protects"
    if path in declarations:
        # The environment is built once per declaration, not per candidate: a fix that needs
        # other dependencies cannot be run as it would be installed.
        return f"edits {path}, which declares the dependencies (environments are not rebuilt per candidate)"
    if path in repro.frozen_files():
        return f"edits the reproduction {path}"
    if is_test_path(path):
        # Never edit what judges: a test file is one by name even when it is also the
        # script that reproduces (``python test_x.py``).
        return f"edits the test file {path}"
    if is_test_configuration(path):
        return f"edits {path}, which configures how the tests run"
    if marker and marker in edit.new_text:
        return f"{path} contains the reproduction's success marker"
    return None


def _added(change: _Change) -> list[str]:
    """What the changed region adds that a fix has no use for: an exit, a dangerous call or
    import, a skip, a broad handler, ``suppress()``, a rebinding of builtins."""
    # Outside the changed region the candidate is the original, so what it adds is what
    # the region adds: its calls not in the original, its counts above the region's before.
    reasons: list[str] = []
    orig = change.original
    old = orig.facts if change.old is orig.tree else _Facts(change.old)
    new = _Facts(change.new)
    for name in sorted(new.calls - orig.facts.calls):
        if name in _EXIT_CALLS:
            reasons.append(f"adds a call to {name}()")
        elif name in _DANGEROUS_CALLS:
            reasons.append(f"adds {name}() (not in the original)")
        elif name in _SKIP_CALLS:
            reasons.append(f"adds {name}() to skip the check")
    for mod in sorted(new.imports - orig.facts.imports):
        if mod in _DANGEROUS_MODULES or mod == "pytest":
            reasons.append(f"adds an import of {mod}")
    if new.broad_handlers > old.broad_handlers:
        reasons.append("adds a bare or broad 'except' that can swallow the failure")
    if new.raise_suppressors > old.raise_suppressors:
        reasons.append("adds contextlib.suppress() around code")
    if new.builtins_writes > old.builtins_writes:
        reasons.append("rebinds builtins")
    return reasons


def _against_the_failure(path: str, change: _Change, analysis: Analysis | None, *, script: bool) -> list[str]:
    """What the change takes away from the failure itself: the reproduction's own driver code
    (``script``: the file is the reproduction), or a call on the traceback's path."""
    reasons: list[str] = []
    orig = change.original
    if script and orig.tree is not None and isinstance(change.new, ast.Module) and \
            _top_level(orig.tree) != _top_level(change.new):
        reasons.append(f"changes the top-level code of {path} (the reproduction)")
    if analysis is not None and orig.tree is not None:
        reasons.extend(_deleted_calls(path, analysis, change))
    return reasons


@functools.lru_cache(maxsize=16)
def _own_functions(tree: ast.AST) -> frozenset[str]:
    """The names of the functions and methods a module defines."""
    return frozenset(n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))


class _Facts:
    def __init__(self, tree: ast.AST | None) -> None:
        self.calls: set[str] = set()
        self.imports: set[str] = set()
        self.broad_handlers = 0
        self.raise_suppressors = 0
        self.builtins_writes = 0
        if tree is None:
            return
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = dotted(node.func)
                if name:
                    self.calls.add(name)
                    if name in ("contextlib.suppress", "suppress"):
                        self.raise_suppressors += 1
            elif isinstance(node, ast.Import):
                self.imports |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                self.imports.add(node.module.split(".")[0])
                self.calls |= {f"{node.module}.{a.name}" for a in node.names}  # from os import _exit
            elif isinstance(node, ast.ExceptHandler):
                if node.type is None or (isinstance(node.type, ast.Name) and node.type.id in _BROAD) or \
                        (isinstance(node.type, ast.Tuple) and any(isinstance(e, ast.Name) and e.id in _BROAD for e in node.type.elts)):
                    self.broad_handlers += 1
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and dotted(node.value) in ("builtins", "__builtins__"):
                self.builtins_writes += 1


@dataclass(eq=False)
class _Original:
    """The original file, parsed and read once for every candidate that edits it."""

    text: str
    tree: ast.Module | None  # None: it does not parse (a fix for a SyntaxError)
    facts: _Facts
    defs: list[tuple[int, int, ast.FunctionDef | ast.AsyncFunctionDef]]  # (first line with decorators, last line, def)
    functions: dict[str, ast.AST]
    def_names: Counter[str]
    tables: frozenset[str]  # names the module assigns at its top level (constants, tables)
    reads: Counter[str]  # every name read, anywhere in the module
    # per scope (by id: the nodes live as long as this object), counted once for all candidates
    _calls: dict[int, Counter[str]] = field(default_factory=dict)
    _lines: dict[int, dict[int, set[str]]] = field(default_factory=dict)

    def called_names(self, scope: ast.AST) -> Counter[str]:
        if id(scope) not in self._calls:
            self._calls[id(scope)] = _called_names(scope)
        return self._calls[id(scope)]

    def line_calls(self, scope: ast.AST, line: int) -> set[str]:
        """The dotted names called on ``line`` inside ``scope``."""
        if id(scope) not in self._lines:
            lines: dict[int, set[str]] = {}
            for n in ast.walk(scope):
                if isinstance(n, ast.Call) and (name := dotted(n.func)):
                    lines.setdefault(getattr(n, "lineno", 0), set()).add(name)
            self._lines[id(scope)] = lines
        return self._lines[id(scope)].get(line, set())


@functools.lru_cache(maxsize=4)  # parsed trees are large: the few files a search edits
def _original(text: str) -> _Original:
    try:
        tree: ast.Module | None = ast.parse(text)
    except (SyntaxError, ValueError):
        tree = None
    defs = [(_first_line(n), n.end_lineno or n.lineno, n) for n in ast.walk(tree)
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)] if tree is not None else []
    return _Original(text=text, tree=tree, facts=_Facts(tree), defs=defs,
                     functions={d.name: d for _, _, d in defs},  # the last of a name wins
                     def_names=Counter(d.name for _, _, d in defs),
                     tables=frozenset(t.id for n in (tree.body if tree is not None else ())
                                      if isinstance(n, ast.Assign | ast.AnnAssign)
                                      for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
                                      if isinstance(t, ast.Name) and not t.id.startswith("__")),
                     reads=_reads(tree) if tree is not None else Counter())


def _reads(node: ast.AST) -> Counter[str]:
    return Counter(n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load))


def _orphaned(change: _Change) -> list[str]:
    """The module's own constants and tables that the original reads and the candidate reads
    nowhere anymore: what used them is gone (``and tok in RIGHT_ASSOCIATIVE`` dropped from a
    condition fixed a test of left-associative operators and broke ``^``, in the repair benchmark)."""
    orig = change.original
    if change.old is None:
        return []
    before, after = (orig.reads, _reads(change.new)) if change.old is orig.tree else (_reads(change.old), _reads(change.new))
    rest = orig.reads - before if change.old is not orig.tree else Counter()
    return [f"leaves {name} unread (what used it is gone)" for name in sorted(before)
            if name in orig.tables and not after[name] and not rest[name]]


@dataclass(eq=False)
class _Change:
    """The smallest function of the original that holds every changed line (or the whole
    module), and what stands in its place in the candidate."""

    original: _Original
    old: ast.AST | None
    new: ast.AST
    first: int = 0  # the original's changed lines (1-based; an insertion: the two lines around it)
    last: int = 0


def _change(orig: _Original, new_text: str, path: str) -> _Change:
    """Raises SyntaxError when the candidate does not parse. A large module is parsed and walked
    once per original, not once per candidate: only the changed function is (a 7,000-line
    module costs about 70 ms per candidate otherwise, on the host's CPU the sandboxes share)."""
    old_lines, new_lines = orig.text.splitlines(keepends=True), new_text.splitlines(keepends=True)
    head = 0
    for a, b in zip(old_lines, new_lines, strict=False):
        if a != b:
            break
        head += 1
    tail = 0
    limit = min(len(old_lines), len(new_lines)) - head
    while tail < limit and old_lines[-1 - tail] == new_lines[-1 - tail]:
        tail += 1
    # the original's changed lines (1-based); an insertion lies between two lines and needs both
    first, last = head + 1, len(old_lines) - tail
    if last < first:
        first, last = max(1, head), min(len(old_lines), head + 1)
    region = _innermost(orig.defs, first, last) if orig.tree is not None else None
    if region is not None:
        start, end, node = region
        shift = len(new_lines) - len(old_lines)
        block = _dedent(new_lines[start - 1:end + shift], node.col_offset)
        if block is not None:
            try:
                tree = ast.parse(block, filename=path)
            except (SyntaxError, ValueError):
                tree = None  # parsed again whole below, for the error's true line
            if tree is not None and len(tree.body) == 1 and isinstance(tree.body[0], ast.FunctionDef | ast.AsyncFunctionDef):
                return _Change(orig, node, tree.body[0], first, last)
    return _Change(orig, orig.tree, ast.parse(new_text, filename=path), first, last)


def _region_text(orig: _Original, change: _Change) -> str:
    """The original text of the changed function (decorators, docstring, comments), or the
    whole module when the change is at module level."""
    old = change.old
    if isinstance(old, ast.FunctionDef | ast.AsyncFunctionDef):
        lines = orig.text.splitlines(keepends=True)
        return "".join(lines[_first_line(old) - 1:old.end_lineno or old.lineno])
    return orig.text


def _first_line(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    return min([node.lineno, *(d.lineno for d in node.decorator_list)])


def _innermost(defs: list[tuple[int, int, ast.FunctionDef | ast.AsyncFunctionDef]], first: int,
               last: int) -> tuple[int, int, ast.FunctionDef | ast.AsyncFunctionDef] | None:
    holding = [d for d in defs if d[0] <= first and last <= d[1]]
    return max(holding, key=lambda d: d[0]) if holding else None


def _dedent(lines: list[str], col: int) -> str | None:
    """The block moved ``col`` columns left, or None when a line has less indentation than that
    (a continuation or a string's text: then the whole file is parsed instead)."""
    out = []
    for line in lines:
        if not line.strip():
            out.append("\n")
        elif line[:col].strip():
            return None
        else:
            out.append(line[col:])
    return "".join(out)


def _top_level(tree: ast.Module) -> list[str]:
    """The snippet's own driver code: top-level statements other than defs, classes and imports."""
    keep = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)
    return [ast.dump(n) for n in tree.body if not isinstance(n, keep)]


def _called_names(node: ast.AST) -> Counter[str]:
    return Counter(dotted(n.func) or "" for n in ast.walk(node) if isinstance(n, ast.Call))


def _deleted_calls(path: str, analysis: Analysis, change: _Change) -> list[str]:
    """The traceback's call chain through this file must survive: no deleting the failing call."""
    reasons: list[str] = []
    frames = [f for f in analysis.project_frames if f.project_path == path and f.line]
    if not frames:
        return reasons
    orig = change.original
    assert orig.tree is not None and change.old is not None
    gone = orig.def_names if change.old is orig.tree else _def_names(change.old)
    added = _def_names(change.new)
    innermost = analysis.project_frames[-1] if analysis.project_frames else None
    # A traceback holds many frames through one file: what the change's two sides call, and
    # their defs by name, are read once for all of them.
    new_calls = functools.cache(lambda: _called_names(change.new))
    old_defs, new_defs = functools.cache(lambda: _defs_by_name(change.old)), functools.cache(lambda: _defs_by_name(change.new))
    for frame in frames:
        func = frame.function or "<module>"
        module = func == "<module>"
        if not module and orig.def_names[func] and not orig.def_names[func] - gone[func] + added[func]:
            reasons.append(f"deletes {func}(), a frame of the failure")
            continue
        if frame is innermost:
            continue  # the failing line itself may change (that is the fix)
        old_scope = orig.tree if module else _def_at(orig, func, frame.line or 0)
        if old_scope is None:
            continue
        line_calls = orig.line_calls(old_scope, frame.line or 0)
        if not line_calls:
            continue
        before = orig.called_names(old_scope)
        if old_scope is change.old:
            after = new_calls()
        elif _holds(old_scope, change.old):  # the change is inside this frame's function
            after = before - orig.called_names(change.old) + new_calls()
        elif _holds(change.old, old_scope):  # this frame's function is inside the change
            scope = _same_def(old_defs().get(func, []), new_defs().get(func, []), old_scope)
            if scope is None:
                continue  # which of the same name it became cannot be told
            after = _called_names(scope)
        else:
            continue  # untouched
        for name in sorted(line_calls):
            if after[name] < before[name]:
                reasons.append(f"removes the call to {name}() on {path}:{frame.line}, which is on the failure's path")
    return list(dict.fromkeys(reasons))  # two frames on one line say it once


def _def_at(orig: _Original, name: str, line: int) -> ast.AST | None:
    """The function ``name`` whose lines hold ``line`` (several defs may share a name: methods
    of different classes), or the last of that name."""
    holding = [d for start, end, d in orig.defs if d.name == name and start <= line <= end]
    return max(holding, key=lambda d: d.lineno) if holding else orig.functions.get(name)


def _same_def(before: list[ast.FunctionDef | ast.AsyncFunctionDef], after: list[ast.FunctionDef | ast.AsyncFunctionDef],
              scope: ast.AST) -> ast.AST | None:
    """The def that ``scope`` became, given the defs of its name before and after the change, in
    order. Several defs may share a name (methods of different classes): they are matched in
    order, which holds when the change kept their number (one added or removed with that name:
    None, it cannot be told)."""
    if len(before) != len(after) or not any(d is scope for d in before):
        return None
    return after[next(i for i, d in enumerate(before) if d is scope)]


def _defs_by_name(tree: ast.AST | None) -> dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]]:
    out: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]] = {}
    for n in ast.walk(tree) if tree is not None else ():
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef):
            out.setdefault(n.name, []).append(n)
    for defs in out.values():
        defs.sort(key=lambda n: (n.lineno, n.col_offset))
    return out


def _def_names(node: ast.AST) -> Counter[str]:
    return Counter(n.name for n in ast.walk(node) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))


def _holds(outer: ast.AST, inner: ast.AST) -> bool:
    """Does ``outer`` (a node of the original) contain ``inner`` (another)?"""
    if isinstance(outer, ast.Module):
        return True
    if isinstance(inner, ast.Module):
        return False
    o_first = _first_line(outer) if isinstance(outer, ast.FunctionDef | ast.AsyncFunctionDef) else getattr(outer, "lineno", 0)
    i_first = _first_line(inner) if isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef) else getattr(inner, "lineno", 0)
    return o_first <= i_first and (getattr(inner, "end_lineno", 0) or 0) <= (getattr(outer, "end_lineno", 0) or 0)
