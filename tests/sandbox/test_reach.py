"""The baseline's record of which project functions each test runs (sandbox/inside/reach.py), taken in
a real sandbox: what it sees, what it says it cannot see, and that the code behaves as it did."""

from __future__ import annotations

import asyncio

import pytest

from pve.layout import is_test_path
from pve.models import RunMode, RunResult, RunSpec
from pve.settings import SandboxSettings
from sandbox.bwrap import BubblewrapSandbox
from sandbox.inside import reach

pytestmark = pytest.mark.sandbox

CORE = '''"""Core."""
import functools


def add(a, b):
    """Add."""
    return a + b


def mul(a, b):
    def inner(x):
        return x * b
    return inner(a)


def count(n):
    yield from range(n)


def boom():
    raise ValueError("boom")


class Box:
    def __init__(self, v):
        self.v = v

    def get(self):
        return self.v


TABLE = [add(1, 1)]
'''
TESTS = '''import runpy
import subprocess
import sys

import pytest

from pkg import core


@pytest.fixture
def box():
    return core.Box(3)


def helper():
    return 1


def test_add():
    assert core.add(1, 2) == 3 and core.add.__doc__ == "Add."


def test_mul():
    assert core.mul(2, 3) == 6


def test_box(box):
    assert box.get() == 3


def test_generator_made_but_not_run():
    core.count(3)


def test_generator_run():
    assert list(core.count(2)) == [0, 1]


def test_line_numbers_are_the_files():
    with pytest.raises(ValueError) as info:
        core.boom()
    assert info.traceback[-1].lineno + 1 == 21
    assert core.boom.__code__.co_firstlineno == 20


def test_spawn():
    subprocess.run([sys.executable, "-c", "pass"], check=True)


def test_runpy():
    runpy.run_path("pkg/script.py")


def test_nothing():
    assert helper() == 1
'''


@pytest.fixture(scope="module")
def sandbox() -> BubblewrapSandbox:
    return BubblewrapSandbox(SandboxSettings(timeout_s=60.0), slots=1)


def baseline(sandbox, root) -> RunResult:
    staged = sandbox.stage(root)
    try:
        return asyncio.run(sandbox.run(staged, RunSpec(mode=RunMode.PYTEST, argv=["tests"], reach=True,
                                                       label="regression suite")))
    finally:
        sandbox.cleanup(staged)


def write(root, files):
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_each_tests_functions_and_what_ran_outside_any_test(sandbox, tmp_path):
    root = write(tmp_path, {"pkg/__init__.py": "", "pkg/core.py": CORE, "pkg/script.py": "X = 1\n",
                            "tests/test_core.py": TESTS})
    run = baseline(sandbox, root)
    assert run.exit_code == 0, run.stdout + run.stderr
    assert set(run.record.outcomes.values()) == {"passed"}
    rec = run.record.reach
    assert rec is not None and rec.files == ["pkg/__init__.py", "pkg/core.py"]  # never the tests

    def names(ks):
        return sorted(rec.functions[k] for k in ks)

    tests = {t.split("::")[1]: names(ks) for t, ks in rec.tests.items()}
    assert tests["test_add"] == ["pkg/core.py:5"]
    assert tests["test_mul"] == ["pkg/core.py:10", "pkg/core.py:11"]  # and the nested function
    assert tests["test_box"] == ["pkg/core.py:28"]  # Box.get; Box.__init__ ran in the fixture's setup
    assert tests["test_generator_made_but_not_run"] == []  # its body never started
    assert tests["test_generator_run"] == ["pkg/core.py:16"]
    assert tests["test_nothing"] == []
    # at import (TABLE = [add(1, 1)]) and in a fixture: shared by every test
    assert names(rec.shared) == ["pkg/core.py:25", "pkg/core.py:5"]
    ids = {t.split("::")[1] for t in rec.spawned}
    assert ids == {"test_spawn", "test_runpy"}  # a process, and a project file run outside an import
    assert not rec.whole


def test_a_project_file_run_outside_an_import_before_any_test_is_everything(sandbox, tmp_path):
    root = write(tmp_path, {"pkg/__init__.py": "", "pkg/core.py": CORE, "pkg/script.py": "X = 1\n",
                            "tests/conftest.py": "import runpy\n\nrunpy.run_path('pkg/script.py')\n",
                            "tests/test_x.py": "from pkg.core import add\n\n\ndef test_x():\n    assert add(1, 1) == 2\n"})
    run = baseline(sandbox, root)
    assert run.exit_code == 0 and run.record.reach is not None and run.record.reach.whole


def test_a_module_that_does_not_compile_fails_as_it_would(sandbox, tmp_path):
    root = write(tmp_path, {"pkg/__init__.py": "", "pkg/bad.py": "def f(:\n",
                            "tests/test_x.py": "def test_x():\n    import pkg.bad\n"})
    run = baseline(sandbox, root)
    assert run.record.outcomes == {"tests/test_x.py::test_x": "failed"}
    assert run.record.test_exceptions["tests/test_x.py::test_x"].type == "SyntaxError"
    assert run.record.reach is not None and run.record.reach.files == ["pkg/__init__.py"]


def test_a_stale_bytecode_cache_is_not_loaded_instead_of_the_instrumented_source(sandbox, tmp_path):
    import py_compile

    root = write(tmp_path, {"pkg/__init__.py": "", "pkg/core.py": CORE,
                            "tests/test_x.py": "from pkg.core import add\n\n\ndef test_x():\n    assert add(1, 1) == 2\n"})
    py_compile.compile(str(root / "pkg/core.py"), cfile=str(root / "pkg/__pycache__/core.cpython-311.pyc"))
    rec = baseline(sandbox, root).record.reach
    assert rec is not None and [rec.functions[k] for k in rec.tests["tests/test_x.py::test_x"]] == ["pkg/core.py:5"]


def test_the_probes_test_path_rule_is_pves():
    for path in ["tests/a.py", "pkg/test_a.py", "pkg/a_test.py", "conftest.py", "src/pkg/testing/x.py", "pkg/a.py",
                 "src/pkg/core.py", "test.py", "pkg/tests.py", "tested/x.py"]:
        assert reach.is_test_path(path) == is_test_path(path), path


LINES = '''"""Doc."""
from __future__ import annotations

import threading

RATE = 2


def total(xs):
    """Sum, doubled."""
    out = 0
    for x in xs:
        if x < 0:
            continue
        out += (x *
                RATE)
    return out


def kind(v):
    match v:
        case 0:
            return "zero"
        case _:
            return "other"


def in_thread():
    box = []
    t = threading.Thread(target=lambda: box.append(total([1])))
    t.start()
    t.join()
    return box[0]


class Shape:
    sides = 4
'''
LINE_TESTS = '''from calc import in_thread, kind, total


def test_total():
    assert total([1, -1]) == 2


def test_kind():
    assert kind(0) == "zero"


def test_thread():
    assert in_thread() == 2
'''


def test_localizations_coverage_marks_statements_as_a_line_tracer_reports_them(sandbox, tmp_path):
    root = write(tmp_path, {"calc.py": LINES, "tests/test_calc.py": LINE_TESTS})
    staged = sandbox.stage(root)
    try:
        run = asyncio.run(sandbox.run(staged, RunSpec(mode=RunMode.PYTEST, argv=["tests"], coverage=True)))
    finally:
        sandbox.cleanup(staged)
    assert set(run.record.outcomes.values()) == {"passed"}, run.stdout + run.stderr
    cov = run.record.coverage
    assert cov is not None
    # a multi-line statement: all its lines; a compound one: its header; the docstring is no line
    assert cov.tests["tests/test_calc.py::test_total"] == {"calc.py": [11, 12, 13, 14, 15, 16, 17]}
    assert cov.tests["tests/test_calc.py::test_kind"] == {"calc.py": [21, 23]}  # case 0 matched: 25 never ran
    # the thread's lines are the test's too (the tracer needed threading.settrace for that)
    assert cov.tests["tests/test_calc.py::test_thread"] == {"calc.py": [11, 12, 13, 15, 16, 17, 29, 30, 31, 32, 33]}
    # at import, outside any test (a __future__ import stays unmarked: nothing may precede it)
    assert cov.shared == {"calc.py": [4, 6, 9, 20, 28, 36, 37]}
