"""What the reproduction checks, read from its files: the values its checks compare against
(for ``fitted.py``), and whether it checks values at all or only that nothing crashes (for the
anti-patterns' early exits, and for a fix that gets around the failing line). Apart because it
reads the reproduction, not the candidate.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable

from pve.models import Reproduction, ReproKind
from statemachine.shortcuts.fitted import literals, trivial


def judged_text(repro: Reproduction, read: Callable[[str], str]) -> Callable[[str], str]:
    """A reader of the reproduction's files, also of a script PVE wrote (it is a patch, not a
    file of the project)."""
    def text(path: str) -> str:
        if repro.script is not None and path == repro.target:
            return repro.script
        return read(path)
    return text


def expected_values(repro: Reproduction, read: Callable[[str], str]) -> frozenset[object]:
    """The literals the reproduction's checks compare against: inside its asserts (and
    ``assert*`` calls, ``parametrize`` tables, names like ``expected``) in the failing tests, or
    in the reproduction scripts."""
    if repro.kind is ReproKind.PYTEST:
        wanted: dict[str, set[str]] = {}
        for tid in repro.test_ids:
            path, _, rest = tid.partition("::")
            name = rest.split("::")[-1].split("[")[0] if rest else ""
            wanted.setdefault(path, set()).add(name)
        sources = [(path, tuple(sorted(names))) for path, names in wanted.items()]
    else:
        sources = [(path, ("",)) for path in repro.files]
    found: set[object] = set()
    for path, names in sources:
        try:
            text = read(path)
        except (OSError, UnicodeDecodeError):
            continue
        found |= _expected_in(text, names)
    return frozenset(found)


@functools.lru_cache(maxsize=32)
def _expected_in(text: str, names: tuple[str, ...]) -> frozenset[object]:
    """``names``: the test functions ('' for the whole file, or a whole file of tests)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return frozenset()
    scopes: list[ast.AST] = []
    if "" in names:
        scopes.append(tree)
    else:
        scopes += [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name in names]
    out: set[object] = set()
    for scope in scopes:
        for n in ast.walk(scope):
            if isinstance(n, ast.Assert) or (isinstance(n, ast.Call) and _is_check_call(n)):
                out |= set(literals(n))
            elif isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id.startswith(("expect", "want"))
                                                   for t in n.targets):
                out |= set(literals(n.value))
            elif isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef):
                for d in n.decorator_list:
                    if isinstance(d, ast.Call) and getattr(d.func, "attr", "") == "parametrize":
                        out |= set(literals(d))
    return frozenset(v for v in out if not trivial(v))


def _is_check_call(call: ast.Call) -> bool:
    name = call.func.attr if isinstance(call.func, ast.Attribute) else call.func.id if isinstance(call.func, ast.Name) else ""
    return name.startswith("assert")


def checks_values(repro: Reproduction, read: Callable[[str], str]) -> bool:
    """Does the reproduction check what the code computes (an assert, ``pytest.raises``, an
    ``assert*`` method), or only that it runs without crashing?"""
    if repro.kind is ReproKind.PYTEST:
        paths = {tid.partition("::")[0] for tid in repro.test_ids}
    else:
        paths = set(repro.files)
    for path in sorted(paths):
        try:
            text = read(path)
        except (OSError, UnicodeDecodeError):
            continue
        if _has_checks(text):
            return True
    return False


@functools.lru_cache(maxsize=32)
def _has_checks(text: str) -> bool:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    for n in ast.walk(tree):
        if isinstance(n, ast.Assert):
            return True
        if isinstance(n, ast.Call):
            name = n.func.attr if isinstance(n.func, ast.Attribute) else n.func.id if isinstance(n.func, ast.Name) else ""
            if name.startswith("assert") or name == "raises":
                return True
    return False
