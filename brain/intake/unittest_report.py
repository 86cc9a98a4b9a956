"""unittest's report in a log (``python -m unittest``, ``setup.py test``, Django's runner, tox or
nox output of either): each FAIL/ERROR block's traceback, its test as a pytest node id.

Apart from pytest's report (``pytest_report``): another runner's layout, read with the same
CPython grammar. Pure: text in, models out.
"""

from __future__ import annotations

import re

from brain.intake.cpython_traceback import parse_cpython
from brain.intake.project_index import ProjectIndex
from pve.models import ExceptionInfo, Failure

_UT_RULE = re.compile(r"^(?:=|-){50,}$")
UNITTEST_HEADER = re.compile(r"^(?P<kind>FAIL|ERROR|UNEXPECTED SUCCESS): (?P<name>[\w.]+) \((?P<where>[\w.]+)\)"
                             r"(?: \((?P<sub>.*)\))?\s*$")
_UT_FIXTURES = {"setUpClass", "tearDownClass", "setUpModule", "tearDownModule"}


def _unittest_id(name: str, where: str, index: ProjectIndex) -> str | None:
    """The pytest node id of a unittest report header's test.

    ``test_x (pkg.test_m.TestC.test_x)`` (3.11+), ``test_x (pkg.test_m.TestC)`` (older),
    ``setUpClass (pkg.test_m.TestC)`` (the class), ``test_m (unittest.loader._FailedTest…)``
    (a module that could not be imported: the file)."""
    if where.startswith("unittest.loader._Failed") or where.startswith("unittest.loader.ModuleImportFailure"):
        node = index.module_node(name)
        return node.split("::", 1)[0] if node else None
    if name in _UT_FIXTURES:
        return index.module_node(where)
    dotted = where if where.endswith("." + name) else f"{where}.{name}"
    return index.module_node(dotted)


def parse_unittest(lines: list[str], index: ProjectIndex) -> tuple[list[Failure], list[str], set[int]]:
    """unittest's FAIL/ERROR blocks (``python -m unittest``, ``setup.py test``, Django's runner,
    tox/nox output of either): each header's traceback, with its test as a pytest node id."""
    failures: list[Failure] = []
    ids: list[str] = []
    consumed: set[int] = set()
    i, n = 0, len(lines)
    while i < n:
        head = UNITTEST_HEADER.match(lines[i])
        if not head or i == 0 or not _UT_RULE.match(lines[i - 1].strip()):
            i += 1
            continue
        j = i + 1
        while j < n and not _UT_RULE.match(lines[j].strip()) and j - i < 6:
            j += 1  # the test's docstring, if any, sits between the header and the rule
        k = j + 1
        while k < n and not (_UT_RULE.match(lines[k].strip()) and (k + 1 >= n or UNITTEST_HEADER.match(lines[k + 1])
                                                                   or lines[k + 1].startswith("Ran "))):
            k += 1
        body = lines[j + 1:k]
        found = parse_cpython(body, index, origin="unittest")
        tid = _unittest_id(head.group("name"), head.group("where"), index)
        consumed.update(range(i - 1, k))
        if tid and tid not in ids:
            ids.append(tid)
        if found:
            failure = found[-1]  # a module that failed to import: its own traceback comes last
            failure.test_id = tid
            failures.append(failure)
        elif head.group("kind") == "UNEXPECTED SUCCESS" and tid:
            exc = ExceptionInfo(type="AssertionError", qualified_type="AssertionError",
                                message="unexpected success (the test is marked expectedFailure)")
            failures.append(Failure(exception=exc, test_id=tid, origin="unittest"))
        i = k
    return failures, ids, consumed

