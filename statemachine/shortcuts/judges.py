"""What judges a fix, and a candidate that edits it: a test function, a fixture, a check a
script runs on its own result, an ``assert`` anywhere, the files that configure how the tests
run. Apart because it is the one family that is about *what* is edited, not how: a candidate
that touches any of it is rejected before it runs, whatever the edit.
"""

from __future__ import annotations

import ast
import functools
from collections import Counter
from collections.abc import Iterable

_CHECKER_PREFIXES = ("test", "check")
_TEST_CONFIG = frozenset({"pytest.ini", "tox.ini", "setup.cfg", "pyproject.toml", "noxfile.py", ".coveragerc",
                          "conftest.py"})


def is_test_configuration(path: str) -> bool:
    """Files that say how the tests run (pytest's and tox's options, markers, plugins)."""
    return path.rsplit("/", 1)[-1] in _TEST_CONFIG


def judging_edits(path: str, old: ast.AST | None, new: ast.AST, touched: Iterable[ast.AST], *,
                  script: bool) -> list[str]:
    """Why this change edits what judges the fix. ``old``/``new``: the changed region before and
    after; ``touched``: the original's function definitions that hold a changed line;
    ``script``: the file is the reproduction itself (a script whose checks may not change)."""
    reasons = []
    if _asserts(old) != _asserts(new):
        reasons.append(f"changes an assert statement in {path}")
    for node in touched:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if node.name.startswith("test") or _is_fixture(node):
            reasons.append(f"edits {node.name}() in {path}, a test or fixture")
        elif script and (node.name.startswith(_CHECKER_PREFIXES) or _checks(node)):
            reasons.append(f"edits {node.name}() in {path}, which checks the script's result")
    return list(dict.fromkeys(reasons))


@functools.lru_cache(maxsize=16)  # by identity: the original's region comes back for every candidate
def _asserts(tree: ast.AST | None) -> Counter[str]:
    if tree is None:
        return Counter()
    return Counter(ast.dump(n) for n in ast.walk(tree) if isinstance(n, ast.Assert))


def _is_fixture(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for d in node.decorator_list:
        target = d.func if isinstance(d, ast.Call) else d
        name = target.attr if isinstance(target, ast.Attribute) else target.id if isinstance(target, ast.Name) else ""
        if name in ("fixture", "yield_fixture"):
            return True
    return False


def _checks(node: ast.AST) -> bool:
    """Does this function check a result: an assert, or raising AssertionError?"""
    for n in ast.walk(node):
        if isinstance(n, ast.Assert):
            return True
        if isinstance(n, ast.Raise) and n.exc is not None:
            exc = n.exc.func if isinstance(n.exc, ast.Call) else n.exc
            if isinstance(exc, ast.Name) and exc.id == "AssertionError":
                return True
    return False
