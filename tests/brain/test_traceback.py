"""The parser against real log shapes: CI logs, pytest styles, chains, syntax errors, foreign paths."""

from __future__ import annotations

import pytest

from brain.intake.logtext import clean_lines, decode_log
from brain.intake.traceback import ProjectIndex, categorize, parse_log
from pve.errors import BadInput
from pve.models import Category, same_exception_type


def _only(parsed):
    assert len(parsed.failures) == 1, parsed.failures
    return parsed.failures[0]


def test_github_actions_log_with_bom_ansi_timestamps_and_groups(examples):
    root = examples / "stats"
    raw = (root / "ci.log").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\x1b[" in raw and b"##[group]" in raw
    parsed = parse_log(decode_log(raw), root)
    assert parsed.is_pytest
    assert parsed.failing_tests == ["tests/test_core.py::test_mean_of_empty_sample_is_zero"]
    f = _only(parsed)
    assert f.exception.type == "ZeroDivisionError"
    assert f.exception.message == "division by zero"
    inner = f.exception.frames[-1]
    assert (inner.project_path, inner.line, inner.function) == ("stats/core.py", 12, "mean")
    assert inner.code == "return total(values) / len(values)"


def test_pytest_short_style_maps_foreign_paths(examples):
    root = examples / "inventory"
    f = _only(parse_log((root / "pytest.log").read_text(), root))
    assert f.test_id == "tests/test_stock.py::test_unknown_sku_has_no_stock"
    assert f.exception.type == "KeyError" and f.exception.message == "'pear'"
    assert [(fr.project_path, fr.function) for fr in f.exception.frames] == [
        ("tests/test_stock.py", "test_unknown_sku_has_no_stock"), ("inventory/stock.py", "quantity")]


def test_pytest_native_style_skips_site_packages_frames(examples):
    root = examples / "pagination"
    f = _only(parse_log((root / "pytest.log").read_text(), root))
    assert f.test_id == "tests/test_pages.py::test_last_item"
    project = [fr.project_path for fr in f.exception.frames if fr.project_path]
    assert project == ["tests/test_pages.py", "pagination/pages.py"]
    assert all(fr.project_path is None for fr in f.exception.frames if "site-packages" in fr.file)


def test_pytest_collection_error_with_syntax_error(examples):
    root = examples / "shapes"
    f = _only(parse_log((root / "pytest.log").read_text(), root))
    assert f.test_id == "tests/test_area.py"
    assert f.exception.type == "SyntaxError" and f.exception.message == "expected ':'"
    assert (f.exception.syntax_file, f.exception.syntax_line) == ("shapes/area.py", 7)


def test_two_failing_tests_same_cause(examples):
    root = examples / "config_loader"
    parsed = parse_log((root / "pytest.log").read_text(), root)
    assert len(parsed.failures) == 2
    assert {f.exception.type for f in parsed.failures} == {"AttributeError"}
    assert parsed.failures[0].exception.frames[-1].project_path == "config_loader/loader.py"


def test_plain_traceback_with_311_carets_and_did_you_mean(examples):
    root = examples / "textstats"
    f = _only(parse_log((root / "error.log").read_text(), root))
    assert f.exception.type == "NameError"
    assert f.exception.message.startswith("name 'fonud' is not defined")
    assert [fr.project_path for fr in f.exception.frames] == ["report.py", "wordcount.py"]
    assert f.exception.frames[-1].code == "return sum(len(w) for w in found) / len(fonud)"


CHAINED = """\
Traceback (most recent call last):
  File "/app/svc/config.py", line 8, in load
    return json.loads(text)
  File "/usr/lib/python3.12/json/__init__.py", line 346, in loads
    return _default_decoder.decode(s)
json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/app/main.py", line 3, in <module>
    main()
  File "/app/svc/config.py", line 10, in load
    raise ConfigError("bad config") from exc
svc.errors.ConfigError: bad config

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/app/main.py", line 5, in <module>
    log.fatal(err)
AttributeError: 'NoneType' object has no attribute 'fatal'
"""


def test_chained_exceptions_keep_the_chain_and_report_the_last():
    idx = ProjectIndex(None, files=["main.py", "svc/config.py"])
    f = _only(parse_log(CHAINED, index=idx))
    assert f.exception.type == "AttributeError"
    assert [e.qualified_type for e in f.chain] == ["json.decoder.JSONDecodeError", "svc.errors.ConfigError"]
    assert f.chain[0].frames[0].project_path == "svc/config.py"
    assert f.chain[0].frames[1].project_path is None  # stdlib


SYNTAX_NO_HEADER = """\
  File "C:\\\\Users\\\\dev\\\\proj\\\\app\\\\util.py", line 4
    def broken(x)
                 ^
SyntaxError: expected ':'
"""


def test_syntax_error_without_traceback_header_and_windows_path():
    idx = ProjectIndex(None, files=["app/util.py"])
    f = _only(parse_log(SYNTAX_NO_HEADER, index=idx))
    assert f.exception.type == "SyntaxError"
    assert (f.exception.syntax_file, f.exception.syntax_line) == ("app/util.py", 4)


INDENT = """\
Traceback (most recent call last):
  File "/home/u/p/run.py", line 1, in <module>
    import lib
  File "/home/u/p/lib.py", line 3
    return 1
IndentationError: unexpected indent
"""


def test_indentation_error_from_an_import():
    idx = ProjectIndex(None, files=["run.py", "lib.py"])
    f = _only(parse_log(INDENT, index=idx))
    assert f.exception.type == "IndentationError"
    assert (f.exception.syntax_file, f.exception.syntax_line) == ("lib.py", 3)
    assert categorize(f.exception.type) is Category.SYNTAX


def test_summary_only_and_truncated_type():
    log = ("collected 2 items\n\n"
           "FAILED tests/test_a.py::test_x[1-2] - ZeroDivisionEr...\n"
           "FAILED tests/test_a.py::TestY::test_z - assert 1 == 2\n"
           "ERROR tests/test_b.py - ModuleNotFoundError: No module named 'yaml'\n")
    parsed = parse_log(log, index=ProjectIndex(None, files=[]))
    assert parsed.failing_tests == ["tests/test_a.py::test_x[1-2]", "tests/test_a.py::TestY::test_z", "tests/test_b.py"]
    by_id = {f.test_id: f.exception for f in parsed.failures}
    assert by_id["tests/test_a.py::test_x[1-2]"].type_truncated
    assert same_exception_type(by_id["tests/test_a.py::test_x[1-2]"], "ZeroDivisionError")
    assert not same_exception_type(by_id["tests/test_a.py::test_x[1-2]"], "ValueError")
    assert by_id["tests/test_a.py::TestY::test_z"].type == "AssertionError"
    assert by_id["tests/test_b.py"].type == "ModuleNotFoundError"


def test_assertion_rewrite_long_form():
    log = """\
=================================== FAILURES ===================================
_________________________________ test_total __________________________________

    def test_total():
>       assert total([1, 2]) == 4
E       assert 3 == 4
E        +  where 3 = total([1, 2])

tests/test_t.py:5: AssertionError
=========================== short test summary info ============================
FAILED tests/test_t.py::test_total - assert 3 == 4
"""
    f = _only(parse_log(log, index=ProjectIndex(None, files=["tests/test_t.py"])))
    assert f.exception.type == "AssertionError" and f.exception.message == "assert 3 == 4"
    assert f.exception.frames[0].code == "assert total([1, 2]) == 4"
    assert f.test_id == "tests/test_t.py::test_total"


def test_recursion_error_with_repeated_lines():
    log = ('Traceback (most recent call last):\n  File "f.py", line 4, in <module>\n    f(1)\n'
           '  File "f.py", line 2, in f\n    return f(n)\n           ^^^^\n'
           '  [Previous line repeated 996 more times]\nRecursionError: maximum recursion depth exceeded\n')
    f = _only(parse_log(log, index=ProjectIndex(None, files=["f.py"])))
    assert f.exception.type == "RecursionError" and len(f.exception.frames) == 2
    assert categorize("RecursionError") is Category.RECURSION


def test_clean_lines_strips_ci_noise():
    raw = "\ufeff2026-07-28T16:19:59.9385068Z ##[group]Run tests\n2026-07-28T16:19:59.9Z \x1b[31mE   boom\x1b[0m\n##[error]Process completed"
    assert clean_lines(raw) == ["E   boom", "Process completed"]


@pytest.mark.parametrize("raw, words", [
    (b"", "empty"), (b"  \n\t\n", "empty"), (b"\x00\x01\x02binary\x00", "binary"),
    (bytes(range(128, 256)) * 64, "text"),
])
def test_bad_logs_get_clear_errors(raw, words):
    with pytest.raises(BadInput, match=words):
        decode_log(raw)


def test_log_without_traceback_finds_nothing():
    assert parse_log("all good\nbuild finished\n", index=ProjectIndex(None, files=[])).failures == []


def test_paths_outside_project_are_not_mapped(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text("x = 1\n")
    idx = ProjectIndex(tmp_path)
    assert idx.locate("/home/runner/work/r/r/pkg/mod.py") == "pkg/mod.py"
    assert idx.locate("/usr/lib/python3.11/site-packages/pkg/mod.py") is None
    assert idx.locate("/usr/lib/python3.11/json/decoder.py") is None
    assert idx.locate("/somewhere/else/other.py") is None
    assert idx.locate("<frozen runpy>") is None
    assert idx.locate("../../pkg/mod.py") is None


# pytest 8's long report for two tests whose printed source holds a nested def (captured).
NESTED = """\
=================================== FAILURES ===================================
____________________________________ test_x ____________________________________

    def test_x():
>       assert outer(1) == 2
               ^^^^^^^^

tests/test_m.py:5:
_ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _
mod.py:5: in outer
    return helper(x) + 1
           ^^^^^^^^^
_ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _

y = 1

    def helper(y):
>       return y.missing
               ^^^^^^^^^
E       AttributeError: 'int' object has no attribute 'missing'

mod.py:3: AttributeError
___________________________________ test_box ___________________________________

    def test_box():
        def check(b):
            return b.value()
>       assert check(Box()) == 1
               ^^^^^^^^^^^^

tests/test_m.py:11:
_ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _
tests/test_m.py:10: in check
    return b.value()
           ^^^^^^^^^
mod.py:12: in value
    return inner()
           ^^^^^^^
_ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _

    def inner():
>       return {}["k"]
               ^^^^^^^
E       KeyError: 'k'

mod.py:11: KeyError
=========================== short test summary info ============================
FAILED tests/test_m.py::test_x - AttributeError: 'int' object has no attribut...
FAILED tests/test_m.py::test_box - KeyError: 'k'
============================== 2 failed in 0.03s ===============================
"""


def test_a_nested_def_in_the_printed_source_is_not_the_frames_function():
    idx = ProjectIndex(None, files=["mod.py", "tests/test_m.py"])
    x, box = parse_log(NESTED, index=idx).failures
    assert [(f.line, f.function) for f in x.exception.frames] == [(5, "test_x"), (5, "outer"), (3, "helper")]
    assert [(f.line, f.function) for f in box.exception.frames] == [(11, "test_box"), (10, "check"), (12, "value"),
                                                                    (11, "inner")]
