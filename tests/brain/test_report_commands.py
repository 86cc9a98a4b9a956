"""Reports of command-line tools (the shapes of real, closed GitHub issues of pylint, pyupgrade,
pycodestyle, isort, pyflakes and sqlite-utils in benchmarks/issues): the command becomes the
reproduction, with the files the report shows. Pure: no sandbox here (tests/test_cli.py and the
App's e2e run one)."""

from __future__ import annotations

import pytest

from brain.intake import command
from brain.intake.command import Tool, command_for_input, command_from_report, console_scripts
from brain.intake.report import Unusable
from brain.intake.traceback import ProjectIndex, parse_log

PYLINT = '''# `AttributeError: 'Name' object has no attribute 'value'` in _check_typevar

### Bug description

```python
from typing import TypeVar

# Each line causes a separate crash in _check_typevar
T = TypeVar("T", covariant=a)
```

### Configuration

```ini

```

### Command used

```shell
pylint crash.py
```

### Pylint output

```python
Traceback (most recent call last):
  File "pylint/pylint/utils/ast_walker.py", line 87, in walk
    callback(astroid)
  File "pylint/pylint/checkers/base/name_checker/checker.py", line 741, in _check_typevar
    elif kw.arg == "covariant" and kw.value.value:
AttributeError: 'Name' object has no attribute 'value'
```
'''

PYUPGRADE = '''# six.reraise: IndexError: list index out of range

Minimal test case. Requires using the `--py3-plus` argument.

```
def foo(func, arg):
    et, ev, _ = sys.exc_info()
    six.reraise(et, (ev[0], ev[1] + (" %s %s" % (func, arg))))
```

```
Traceback (most recent call last):
  File ".../venv/bin/pyupgrade", line 10, in <module>
    sys.exit(main())
  File ".../venv/lib64/python3.8/site-packages/pyupgrade.py", line 1849, in _replace_call
    src = tmpl.format(args=arg_strs, rest=rest)
IndexError: list index out of range
```
'''

ISORT = '''# Float To Top errors when file only has newlines

```
$ echo "\\n" > example.py
$ .venv/bin/isort --float-to-top example.py
Traceback (most recent call last):
  File ".venv/bin/isort", line 10, in <module>
    sys.exit(main())
  File ".venv/lib/python3.8/site-packages/isort/core.py", line 89, in process
    while current[-1] == "\\n":
IndexError: string index out of range
```
'''

PYCODESTYLE = '''here's a minimal reproduction:

```python
if True:
    assert(1)
```

```console
$ python3 -m pycodestyle t2.py
Traceback (most recent call last):
  File "/usr/lib/python3.8/runpy.py", line 194, in _run_module_as_main
    return _run_code(code, main_globals, None,
  File "/tmp/venv/lib/python3.8/site-packages/pycodestyle.py", line 2089, in check_logical
    token_offset, pos = mapping[bisect.bisect_left(
IndexError: list index out of range
```
'''

FLAKE8 = '''# Internal error on invalid print (py2) statement

## code
```py
print *= -1
```

## Traceback
```
Traceback (most recent call last):
  File "/venv/lib/python3.10/site-packages/flake8/checker.py", line 341, in run_check
    return plugin.obj(**arguments, **params)
  File "/venv/lib/python3.10/site-packages/pyflakes/checker.py", line 2052, in AUGASSIGN
    self.handleNodeLoad(node.target)
KeyError: 'print'
```
'''

SQLITE_UTILS = '''# Insert CSV with --detect-types crashes for CSV files that contain only a header row

using `sqlite-utils insert "$dbfile" "$table" "$csvfile" --csv --detect-types` I run into this error:
  File "/root/.local/pipx/venvs/sqlite-utils/lib/python3.11/site-packages/sqlite_utils/db.py", line 1780, in transform
    assert self.exists(), "Cannot transform a table that doesn't exist yet"
AssertionError: Cannot transform a table that doesn't exist yet
'''


def failure_of(text: str, files: list[str]):
    parsed = parse_log(text, index=ProjectIndex(None, files=files))
    return parsed.failures[0]


def test_console_scripts_come_from_every_declaration():
    files = {
        "pyproject.toml": '[project]\nname = "pylint"\nscripts.pylint = "pylint:run_pylint"\n'
                          '[tool.poetry.scripts]\nlegacy = "pylint.old:main"\n',
        "setup.cfg": "[options.entry_points]\nconsole_scripts =\n    pyupgrade = pyupgrade._main:main\n",
        "setup.py": "setup(entry_points={'console_scripts': ['pyflakes = pyflakes.api:main']})\n",
    }
    assert console_scripts(lambda p: files[p]) == {"pylint": "pylint:run_pylint", "legacy": "pylint.old:main",
                                                    "pyupgrade": "pyupgrade._main:main", "pyflakes": "pyflakes.api:main"}


def test_the_report_s_command_and_its_input_file():
    tools = {"pylint": Tool("pylint", "pylint:run_pylint")}
    cmd = command_from_report(PYLINT, failure_of(PYLINT, ["pylint/checkers/base/name_checker/checker.py"]), tools)
    assert cmd is not None and cmd.args == ["crash.py"] and "block 3" in cmd.how
    assert cmd.files == {"crash.py": 'from typing import TypeVar\n\n# Each line causes a separate crash in '
                                     '_check_typevar\nT = TypeVar("T", covariant=a)\n'}  # not the empty ini block
    script = command.script(cmd, failure_of(PYLINT, []))
    assert "_pve_sys.argv = ['pylint', 'crash.py']" in script.text
    assert "'AttributeError'" in script.text  # the shown crash of the reported type is raised again
    compile(script.text, "reproduce_issue.py", "exec")


def test_the_entry_frame_names_the_tool_and_the_prose_its_option():
    tools = {"pyupgrade": Tool("pyupgrade", "pyupgrade._main:main")}
    cmd = command_from_report(PYUPGRADE, failure_of(PYUPGRADE, ["pyupgrade.py"]), tools)
    assert cmd is not None and cmd.args == ["--py3-plus", "t.py"] and cmd.assembled
    assert cmd.files["t.py"].startswith("def foo(func, arg):")


def test_a_shell_line_that_writes_the_input_file():
    tools = {"isort": Tool("isort", "isort.main:main")}
    cmd = command_from_report(ISORT, failure_of(ISORT, ["isort/core.py"]), tools)
    assert cmd is not None and cmd.args == ["--float-to-top", "example.py"]
    assert cmd.files == {"example.py": "\n\n"}  # sh's echo reads "\n"


def test_python_dash_m_runs_the_project_s_module():
    tools = {"-m pycodestyle": Tool("pycodestyle", "pycodestyle", module=True)}
    cmd = command_from_report(PYCODESTYLE, failure_of(PYCODESTYLE, ["pycodestyle.py"]), tools)
    assert cmd is not None and cmd.tool.module and cmd.args == ["t2.py"]
    assert cmd.files == {"t2.py": "if True:\n    assert(1)\n"}
    assert "run_module('pycodestyle'" in command.script(cmd, failure_of(PYCODESTYLE, [])).text


def test_the_project_s_own_tool_for_code_that_came_through_another_program():
    tools = {"pyflakes": Tool("pyflakes", "pyflakes.api:main")}
    assert command_from_report(FLAKE8, failure_of(FLAKE8, ["pyflakes/checker.py"]), tools) is None  # flake8 ran it
    failure = failure_of(FLAKE8, ["pyflakes/__init__.py", "pyflakes/checker.py"])
    cmd = command_for_input(FLAKE8, tools, {"pyflakes"}, failure, lambda name: True)
    assert cmd is not None and cmd.files == {"t.py": "print *= -1\n"} and "input, not a caller" in cmd.how
    assert cmd.tool.name == "pyflakes"  # its own tool, not flake8 that ran it


ASTROID = '''# `AttributeError: 'FunctionDef' object has no attribute 'ancestors'` in _lookup_in_mro

The following code triggers an `AttributeError` in astroid:

```python
class C(metaclass=fn):
    pass
```

```python-traceback
Traceback (most recent call last):
  File "pylint/pylint/utils/ast_walker.py", line 87, in walk
    callback(astroid)
  File "astroid/astroid/interpreter/dunder_lookup.py", line 33, in _lookup_in_mro
    ancestor.locals.get(name, []) for ancestor in node.ancestors(recurs=True)
AttributeError: 'FunctionDef' object has no attribute 'ancestors'
```
'''


def test_the_program_the_traceback_came_through_when_the_project_requires_it():
    """astroid has no command of its own; its crash came through pylint, which its development
    requirements name: ``python -m pylint`` runs the report's code."""
    failure = failure_of(ASTROID, ["astroid/__init__.py", "astroid/interpreter/dunder_lookup.py"])
    cmd = command_for_input(ASTROID, {}, {"astroid"}, failure, {"pylint"}.__contains__)
    assert cmd is not None and cmd.tool.module and cmd.tool.target == "pylint" and cmd.args == ["t.py"]
    assert "run with pylint, which the traceback came through and the project requires" in cmd.how
    assert command_for_input(ASTROID, {}, {"astroid"}, failure, lambda name: False) is None  # not required: not there


def test_what_the_report_does_not_show_is_said():
    tools = {"sqlite-utils": Tool("sqlite-utils", "sqlite_utils.cli:cli")}
    with pytest.raises(Unusable, match=r"shell variables \(\$csvfile, \$dbfile, \$table\)"):
        command_from_report(SQLITE_UTILS, failure_of(SQLITE_UTILS, ["sqlite_utils/db.py"]), tools)
    cut = PYUPGRADE.split("```\n\n```")[1]  # the traceback alone: no input anywhere
    with pytest.raises(Unusable, match="shows no input for it"):
        command_from_report("# IndexError\n```\n" + cut, failure_of("```\n" + cut, ["pyupgrade.py"]),
                            {"pyupgrade": Tool("pyupgrade", "pyupgrade._main:main")})
