"""Logs as people paste them: unittest's reports (every shape CPython 3.8-3.13 and Django print)
and tracebacks from an installed copy of the project, mapped onto the repository."""

from __future__ import annotations

import pytest

from brain.intake.traceback import ProjectIndex, import_names, package_folders, parse_log

CALC = ["calc.py", "tests/__init__.py", "tests/test_calc.py", "tests/test_a.py", "tests/test_b.py"]

UNITTEST_312 = """\
F.....
======================================================================
FAIL: test_clamp_high (tests.test_calc.TestCalc.test_clamp_high)
----------------------------------------------------------------------
Traceback (most recent call last):
  File "/home/runner/work/calc/calc/tests/test_calc.py", line 14, in test_clamp_high
    self.assertEqual(clamp(15, 0, 10), 10)
AssertionError: 15 != 10

----------------------------------------------------------------------
Ran 6 tests in 0.001s

FAILED (failures=1)
"""

# Python <= 3.10 names the class only; a docstring's first line sits under the header.
UNITTEST_OLD = """\
======================================================================
ERROR: test_clamp_high (tests.test_calc.TestCalc)
Clamping above the range gives the top.
----------------------------------------------------------------------
Traceback (most recent call last):
  File "C:\\\\work\\\\calc\\\\tests\\\\test_calc.py", line 14, in test_clamp_high
    self.assertEqual(clamp(15, 0, 10), 10)
  File "C:\\\\work\\\\calc\\\\calc.py", line 9, in clamp
    return valu
NameError: name 'valu' is not defined

----------------------------------------------------------------------
Ran 6 tests in 0.002s
"""

# Captured from CPython 3.11: a setUpClass error, a module that cannot be imported, a subTest.
UNITTEST_KINDS = """\
EFE
======================================================================
ERROR: setUpClass (tests.test_a.TestA)
----------------------------------------------------------------------
Traceback (most recent call last):
  File "/tmp/utf/tests/test_a.py", line 5, in setUpClass
    raise RuntimeError("no fixture")
RuntimeError: no fixture

======================================================================
ERROR: tests.test_b (unittest.loader._FailedTest.tests.test_b)
----------------------------------------------------------------------
ImportError: Failed to import test module: tests.test_b
Traceback (most recent call last):
  File "/root/.pyenv/versions/3.11.7/lib/python3.11/unittest/loader.py", line 419, in _find_test_path
    module = self._get_module_from_name(name)
             ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/root/.pyenv/versions/3.11.7/lib/python3.11/unittest/loader.py", line 362, in _get_module_from_name
    __import__(name)
  File "/tmp/utf/tests/test_b.py", line 1, in <module>
    import nosuchmodule
ModuleNotFoundError: No module named 'nosuchmodule'


======================================================================
FAIL: test_sub (tests.test_a.TestB.test_sub) (n=2)
----------------------------------------------------------------------
Traceback (most recent call last):
  File "/tmp/utf/tests/test_a.py", line 12, in test_sub
    self.assertLess(n, 2)
AssertionError: 2 not less than 2

----------------------------------------------------------------------
Ran 2 tests in 0.001s

FAILED (failures=1, errors=2)
"""


def test_unittest_3_12_report_becomes_a_pytest_node_id():
    parsed = parse_log(UNITTEST_312, index=ProjectIndex(None, files=CALC))
    assert parsed.failing_tests == ["tests/test_calc.py::TestCalc::test_clamp_high"]
    (f,) = parsed.failures
    assert f.exception.type == "AssertionError" and f.exception.message == "15 != 10"
    assert f.test_id == "tests/test_calc.py::TestCalc::test_clamp_high"
    assert f.exception.frames[0].project_path == "tests/test_calc.py"


def test_unittest_older_header_with_a_docstring_and_windows_paths():
    parsed = parse_log(UNITTEST_OLD, index=ProjectIndex(None, files=CALC))
    (f,) = parsed.failures
    assert f.test_id == "tests/test_calc.py::TestCalc::test_clamp_high"
    assert f.exception.type == "NameError"
    assert [fr.project_path for fr in f.exception.frames] == ["tests/test_calc.py", "calc.py"]


def test_unittest_setupclass_import_failure_and_subtest():
    parsed = parse_log(UNITTEST_KINDS, index=ProjectIndex(None, files=CALC))
    assert parsed.failing_tests == ["tests/test_a.py::TestA", "tests/test_b.py", "tests/test_a.py::TestB::test_sub"]
    by_id = {f.test_id: f.exception for f in parsed.failures}
    assert by_id["tests/test_a.py::TestA"].type == "RuntimeError"
    # the module's own import error, not the loader's wrapper
    assert by_id["tests/test_b.py"].type == "ModuleNotFoundError"
    assert by_id["tests/test_b.py"].frames[-1].project_path == "tests/test_b.py"
    assert by_id["tests/test_a.py::TestB::test_sub"].message == "2 not less than 2"
    assert len(parsed.failures) == 3  # no block counted twice by the plain-traceback pass


def test_django_app_tests_map_under_the_project_folder():
    files = ["mysite/manage.py", "mysite/polls/__init__.py", "mysite/polls/tests.py", "mysite/polls/models.py"]
    log = UNITTEST_312.replace("test_clamp_high (tests.test_calc.TestCalc.test_clamp_high)",
                               "test_recent (polls.tests.QuestionTests.test_recent)") \
        .replace("/home/runner/work/calc/calc/tests/test_calc.py", "/srv/mysite/polls/tests.py")
    parsed = parse_log(log, index=ProjectIndex(None, files=files))
    assert parsed.failing_tests == ["mysite/polls/tests.py::QuestionTests::test_recent"]


SRC_LAYOUT = ["src/tablekit/__init__.py", "src/tablekit/table.py", "src/tablekit/io/csv.py", "tests/test_table.py",
              "setup.py", "docs/conf.py"]


def test_import_names_of_src_flat_and_single_module_layouts():
    assert import_names(SRC_LAYOUT) == {"tablekit": "src/tablekit"}
    assert import_names(["six.py", "test_six.py", "setup.py", "conftest.py"]) == {"six": "six.py"}
    assert import_names(["pkg/__init__.py", "tests/__init__.py", "lib/other/__init__.py"]) == \
        {"pkg": "pkg", "other": "lib/other"}
    assert ProjectIndex(None, files=SRC_LAYOUT).importable_folders() == ["src"]


@pytest.mark.parametrize("path", [
    "/home/maria/reports/.venv/lib/python3.12/site-packages/tablekit/table.py",
    "C:\\Users\\maria\\AppData\\Local\\Programs\\Python\\Python312\\Lib\\site-packages\\tablekit\\table.py",
    "/Library/Frameworks/Python.framework/Versions/3.12/lib/python3.12/site-packages/tablekit/table.py",
    "/opt/homebrew/lib/python3.13/site-packages/tablekit/table.py",
    "/usr/lib/python3/dist-packages/tablekit/table.py",
    "/usr/lib/python3.8/site-packages/tablekit-1.0-py3.8.egg/tablekit/table.py",
    "/home/maria/bin/tool.pyz/tablekit/table.py",
    "/home/maria/code/tablekit/src/tablekit/table.py",  # pip install -e: the checkout itself
])
def test_installed_copies_of_the_project_map_onto_the_repository(path):
    assert ProjectIndex(None, files=SRC_LAYOUT).locate(path) == "src/tablekit/table.py"


@pytest.mark.parametrize("path", [
    "/usr/lib/python3.12/json/decoder.py",  # the standard library
    "C:\\Python312\\Lib\\json\\decoder.py",
    "/home/maria/.venv/lib/python3.12/site-packages/requests/api.py",  # another package
    "/home/maria/.venv/lib/python3.12/site-packages/tablekit/nothere.py",  # not in this version
    "/home/maria/reports/build.py",  # the reporter's own script
])
def test_the_standard_library_and_other_packages_stay_unmapped(path):
    assert ProjectIndex(None, files=SRC_LAYOUT).locate(path) is None


@pytest.mark.parametrize("pyproject", [
    '[tool.setuptools]\npackage-dir = {"" = "source"}\n',
    '[tool.setuptools.packages.find]\nwhere = ["source"]\n',
    '[tool.poetry]\npackages = [{include = "tablekit", from = "source"}]\n',
    '[tool.hatch.build.targets.wheel]\npackages = ["source/tablekit"]\n',
])
def test_a_pyproject_names_where_the_packages_live(pyproject):
    files = ["source/tablekit/__init__.py", "source/tablekit/table.py"]
    index = ProjectIndex(None, files=files, folders=package_folders(pyproject))
    assert index.packages == {"tablekit": "source/tablekit"} and index.importable_folders() == ["source"]
    assert index.locate("/venv/lib/python3.12/site-packages/tablekit/table.py") == "source/tablekit/table.py"
    assert package_folders("not toml = =") == [] and package_folders("[project]\nname = 'x'\n") == []


def test_unittest_inside_tox_output():
    log = ("py312: install_deps> python -I -m pip install -r requirements.txt\n"
           "py312: commands[0]> python -m unittest\n" + UNITTEST_312 +
           "py312: exit 1 (0.21 seconds) /home/dev/calc> python -m unittest pid=4242\n"
           "  py312: FAIL code 1 (3.02=setup[2.81]+cmd[0.21] seconds)\n  evaluation failed :( (3.10 seconds)\n")
    parsed = parse_log(log, index=ProjectIndex(None, files=CALC))
    assert parsed.failing_tests == ["tests/test_calc.py::TestCalc::test_clamp_high"]
    assert [f.exception.type for f in parsed.failures] == ["AssertionError"]
