"""Tracebacks as reporters paste them into issues (the shapes met in benchmarks/issues: real,
closed GitHub issues), read by the same parser as any log."""

from __future__ import annotations

from brain.traceback import parse_log

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
