"""Tracebacks as reporters paste them into issues (the shapes met in benchmarks/issues: real,
closed GitHub issues), read by the same parser as any log."""

from __future__ import annotations

import pytest

from brain.intake.report import Unusable
from brain.intake.traceback import parse_log

# sqlite-utils (pipx install): the reporter copied from the first frame, leaving the header out
HEADERLESS = '''Running with --detect-types fails:

  File "/root/.local/pipx/venvs/sqlite-utils/lib/python3.11/site-packages/sqlite_utils/cli.py", line 1055, in insert_upsert_implementation
    db[table].transform(types=tracker.types)
  File "/root/.local/pipx/venvs/sqlite-utils/lib/python3.11/site-packages/sqlite_utils/db.py", line 1981, in transform
    assert self.exists(), "Cannot transform a table that doesn't exist yet"
AssertionError: Cannot transform a table that doesn't exist yet
'''

# pyflakes via flake8: the traceback is cut before its exception line; the title names it
CUT = '''# AttributeError: 'Checker' object has no attribute 'handleNodeStore'

## Traceback

Traceback (most recent call last):
  File "/venv/lib/python3.10/site-packages/flake8/checker.py", line 341, in run_check
    return plugin(**arguments, **self.processor.keyword_arguments_for(params, self.processor.checker_state))
  File "/venv/lib/python3.10/site-packages/pyflakes/checker.py", line 787, in __init__
    self.handleChildren(tree)
  File "/venv/lib/python3.10/site-packages/pyflakes/checker.py", line 1238, in handleChildren
'''

# astroid: cut too, the exception named only in the prose
PROSE = '''The following code triggers a `TypeError` in astroid:

Traceback (most recent call last):
  File "astroid/astroid/nodes/node_ng.py", line 140, in infer
    yield from self._infer(context=context, **kwargs)
  File "astroid/astroid/inference_tip.py", line 67, in inner
'''

# add-trailing-comma: pasted into a quoted reply
QUOTED = '''> Traceback (most recent call last):
>   File "/root/.cache/pre-commit/repo57gmvexh/py_env-python3.10/bin/add-trailing-comma", line 8, in <module>
>     sys.exit(main())
>   File "/root/.cache/pre-commit/repo57gmvexh/py_env-python3.10/lib/python3.10/site-packages/add_trailing_comma/_main.py", line 111, in main
>     ret |= _fix_file(filename, args)
> IndexError: list index out of range
'''


def one(text: str):
    (failure,) = parse_log(text).failures
    return failure.exception


def test_frames_without_their_header():
    exc = one(HEADERLESS)
    assert (exc.type, exc.message, len(exc.frames), exc.cut) == \
        ("AssertionError", "Cannot transform a table that doesn't exist yet", 2, False)
    assert exc.frames[-1].function == "transform"


def test_a_traceback_cut_before_its_exception_takes_the_type_the_title_names():
    exc = one(CUT)
    assert (exc.type, exc.message, exc.cut) == ("AttributeError", "'Checker' object has no attribute 'handleNodeStore'", True)
    assert [f.function for f in exc.frames] == ["run_check", "__init__", "handleChildren"]


def test_a_cut_traceback_named_only_in_the_prose():
    exc = one(PROSE)
    assert (exc.type, exc.message, exc.cut, len(exc.frames)) == ("TypeError", "", True, 2)


def test_a_quoted_traceback():
    exc = one(QUOTED)
    assert (exc.type, exc.message, len(exc.frames)) == ("IndexError", "list index out of range", 2)


def test_frames_with_no_exception_anywhere_are_still_nothing_usable():
    assert parse_log(PROSE.replace("`TypeError`", "an error")).failures == []
    assert parse_log("  File \"a.py\", line 3, in f\n    x()\nall good\n").failures == []


def test_a_cut_quoted_traceback_named_in_a_ticked_title():
    """add-trailing-comma: a quoted pre-commit run, cut; the title is "`AssertionError: Past end?`
    on match statement"."""
    text = "# `AssertionError: Past end?` on match statement\n\n" + "\n".join(QUOTED.splitlines()[:-1]) + "\n"
    exc = one(text)
    assert (exc.type, exc.message, exc.cut, len(exc.frames)) == ("AssertionError", "Past end?", True, 2)


FRAMES_ONLY = '''Traceback (most recent call last):
  File "/venv/lib/python3.8/site-packages/markdown_it/main.py", line 275, in render
    return self.renderer.render(self.parse(src, env), self.options, env)
  File "/venv/lib/python3.8/site-packages/markdown_it/parser_block.py", line 107,'''


def test_the_title_names_the_exception_of_a_cut_traceback_in_the_ways_titles_do():
    for title, want in (
            ("--py36-plus: ValueError: Single '{' encountered in format string",  # pyupgrade
             ("ValueError", "Single '{' encountered in format string")),
            ("Combination of blockquotes, list and newlines causes an IndexError", ("IndexError", "")),  # markdown-it-py
            ("'WindowsPath' object has no attribute 'startswith' when setting cwd",  # pyfakefs: a message, no type
             ("AttributeError", "'WindowsPath' object has no attribute 'startswith' when setting cwd")),
    ):
        exc = one(f"# {title}\n\n{FRAMES_ONLY}\n")
        assert (exc.type, exc.message, exc.cut) == (*want, True), title
    # a title that names no exception leaves a cut traceback unusable
    assert parse_log(f"# Internal error on invalid print statement\n\n{FRAMES_ONLY}\n").failures == []


# --------------------------------------------------------------------------- more shapes (issue 33)

from brain.intake.report import as_python3, reproduction_script  # noqa: E402
from brain.intake.traceback import ProjectIndex  # noqa: E402

# dateutil#662: IPython 7, inside <details>, cut before its exception (the title names it)
IPYTHON7 = '''# InvalidOperation: `[<class 'decimal.InvalidOperation'>]` while parsing `Nan`

```
import dateutil
dateutil.parser.parse('Nan')
```

<details>

```ipython
Traceback (most recent call last)
<ipython-input-8-aea1750fc455> in <module>()
----> 1 dateutil.parser.parse('Nan')

~/.virtualenvs/backend/lib/python3.6/site-packages/dateutil/parser/_parser.py in parse(timestr, parserinfo, **kwargs)
   1310         return parser(parserinfo).parse(timestr, **kwargs)
   1311     else:
-> 1312         return DEFAULTPARSER.parse(timestr, **kwargs)
   1313

~/.virtualenvs/backend/lib/python3.6/site-packages/dateutil/parser/_parser.py in _parse(self, timestr, dayfirst)
    699                 if value is not None:
--> 701                     i = self._parse_numeric_token(l, i, info, ymd, res, fuzzy)
    702
'''

IPYTHON8 = '''```ipython
In [3]: t.column("population")
---------------------------------------------------------------------------
AttributeError                            Traceback (most recent call last)
Cell In[3], line 1
----> 1 t.column("population")

File ~/envs/geo/lib/python3.12/site-packages/tablekit/table.py:23, in Table.column(self, name)
     22     """The values of one column, top to bottom."""
---> 23     index = self.header.index(name)
     24     return [row[index] for row in self.rows]

AttributeError: 'Table' object has no attribute 'header'
```
'''

# pyfakefs#1074: pytest's failure output without its header
E_LINES = '''```
self = <pyfakefs.fake_io.FakeFcntlModule object at 0x7f237a9ba760>, name = 'LOCK_SH'

    def __getattribute__(self, name):
        """Forwards any unfaked calls to the standard fcntl module."""
>       return object.__getattribute__(self, name)
E       AttributeError: 'FakeFcntlModule' object has no attribute 'LOCK_SH'
```
'''

# sqlite-utils#759: only the failing line and the exception; the code runs in `python -c`
BARE = '''```bash
uv run --with sqlite-utils python -c '
import sqlite_utils
db = sqlite_utils.Database(memory=True)
db.table("has_defaults").insert({})
'
```
```
    batch_size = max(1, min(batch_size, SQLITE_MAX_VARS // num_columns))
ZeroDivisionError: division by zero
```
'''

GROUP = '''  + Exception Group Traceback (most recent call last):
  |   File "t.py", line 10, in <module>
  |     run()
  |   File "/x/site-packages/pkg/run.py", line 4, in run
  |     raise ExceptionGroup("many", errs)
  | ExceptionGroup: many (2 sub-exceptions)
  +-+---------------- 1 ----------------
    | Traceback (most recent call last):
    |   File "/x/site-packages/pkg/run.py", line 2, in one
    |     raise ValueError("a")
    | ValueError: a
    +------------------------------------
'''

CHAINED = '''Traceback (most recent call last):
  File "/x/site-packages/pkg/a.py", line 3, in load
    return d[k]
KeyError: 'x'

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "app.py", line 5, in <module>
    pkg.load()
  File "/x/site-packages/pkg/a.py", line 5, in load
    raise ConfigError("missing")
pkg.errors.ConfigError: missing
'''


def test_an_ipython_7_traceback_cut_in_a_details_block():
    exc = one(IPYTHON7)
    assert (exc.type, exc.cut) == ("InvalidOperation", True)  # a class name heading the title
    assert [(f.function, f.line) for f in exc.frames] == [("<module>", 1), ("parse", 1312), ("_parse", 701)]
    assert exc.frames[0].code == "dateutil.parser.parse('Nan')"


def test_an_ipython_8_traceback_names_methods_by_their_own_name():
    exc = one(IPYTHON8)
    assert (exc.type, exc.message) == ("AttributeError", "'Table' object has no attribute 'header'")
    assert [(f.file, f.line, f.function) for f in exc.frames] == [
        ("<ipython-input-3>", 1, "<module>"), ("~/envs/geo/lib/python3.12/site-packages/tablekit/table.py", 23, "column")]


def test_pytest_e_lines_without_their_header():
    exc = one(E_LINES)
    assert (exc.type, exc.message, exc.frames) == ("AttributeError", "'FakeFcntlModule' object has no attribute 'LOCK_SH'", [])


def test_a_bare_exception_after_its_line_of_code():
    exc = one(BARE)
    assert (exc.type, exc.message, exc.frames) == ("ZeroDivisionError", "division by zero", [])


def test_an_exception_group_is_read_with_its_sub_exceptions_after_it():
    failures = parse_log(GROUP).failures
    assert [(f.exception.type, len(f.exception.frames)) for f in failures] == [("ExceptionGroup", 2), ("ValueError", 1)]


def test_a_chained_traceback_is_the_last_exception_with_the_first_as_its_cause():
    (failure,) = parse_log(CHAINED).failures
    assert failure.exception.type == "ConfigError" and [c.type for c in failure.chain] == ["KeyError"]


def test_a_cut_traceback_that_names_no_exception_is_a_crash_in_the_project_s_frames():
    text = CUT.split("\n", 1)[1]  # without the title that named it
    (failure,) = parse_log(text, index=ProjectIndex(None, files=["pyflakes/__init__.py", "pyflakes/checker.py"])).failures
    assert (failure.exception.type, failure.exception.type_truncated) == ("", True)  # any type, in these frames
    assert failure.exception.frames[-1].function == "handleChildren"


# --------------------------------------------------------------------------- reproductions from them


def no_exports(_: str) -> set[str]:
    return set()


def test_python_2_is_read_as_python_3():
    code, changed = as_python3('print obj.method(1)\ntry:\n    f()\nexcept ValueError, e:\n    print e,\nprint')
    assert changed and code == "print(obj.method(1))\ntry:\n    f()\nexcept ValueError as e:\n    print(e, end=' ')\nprint()"
    assert as_python3("print(1)") == ("print(1)", False)


def test_standard_library_names_and_submodules_the_session_had_loaded():
    report = "```python\nimport dateutil\nx = randint(1, 9)\ndateutil.parser.parse('Nan')\n```\n"
    failure = parse_log(IPYTHON7.replace("import dateutil\ndateutil.parser.parse('Nan')", "x")).failures[0]
    script = reproduction_script(report, failure, {"dateutil": "dateutil"}, no_exports,
                                 modules=frozenset({"dateutil", "dateutil.parser"}))
    assert script is not None
    assert script.text.startswith("import dateutil.parser\nfrom random import randint\nimport dateutil\n")
    assert any("standard library" in n for n in script.notes) and any("submodule" in n for n in script.notes)


def test_a_file_the_code_opens_is_written_from_the_block_the_report_names_for_it():
    report = ('```python\nimport tomlkit\nprint(tomlkit.load(open("deps.toml")))\n```\n\n'
              'my `deps.toml`:\n\n```toml\n[deps]\nx = "1"\n```\n\nTraceback (most recent call last):\n'
              '  File "r.py", line 2, in <module>\n    print(tomlkit.load(open("deps.toml")))\nKeyError: \'x\'\n')
    failure = parse_log(report).failures[0]
    script = reproduction_script(report, failure, {"tomlkit": "tomlkit"}, no_exports)
    assert script is not None and "open('deps.toml', 'w', encoding='utf-8').write('[deps]\\nx = \"1\"\\n')" in script.text
    assert "wrote deps.toml from code block 2 (the code reads it)" in script.notes


def test_a_report_s_test_module_runs_under_pytest_with_the_project_s_fixture():
    report = ("```\nimport fcntl\n\n\ndef lock():\n    with open('lock_file', 'a+') as f:\n"
              "        fcntl.flock(f, fcntl.LOCK_SH)\n\n\ndef test_lock(fs):\n    lock()\n```\n\n" + E_LINES)
    failure = parse_log(report).failures[0]
    # imports only fcntl: the project comes in through its pytest plugin's `fs`
    script = reproduction_script(report, failure, {"pyfakefs": "pyfakefs"}, no_exports, frozenset({"fs"}))
    assert script is not None and script.tests and "pytest runs it" in script.notes[-1]
    with pytest.raises(Unusable):
        reproduction_script(report, failure, {"pyfakefs": "pyfakefs"}, no_exports)  # no such fixture: not this project


def test_python_dash_c_code_in_a_shell_block_is_the_reproduction():
    script = reproduction_script(BARE, parse_log(BARE).failures[0], {"sqlite_utils": "sqlite_utils"}, no_exports)
    assert script is not None and script.text.startswith("import sqlite_utils\ndb = sqlite_utils.Database(memory=True)")


FRAMES_ONLY_REPORT = '''# Table.column() crashes

My rows come from our API:

```json
[["widget", 3], ["gadget", 5]]
```

```
Traceback (most recent call last):
  File "/srv/reports/build.py", line 12, in <module>
    counts = Table(["item", "count"], rows).column("count")
  File "/srv/reports/.venv/lib/python3.12/site-packages/tablekit/table.py", line 23, in column
    index = self.header.index(name)
AttributeError: 'Table' object has no attribute 'header'
```
'''


def test_the_traceback_s_own_call_with_the_report_s_data_is_the_reproduction():
    """No code block: the reporter's script line the traceback shows, the project imported, the
    one value it needs from the one data block."""
    from brain.intake.report import frames_script
    failure = parse_log(FRAMES_ONLY_REPORT).failures[0]
    script = frames_script(FRAMES_ONLY_REPORT, failure, {"tablekit": "src/tablekit"}, lambda _: {"Table"})
    assert script is not None
    assert script.text == ("from tablekit import Table\n"
                           "rows = [['widget', 3], ['gadget', 5]]\n"
                           'counts = Table(["item", "count"], rows).column("count")\n')
    assert any("the traceback's own line" in n for n in script.notes)
    no_data = FRAMES_ONLY_REPORT.replace('[["widget", 3], ["gadget", 5]]', "(the rows are private)")
    with pytest.raises(Unusable, match="uses rows, and the report does not show its value"):
        frames_script(no_data, parse_log(no_data).failures[0], {"tablekit": "src/tablekit"}, lambda _: {"Table"})


CUT_CHAIN = '''# AttributeInferenceError: '__slots__' not found on ClassDef node

```python-traceback
Traceback (most recent call last):
  File "astroid/astroid/nodes/scoped_nodes/scoped_nodes.py", line 2450, in igetattr
    attributes = self.getattr(name, context, class_context=class_context)
  File "astroid/astroid/nodes/scoped_nodes/scoped_nodes.py", line 2383, in getattr
    raise AttributeInferenceError(target=self, attribute=name, context=context)
astroid.exceptions.AttributeInferenceError: '__slots__' not found on <ClassDef.C l.1 at 0x7f8063c70500>.

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "pylint/pylint/utils/ast_walker.py", line 87, in walk
    callback(astroid)
  File "astroid/astroid/nodes/scoped_nodes/scoped_nodes.py", line 2813, in slots
    return self._all'''


def test_a_chain_cut_after_its_marker_is_the_link_the_report_names():
    """astroid#3067: the title names the first link's exception; the second traceback is cut
    before its own: the failure is the complete first link, not the cut one with a borrowed type."""
    (failure,) = parse_log(CUT_CHAIN).failures
    assert (failure.exception.type, failure.exception.cut) == ("AttributeInferenceError", False)
    assert [f.function for f in failure.exception.frames] == ["igetattr", "getattr"]
