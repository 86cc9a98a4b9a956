"""Regression test selection (statemachine/impact.py): which tests a change can affect, from the
baseline's record of which functions each test ran."""

from __future__ import annotations

from pve.models import Reach, RunResult
from statemachine import impact, oracle

CORE = '''"""Core."""
import functools

LIMIT = 10


def add(a, b):
    """Add."""
    return a + b


def scale(x, factor=2):
    def inner(y):
        return y * factor
    return inner(x)


class Box:
    size = 1

    def get(self):
        return self.v

    @functools.lru_cache
    def cached(self):
        return 1


if LIMIT:
    def picked():
        return 1
else:
    def picked():
        return 2
'''

FUNCS = ["pkg/core.py:7", "pkg/core.py:12", "pkg/core.py:13", "pkg/core.py:21", "pkg/core.py:25",
         "pkg/core.py:30", "pkg/core.py:33"]


def record(**changes) -> Reach:
    tests = {"t::add": [0], "t::scale": [1, 2], "t::box": [3], "t::both": [0, 3], "t::none": [],
             "t::picked": [5]}
    base = {"functions": FUNCS, "files": ["pkg/core.py"], "tests": tests}
    return Reach(**{**base, **changes})


def read(path: str) -> str:
    if path == "pkg/core.py":
        return CORE
    raise FileNotFoundError(path)


def edit(old: str, new: str) -> dict[str, str]:
    assert old in CORE
    return {"pkg/core.py": CORE.replace(old, new, 1)}


def test_a_changed_function_selects_the_tests_that_ran_it():
    got = impact.affected(record(), read, edit("return a + b", "return b + a"))
    assert got.tests == {"t::add", "t::both"}
    assert got.changed == ["pkg/core.py: add"]


def test_a_method_and_a_nested_function_are_their_own():
    got = impact.affected(record(), read, edit("return self.v", "return self.v or 0"))
    assert got.tests == {"t::box", "t::both"} and got.changed == ["pkg/core.py: Box.get"]
    inner = impact.affected(record(), read, edit("return y * factor", "return factor * y"))
    assert inner.tests == {"t::scale"} and inner.changed == ["pkg/core.py: scale.<locals>.inner"]


def test_a_docstring_or_comment_or_moved_line_numbers_change_nothing_that_runs():
    moved = impact.affected(record(), read, {"pkg/core.py": CORE.replace('"""Core."""\n', '"""Core."""\n\n\n# note\n')})
    assert moved.tests == set() and moved.changed == []


def test_a_repeated_definition_is_told_apart_by_its_order():
    got = impact.affected(record(), read, edit("        return 2", "        return 3"))
    assert got.changed == ["pkg/core.py: picked"] and got.tests == set()  # the second picked() never ran
    first = impact.affected(record(), read, edit("        return 1\nelse", "        return 0\nelse"))
    assert first.tests == {"t::picked"}


def test_what_runs_at_import_selects_everything():
    for old, new in [("LIMIT = 10", "LIMIT = 11"),  # a module constant
                     ("size = 1", "size = 2"),  # a class attribute
                     ("factor=2", "factor=3"),  # a default value
                     ("    @functools.lru_cache\n", "    @functools.cache\n"),  # a decorator
                     ("class Box:", "class Box(object):"),
                     ("\n\nclass Box", "\n\ndef helper():\n    return 0\n\n\nclass Box")]:  # a new function
        got = impact.affected(record(), read, edit(old, new))
        assert got.tests is None, (old, new)
        assert "at import" in got.why


def test_a_function_that_ran_outside_a_test_selects_everything():
    got = impact.affected(record(shared=[0]), read, edit("return a + b", "return b + a"))
    assert got.tests is None and "outside a test" in got.why


def test_what_the_record_could_not_see_selects_everything_or_always_runs():
    assert impact.affected(record(whole=True), read, edit("return a + b", "return b + a")).tests is None
    spawned = impact.affected(record(spawned=["t::cli"]), read, edit("return a + b", "return b + a"))
    assert spawned.tests == {"t::add", "t::both", "t::cli"}
    # a file it never saw into: nothing imported it (any other loader is seen as unseen code)
    unseen = impact.affected(record(files=[]), read, edit("return a + b", "return b + a"))
    assert unseen.tests == set()


def test_files_that_are_not_plain_source_select_everything():
    for patches in ({"pkg/data.json": "{}"}, {"tests/test_core.py": "x = 1\n"}, {"pkg/new.py": "x = 1\n"},
                    {"pkg/core.py": "def add(:\n"}):
        assert impact.affected(record(), read, patches).tests is None, patches


def test_an_unknown_function_position_selects_everything():
    got = impact.affected(record(functions=FUNCS[1:]), read, edit("return a + b", "return b + a"))
    assert got.tests is None and "not in the baseline's record" in got.why


def test_the_scope_in_words():
    got = impact.affected(record(), read, edit("return a + b", "return b + a"))
    text = impact.described(got, 40, 2)
    assert text.startswith("2 of 40 tests that passed before run the changed code (pkg/core.py: add)")
    assert "the other 38 never entered it" in text
    assert impact.described(impact.Affected(None, why="x"), 40, 40) == "all 40 tests that passed before (x)"


def test_shards_records_merge_by_function_name():
    a = Reach(functions=["m.py:1", "m.py:5"], files=["m.py"], tests={"t::a": [1]}, shared=[0])
    b = Reach(functions=["m.py:5", "n.py:2"], files=["n.py", "m.py"], tests={"t::b": [0, 1]}, spawned=["t::c"])
    merged = oracle.merge_reach([a, b])
    assert merged is not None
    names = {t: [merged.functions[k] for k in ks] for t, ks in merged.tests.items()}
    assert names == {"t::a": ["m.py:5"], "t::b": ["m.py:5", "n.py:2"]}
    assert [merged.functions[k] for k in merged.shared] == ["m.py:1"]
    assert merged.files == ["m.py", "n.py"] and merged.spawned == ["t::c"]
    assert oracle.merge_reach([a, None]) is None  # one shard without a record: no selection at all


def test_a_subset_is_split_only_when_it_is_worth_a_sandbox():
    durations = {"t::slow": 5000.0, "t::mid": 3000.0, "t::a": 10.0, "t::b": 10.0}
    baseline = RunResult(label="b", sandbox_id="s", command="c", exit_code=0, duration_ms=1, started_at=0)
    baseline.record.durations = durations
    assert oracle.balanced_subset(baseline, {"t::a", "t::b"}, 2) == [["t::a", "t::b"]]
    assert oracle.balanced_subset(baseline, set(durations), 2) == [["t::slow"], ["t::a", "t::b", "t::mid"]]
    assert oracle.balanced_subset(baseline, set(), 2) == []


def test_every_edited_part_needs_tests_of_its_own():
    """The evidence map: a signature default is its function's (not "the module"), an edit to one
    function is not evidenced by the tests of another, and module-level code by any test that ran
    the module's functions."""
    two = {"pkg/core.py": CORE.replace("return a + b", "return b + a").replace("def scale(x, factor=2)",
                                                                               "def scale(x, factor=3)")}
    parts = impact.evidence(record(), read, two)
    assert parts == {"pkg/core.py: add": {"t::add", "t::both"}, "pkg/core.py: scale": {"t::scale"}}
    untested = impact.evidence(record(tests={"t::add": [0]}), read, two)
    assert untested["pkg/core.py: scale"] == set()  # no test ran scale(): no evidence for that edit
    module = impact.evidence(record(), read, edit("LIMIT = 10", "LIMIT = 11"))
    assert module == {"pkg/core.py: module level": {"t::add", "t::scale", "t::box", "t::both", "t::picked"}}
    assert "2 tests that ran the edited code passed before and after: pkg/core.py: add (1 test)" in \
        impact.coverage(parts, {"t::add", "t::scale"})


def test_a_module_of_data_is_evidenced_by_the_tests_of_the_modules_that_import_it():
    """sqlparse's keyword tables (sqlparse/keywords.py): no function of their own that a test
    runs, read at import by the lexer, whose tests run the tables. The maintainers' fixes there
    were "plausible" for want of a test that "ran" the module."""
    files = {"pkg/keywords.py": "KEYWORDS = {'SELECT': 1}\n",
             "pkg/lexer.py": "from . import keywords\n\n\ndef lex(s):\n    return keywords.KEYWORDS.get(s)\n",
             "pkg/other.py": "def unrelated():\n    return 1\n"}
    reach = Reach(functions=["pkg/lexer.py:4", "pkg/other.py:1"], files=list(files),
                  tests={"t::lex": [0], "t::other": [1]})
    parts = impact.evidence(reach, files.__getitem__, {"pkg/keywords.py": "KEYWORDS = {'SELECT': 1, 'MERGE': 2}\n"})
    assert parts == {"pkg/keywords.py: module level": {"t::lex"}}
    absolute = {**files, "pkg/lexer.py": "from pkg.keywords import KEYWORDS\n\n\ndef lex(s):\n    return KEYWORDS.get(s)\n"}
    assert impact.evidence(reach, absolute.__getitem__, {"pkg/keywords.py": "KEYWORDS = {}\n"}) == \
        {"pkg/keywords.py: module level": {"t::lex"}}
