"""Bug reports as reproductions: which code block produced the traceback, and how a careful
maintainer makes it run (earlier blocks it relies on, the library's import, typed input)."""

from __future__ import annotations

import pytest

from brain.intake.report import Unusable, blocks, package_exports, reproduction_script
from brain.intake.traceback import ProjectIndex, parse_log
from pve.models import Failure

from ..conftest import ROOT

FILES = ["src/tablekit/__init__.py", "src/tablekit/table.py", "tests/test_table.py"]
NAMES = {"tablekit": "src/tablekit"}

TB = """\
```
Traceback (most recent call last):
  File "/home/maria/reports/build.py", line 6, in <module>
    print(t.column("count"))
  File "/home/maria/.venv/lib/python3.12/site-packages/tablekit/table.py", line 23, in column
    index = self.header.index(name)
AttributeError: 'Table' object has no attribute 'header'
```
"""


def failure_of(text: str) -> Failure:
    return parse_log(text, index=ProjectIndex(None, files=FILES)).failures[0]


def exports(package: str) -> set[str]:
    return {"Table", "__version__"} if package == "tablekit" else set()


def script_of(report: str):
    return reproduction_script(report, failure_of(report), NAMES, exports)


def test_blocks_fenced_indented_and_transcripts_are_told_apart():
    text = ("Steps:\n\n```python\nimport tablekit\ntablekit.Table([])\n```\n\n"
            "```console\n$ pip install tablekit\n```\n\n"
            "    >>> import tablekit\n    >>> tablekit.Table(['a']).column('a')\n    []\n\n"
            "~~~\nTraceback (most recent call last):\n  File \"x.py\", line 1\nValueError: x\n~~~\n"
            "```\nValueError: bad\n```\n")
    kinds = [(b.kind, b.code) for b in blocks(text)]
    assert kinds == [("code", "import tablekit\ntablekit.Table([])"), ("other", ""),
                     ("repl", "import tablekit\ntablekit.Table(['a']).column('a')"), ("traceback", ""),
                     ("other", "")]


def test_the_block_holding_the_reporters_own_code_is_chosen_and_the_import_added():
    report = ("I tried the README example first:\n\n```python\nprint('hello')\n```\n\n"
              "Then my script:\n\n```python\nt = Table(['item', 'count'], [['x', 1]])\nprint(t.column(\"count\"))\n```\n\n"
              + TB)
    script = script_of(report)
    assert script is not None
    assert script.blocks == [2]
    assert script.text.startswith("from tablekit import Table\n")
    assert 'print(t.column("count"))' in script.text
    assert any("from tablekit import Table" in n for n in script.notes)


def test_a_block_that_relies_on_an_earlier_one_runs_after_it():
    report = ("```python\nimport tablekit\nrows = [['x', 1]]\n```\n\nthen\n\n"
              "```python\nt = tablekit.Table(['item', 'count'], rows)\nprint(t.column(\"count\"))\n```\n\n" + TB)
    script = script_of(report)
    assert script is not None and script.blocks == [1, 2]
    assert script.text.index("rows = ") < script.text.index("t = tablekit")


def test_a_repl_transcript_runs_without_its_prompts_and_output():
    report = ("    >>> from tablekit import Table\n    >>> t = Table(['a'], [[1]])\n    >>> len(t)\n    1\n"
              "    >>> t.column('a')\n    Traceback (most recent call last):\n"
              "      File \"<stdin>\", line 1, in <module>\n"
              "      File \"/usr/lib/python3/dist-packages/tablekit/table.py\", line 19, in column\n"
              "        index = self.header.index(name)\n"
              "    AttributeError: 'Table' object has no attribute 'header'\n")
    script = script_of(report)
    assert script is not None
    assert script.text == "from tablekit import Table\nt = Table(['a'], [[1]])\nlen(t)\nt.column('a')\n"


def test_input_gets_what_the_report_shows_was_typed():
    report = ("```python\nimport tablekit\nname = input('Column: ')\ntablekit.Table(['a']).column(name)\n```\n\n"
              "```\n$ python build.py\nColumn: a\n" + TB.strip("`\n") + "\n```\n")
    script = script_of(report)
    assert script is not None
    assert "StringIO('a\\n')" in script.text
    with pytest.raises(Unusable, match="does not show what was typed"):
        report = "```python\nimport tablekit\nn = input()\ntablekit.Table(['a']).column(n)\n```\n\n" + TB
        script_of(report)


def test_no_code_block_and_unrelated_code_are_told_apart():
    assert script_of("It crashes:\n\n" + TB) is None
    with pytest.raises(Unusable, match="none of the report's code blocks"):
        script_of("```python\nimport numpy as np\nnp.zeros(3)\n```\n\n" + TB)


def test_package_exports_read_all_or_top_level_names():
    assert package_exports('from .table import Table\n__all__ = ["Table"]\n') == {"Table"}
    assert package_exports("from .table import Table as T, _hidden\ndef load(): pass\nVERSION = 1\n") == \
        {"T", "load", "VERSION"}
    assert package_exports("def broken(:\n") == set()


def test_the_bundled_reports_read_as_their_reproductions():
    example = ROOT / "examples" / "tablekit"
    index = ProjectIndex(example)
    for name in ("report.md", "report_repl.md"):
        text = (example / name).read_text()
        failure = parse_log(text, index=index).failures[0]
        script = reproduction_script(text, failure, index.packages, exports)
        assert script is not None and "column(" in script.text, name
