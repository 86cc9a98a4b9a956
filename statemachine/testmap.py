"""The project's tests as units the oracle and localization can choose between, read from the
source (nothing runs): a test file, or, inside a large file, its test classes and its
module-level test functions, each with its test node ids and the names its code mentions.

pytest's node ids are ``file::Class::test`` and ``file::test``; a node id given here that pytest
does not collect (a mixin class, a generated test) matches nothing: runs select by node-id
prefix (``RunSpec.only``), never by passing ids pytest might refuse.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeGuard

from pve.layout import is_test_path

_TEST_DEF = re.compile(r"^\s*(?:async\s+)?def test", re.M)


@dataclass(frozen=True)
class TestUnit:
    node: str  # the node id that selects the unit: a file, file::Class or file::test_function
    tests: tuple[str, ...]  # node ids of its test functions (one per def; parameters not expanded)
    names: frozenset[str]  # identifiers its code mentions (calls, attributes, imports)

    @property
    def size(self) -> int:
        return max(1, len(self.tests))


def is_test_module(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return path.endswith(".py") and name != "conftest.py" and is_test_path(path) and \
        (name.startswith("test") or name.endswith("_test.py"))


def count_tests(source: str) -> int:
    """Test functions defined in a file, without parsing it (cheap enough for every file)."""
    return max(1, len(_TEST_DEF.findall(source)))


def file_unit(path: str, read: Callable[[str], str]) -> TestUnit:
    """The whole file as one unit."""
    parts = units(path, read)
    tests = tuple(t for u in parts for t in u.tests)
    names = frozenset().union(*(u.names for u in parts)) if parts else frozenset()
    return TestUnit(node=path, tests=tests, names=names)


def units(path: str, read: Callable[[str], str], *, functions: bool = False) -> list[TestUnit]:
    """The file's top-level test classes and test functions, in file order (``functions``:
    every test function, also those inside classes, as a unit of its own); [] when the file
    does not parse: pytest will say why when it runs."""
    try:
        text = read(path)
    except (FileNotFoundError, UnicodeDecodeError):
        return []
    return list(_units(path, text, functions))


# The oracle's selection and localization's sample each ask for the same files several times;
# a 10,000-line test module costs about 100 ms to parse and walk.
@functools.lru_cache(maxsize=16)
def _units(path: str, text: str, functions: bool) -> tuple[TestUnit, ...]:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return ()
    out: list[TestUnit] = []
    classes: dict[str, dict[str, ast.FunctionDef | ast.AsyncFunctionDef]] = {}  # this file's classes' tests
    seen: dict[int, frozenset[str]] = {}  # id(node) -> its names: each def is walked once, not once per subclass

    def names_of(node: ast.AST) -> frozenset[str]:
        if id(node) not in seen:
            seen[id(node)] = _names(node)
        return seen[id(node)]

    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            # pytest runs a base class's tests again in every subclass (one suite per
            # configuration is a common pattern): they count, and run, there too.
            defs: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
            for base in node.bases:
                if isinstance(base, ast.Name) and base.id in classes:
                    defs.update(classes[base.id])
            defs.update({d.name: d for d in node.body if _is_test_def(d)})
            classes[node.name] = defs
            if functions:
                out += [TestUnit(node=f"{path}::{node.name}::{name}", tests=(f"{path}::{node.name}::{name}",),
                                 names=names_of(d)) for name, d in defs.items()]
                continue
            tests = tuple(f"{path}::{node.name}::{name}" for name in defs)
            inherits = any(not (isinstance(b, ast.Name) and b.id == "object") for b in node.bases)
            if tests or (inherits and "test" in node.name.lower()):  # tests may come from a base class elsewhere
                # the class's own statements (its defs among them) and the tests it inherits
                names = frozenset().union(_names_of_header(node), *(names_of(b) for b in node.body),
                                          *(names_of(d) for d in defs.values()))
                out.append(TestUnit(node=f"{path}::{node.name}", tests=tests, names=names))
        elif _is_test_def(node):
            out.append(TestUnit(node=f"{path}::{node.name}", tests=(f"{path}::{node.name}",), names=_names(node)))
    return tuple(out)


def _is_test_def(node: ast.stmt) -> TypeGuard[ast.FunctionDef | ast.AsyncFunctionDef]:
    return isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")


def _names_of_header(node: ast.ClassDef) -> frozenset[str]:
    """What a class statement names outside its body: its bases, keywords and decorators."""
    return frozenset().union(*(_names(n) for n in (*node.bases, *node.keywords, *node.decorator_list)))


def _names(node: ast.AST) -> frozenset[str]:
    found: set[str] = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name):
            found.add(n.id)
        elif isinstance(n, ast.Attribute):
            found.add(n.attr)
        elif isinstance(n, ast.alias):
            found.add(n.asname or n.name.rsplit(".", 1)[-1])
    return frozenset(found)
