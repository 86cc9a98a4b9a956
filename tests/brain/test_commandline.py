"""Test-runner command lines as CI configs and READMEs write them."""

from __future__ import annotations

import pytest

from brain.intake import commandline
from brain.intake.commandline import (
    CommandError,
    addopts_override,
    parse_pytest,
    parse_unittest,
    split,
    strip_prefix,
)
from brain.intake.traceback import ProjectIndex

FILES = ["stats/__init__.py", "stats/core.py", "tests/test_core.py", "tests/unit/test_x.py", "tests/conftest.py",
         "tests/plugin.py"]
IDX = ProjectIndex(None, files=FILES)


def pytest_args(text: str) -> list[str]:
    args = strip_prefix(split(text), commandline.PYTEST_PREFIXES)
    assert args is not None, text
    return args


@pytest.mark.parametrize("text, targets, options", [
    ("pytest -k empty tests/", ["tests"], ["-k", "empty"]),
    ("pytest -p no:cacheprovider tests", ["tests"], ["-p", "no:cacheprovider"]),
    ("python -m pytest -m 'not slow' -o xfail_strict=true tests/test_core.py::test_mean",
     ["tests/test_core.py::test_mean"], ["-m", "not slow", "-o", "xfail_strict=true"]),
    ("py.test --tb=short -x tests/test_core.py::TestA::test_b[1-2]", ["tests/test_core.py::TestA::test_b[1-2]"],
     ["--tb=short", "-x"]),
    ("python3.12 -m pytest --deselect tests/test_core.py::test_slow --ignore=tests/unit -q",
     [""], ["--deselect", "tests/test_core.py::test_slow", "--ignore=tests/unit", "-q"]),
    ("pytest -kempty -vv", [""], ["-kempty", "-vv"]),
    ("CI=1 pytest -c tests/pytest.ini tests", ["tests"], ["-c", "tests/pytest.ini"]),
    ("pytest /home/runner/work/stats/stats/tests/test_core.py", ["tests/test_core.py"], []),
    ("pytest -p tests.plugin tests", ["tests"], ["-p", "tests.plugin"]),
    ("pytest --runslow tests", ["tests"], ["--runslow"]),  # a conftest's own flag
    ("pytest --env staging tests", ["tests"], ["--env", "staging"]),  # … and one with a value
    ("pytest .", [""], []),
])
def test_targets_and_options_are_told_apart(text, targets, options):
    cmd = parse_pytest(pytest_args(text), IDX)
    assert (cmd.targets or [""], cmd.options, cmd.missing) == (targets, options, [])


def test_options_of_plugins_the_sandbox_lacks_are_dropped_with_a_line():
    cmd = parse_pytest(pytest_args("pytest -n auto --cov=stats --cov-report term-missing --timeout 30 "
                                   "-p xdist --reruns 2 --junitxml=out.xml tests"), IDX)
    assert cmd.targets == ["tests"] and cmd.options == []
    said = "\n".join(cmd.notes)
    for word in ("-n auto: pytest-xdist", "--cov=stats: pytest-cov", "--cov-report term-missing", "--timeout 30",
                 "-p xdist", "--reruns 2", "--junitxml=out.xml: the sandbox sets its own"):
        assert word in said, (word, said)


def test_a_target_not_in_the_project_is_reported_missing():
    cmd = parse_pytest(pytest_args("pytest -k empty tests/test_nothere.py"), IDX)
    assert cmd.missing == ["tests/test_nothere.py"]
    with pytest.raises(CommandError, match="needs a value"):
        parse_pytest(pytest_args("pytest tests -k"), IDX)


@pytest.mark.parametrize("text, targets, options", [
    ("python -m unittest tests.test_core", ["tests/test_core.py"], []),
    ("python -m unittest -v tests.test_core.TestCore.test_mean", ["tests/test_core.py::TestCore::test_mean"], []),
    ("python3 -m unittest tests/test_core.py", ["tests/test_core.py"], []),
    ("python -m unittest", [""], ["-o", "python_files=test*.py"]),
    ("python -m unittest discover -s tests -p '*_test.py'", ["tests"], ["-o", "python_files=*_test.py"]),
    ("python -m unittest discover tests 'test_*.py'", ["tests"], ["-o", "python_files=test_*.py"]),
    ("python -m unittest -k mean tests.test_core", ["tests/test_core.py"], ["-k", "mean"]),
])
def test_unittest_command_lines_run_under_pytest(text, targets, options):
    args = strip_prefix(split(text), commandline.UNITTEST_PREFIXES)
    assert args is not None
    cmd = parse_unittest(args, IDX)
    assert (cmd.targets, cmd.options, cmd.missing) == (targets, options, [])
    assert "unittest" in cmd.notes[0]


def files_of(texts: dict[str, str]):
    def read(name: str) -> str:
        if name not in texts:
            raise FileNotFoundError(name)
        return texts[name]
    return read


def test_addopts_naming_missing_plugins_is_overridden_and_said():
    texts = {"pyproject.toml": '[tool.pytest.ini_options]\naddopts = "-ra --cov=stats -n auto --strict-markers"\n'}
    options, notes = addopts_override(files_of(texts), set(texts), IDX)
    assert options == ["-o", "addopts=-ra --strict-markers"]
    assert len(notes) == 2 and all("addopts" in n for n in notes)


@pytest.mark.parametrize("name, text", [
    ("pytest.ini", "[pytest]\naddopts = -ra -q\n"),
    ("setup.cfg", "[tool:pytest]\naddopts = --strict-markers\n"),
    ("tox.ini", "[tox]\nenvlist = py312\n"),
    ("pyproject.toml", '[tool.pytest.ini_options]\naddopts = ["-ra", "-q"]\n'),
    ("pyproject.toml", "[project]\nname = 'x'\n"),
    ("pyproject.toml", "this is = = not toml"),
])
def test_addopts_the_sandbox_can_run_are_left_to_pytest(name, text):
    assert addopts_override(files_of({name: text}), {name}, IDX) == ([], [])


def test_pytest_ini_wins_over_pyproject_as_pytest_reads_them():
    texts = {"pytest.ini": "[pytest]\naddopts = -q\n", "pyproject.toml": '[tool.pytest.ini_options]\naddopts = "-n 4"\n'}
    assert addopts_override(files_of(texts), set(texts), IDX) == ([], [])
    texts["setup.cfg"] = "[tool:pytest]\naddopts = -n 4\n"
    del texts["pytest.ini"]
    assert addopts_override(files_of(texts), set(texts), IDX)[0] == ["-o", "addopts="]


def test_test_files_pytest_would_not_collect_by_name_are_added_to_its_patterns():
    from brain.intake.commandline import collect_too

    read = files_of({"setup.cfg": "[tool:pytest]\npython_files = check_*.py\n"})
    assert collect_too(read, {"setup.cfg"}, ["tests/test.py", "tests/check_x.py"]) == \
        ["-o", "python_files=check_*.py test.py"]
    assert collect_too(files_of({}), set(), ["tests/test_x.py", "x_test.py"]) == []
    assert collect_too(files_of({}), set(), ["tests.py"]) == ["-o", "python_files=test_*.py *_test.py tests.py"]


def test_a_node_id_whose_parameters_hold_spaces_is_one_target():
    from brain.intake.commandline import split
    assert split("pytest tests/test_r.py::test_between[a BETWEEN .03 AND .06] -q") == [
        "pytest", "tests/test_r.py::test_between[a BETWEEN .03 AND .06]", "-q"]
    assert split("tests/test_r.py::test_between[a BETWEEN .03 AND .06]") == [
        "tests/test_r.py::test_between[a BETWEEN .03 AND .06]"]
    assert split("pytest -k 'a and b' tests") == ["pytest", "-k", "a and b", "tests"]
