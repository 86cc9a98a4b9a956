"""Step 4, preflight: static checks a candidate must pass before it may run.

These catch the shortcuts that make a reproduction "pass" without fixing anything (see
ARCHITECTURE.md, "what verified means", rule 4). They compare the candidate's AST with the
original's; nothing is executed.
"""

from __future__ import annotations

import ast
import fnmatch
from collections import Counter
from collections.abc import Callable

from pve.layout import is_test_path
from pve.models import Analysis, Candidate, Preflight, Reproduction

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
    repro_files = set(repro.files)
    for edit in candidate.edits:
        path = edit.path
        if is_protected(path, protected):
            reasons.append(f"edits {path}, which the repository's configuration protects")
            continue
        if path in declarations:
            # The environment is built once per declaration, not per candidate: a fix that needs
            # other dependencies cannot be run as it would be installed.
            reasons.append(f"edits {path}, which declares the dependencies (environments are not rebuilt per candidate)")
            continue
        if path in repro.frozen_files():
            reasons.append(f"edits the reproduction {path}")
            continue
        if is_test_path(path) and path not in repro_files:
            reasons.append(f"edits the test file {path}")
            continue
        if marker and marker in edit.new_text:
            reasons.append(f"{path} contains the reproduction's success marker")
            continue
        try:
            new_tree = ast.parse(edit.new_text, filename=path)
        except (SyntaxError, ValueError) as exc:
            reasons.append(f"{path} does not compile: {exc}")
            continue
        try:
            old_text = original(path)
        except FileNotFoundError:
            old_text = ""
        try:
            old_tree = ast.parse(old_text)
        except (SyntaxError, ValueError):
            old_tree = None  # fixing a SyntaxError: compare against nothing
        old = _Facts(old_tree)
        new = _Facts(new_tree)
        for name in sorted(new.calls - old.calls):
            if name in _EXIT_CALLS:
                reasons.append(f"adds a call to {name}()")
            elif name in _DANGEROUS_CALLS:
                reasons.append(f"adds {name}() (not in the original)")
            elif name in _SKIP_CALLS:
                reasons.append(f"adds {name}() to skip the check")
        for mod in sorted(new.imports - old.imports):
            if mod in _DANGEROUS_MODULES or mod == "pytest":
                reasons.append(f"adds an import of {mod}")
        if new.broad_handlers > old.broad_handlers:
            reasons.append("adds a bare or broad 'except' that can swallow the failure")
        if new.raise_suppressors > old.raise_suppressors:
            reasons.append("adds contextlib.suppress() around code")
        if new.builtins_writes > old.builtins_writes:
            reasons.append("rebinds builtins")
        if path in repro_files and old_tree is not None and _top_level(old_tree) != _top_level(new_tree):
            reasons.append(f"changes the top-level code of {path} (the reproduction)")
        if analysis is not None and old_tree is not None:
            reasons.extend(_deleted_calls(path, analysis, old_tree, new_tree))
    return Preflight(ok=not reasons, reasons=reasons)


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


def dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _top_level(tree: ast.Module) -> list[str]:
    """The snippet's own driver code: top-level statements other than defs, classes and imports."""
    keep = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)
    return [ast.dump(n) for n in tree.body if not isinstance(n, keep)]


def _functions(tree: ast.AST) -> dict[str, ast.AST]:
    return {n.name: n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}


def _called_names(node: ast.AST) -> Counter[str]:
    return Counter(dotted(n.func) or "" for n in ast.walk(node) if isinstance(n, ast.Call))


def _deleted_calls(path: str, analysis: Analysis, old_tree: ast.AST, new_tree: ast.AST) -> list[str]:
    """The traceback's call chain through this file must survive: no deleting the failing call."""
    reasons: list[str] = []
    frames = [f for f in analysis.project_frames if f.project_path == path and f.line]
    if not frames:
        return reasons
    old_funcs, new_funcs = _functions(old_tree), _functions(new_tree)
    innermost = analysis.project_frames[-1] if analysis.project_frames else None
    for frame in frames:
        func = frame.function
        if func and func != "<module>" and func in old_funcs and func not in new_funcs:
            reasons.append(f"deletes {func}(), a frame of the failure")
            continue
        if frame is innermost:
            continue  # the failing line itself may change (that is the fix)
        old_scope = old_funcs.get(func or "") if func and func != "<module>" else old_tree
        new_scope = new_funcs.get(func or "") if func and func != "<module>" else new_tree
        if old_scope is None or new_scope is None:
            continue
        line_calls = {dotted(n.func) for n in ast.walk(old_scope) if isinstance(n, ast.Call)
                      and getattr(n, "lineno", None) == frame.line and dotted(n.func)}
        before, after = _called_names(old_scope), _called_names(new_scope)
        for name in sorted(n for n in line_calls if n):
            if after[name] < before[name]:
                reasons.append(f"removes the call to {name}() on {path}:{frame.line}, which is on the failure's path")
    return reasons
