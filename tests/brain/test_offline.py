"""The offline engine: each template proposes the fix a person would write, ranked first or close."""

from __future__ import annotations

import pytest

from brain.intake.traceback import ProjectIndex, parse_log
from brain.offline.templates import proposals, to_candidates
from statemachine.analyze import analyze_failure


def candidates_for(files: dict[str, str], log: str, repro_files=frozenset(), limit=12):
    index = ProjectIndex(None, files=list(files))
    failure = parse_log(log, index=index).failures[-1]
    analysis = analyze_failure(failure, set(repro_files))
    read = files.__getitem__
    cands = to_candidates(proposals(analysis, read, lambda p: p not in repro_files, sorted(files)), read, limit)
    return analysis, cands


def tb(frames: list[tuple[str, int, str, str]], exc: str) -> str:
    body = "".join(f'  File "/ci/{f}", line {n}, in {fn}\n    {code}\n' for f, n, fn, code in frames)
    return f"Traceback (most recent call last):\n{body}{exc}\n"


def texts(cands):
    return [c.edits[0].new_text for c in cands]


def test_name_error_typo_gets_the_closest_name_first():
    src = "def area(width, height):\n    return widht * height\n"
    _, cands = candidates_for({"geo.py": src}, tb([("geo.py", 2, "area", "return widht * height")],
                                                  "NameError: name 'widht' is not defined"))
    assert cands[0].edits[0].new_text == "def area(width, height):\n    return width * height\n"
    assert cands[0].rule == "name.closest"


def test_name_error_missing_stdlib_import():
    src = '"""doc"""\nimport os\n\n\ndef root():\n    return math.sqrt(4)\n'
    _, cands = candidates_for({"m.py": src}, tb([("m.py", 6, "root", "return math.sqrt(4)")],
                                                "NameError: name 'math' is not defined"))
    assert '"""doc"""\nimport os\nimport math\n' in texts(cands)[0]


def test_attribute_typo_on_a_builtin_type_and_a_project_class():
    src = "def keys(d):\n    return d.kyes()\n"
    _, cands = candidates_for({"k.py": src}, tb([("k.py", 2, "keys", "return d.kyes()")],
                                                "AttributeError: 'dict' object has no attribute 'kyes'"))
    assert "return d.keys()" in texts(cands)[0]
    src2 = ("class Cart:\n    def __init__(self):\n        self.items = []\n\n    def total(self):\n"
            "        return sum(self.itmes)\n")
    _, cands = candidates_for({"c.py": src2}, tb([("c.py", 6, "total", "return sum(self.itmes)")],
                                                 "AttributeError: 'Cart' object has no attribute 'itmes'"))
    assert "return sum(self.items)" in texts(cands)[0]


def test_unbound_local_prefers_global_for_module_state():
    src = "count = 0\n\n\ndef bump():\n    count += 1\n    return count\n"
    _, cands = candidates_for({"c.py": src}, tb([("c.py", 5, "bump", "count += 1")],
                                                "UnboundLocalError: cannot access local variable 'count' where it is not associated with a value"))
    assert cands[0].rule == "unbound.global"
    assert "def bump():\n    global count\n    count += 1" in texts(cands)[0]


def test_index_error_len_is_one_past_the_end():
    src = "def last(xs):\n    return xs[len(xs)]\n"
    _, cands = candidates_for({"l.py": src}, tb([("l.py", 2, "last", "return xs[len(xs)]")],
                                                "IndexError: list index out of range"))
    assert "return xs[len(xs) - 1]" in texts(cands)[0]


def test_key_error_offers_get_with_default_and_guard():
    src = "def qty(levels, sku):\n    return levels[sku]\n"
    _, cands = candidates_for({"s.py": src}, tb([("s.py", 2, "qty", "return levels[sku]")], "KeyError: 'pear'"))
    got = texts(cands)
    assert "    return levels.get(sku, 0)\n" in got[0]
    assert any("if sku not in levels:" in t for t in got)


def test_zero_division_guard_uses_the_collection_and_annotation():
    src = "def mean(xs: list) -> float:\n    return sum(xs) / len(xs)\n"
    _, cands = candidates_for({"m.py": src}, tb([("m.py", 2, "mean", "return sum(xs) / len(xs)")],
                                                "ZeroDivisionError: division by zero"))
    assert texts(cands)[0] == "def mean(xs: list) -> float:\n    if not xs:\n        return 0.0\n    return sum(xs) / len(xs)\n"


def test_type_error_concatenation_wraps_an_operand_in_str():
    src = 'def label(n):\n    return "item " + n\n'
    _, cands = candidates_for({"t.py": src}, tb([("t.py", 2, "label", 'return "item " + n')],
                                                'TypeError: can only concatenate str (not "int") to str'))
    assert 'return "item " + str(n)' in texts(cands)[0]


@pytest.mark.parametrize("line, message, fixed", [
    ("    if x > 1\n", "expected ':'", "    if x > 1:\n"),
    ("    return f(x\n", "'(' was never closed", "    return f(x)\n"),
    ("    while x = 1:\n", "invalid syntax. Maybe you meant '==' or ':=' instead of '='?", "    while x == 1:\n"),
])
def test_syntax_repairs_compile(line, message, fixed):
    src = "def g(x):\n" + line + "        return 1\n" if line.rstrip().endswith(":") or "if" in line else "def g(x):\n" + line
    if "return f" in line:
        src = "def g(x):\n" + line
    log = f'  File "/ci/s.py", line 2\n    {line.strip()}\n    ^\nSyntaxError: {message}\n'
    _, cands = candidates_for({"s.py": src}, log)
    assert cands, "no candidate"
    assert fixed in texts(cands)[0]
    for t in texts(cands):
        compile(t, "s.py", "exec")


def test_indentation_error_realigns_the_line():
    src = "def g():\n    a = 1\n      return a\n"
    log = '  File "/ci/g.py", line 3\n    return a\nIndentationError: unexpected indent\n'
    _, cands = candidates_for({"g.py": src}, log)
    assert texts(cands)[0] == "def g():\n    a = 1\n    return a\n"


def test_import_error_closest_name_from_a_project_module():
    files = {"pkg/__init__.py": "", "pkg/core.py": "def mean(xs):\n    return 0\n",
             "app.py": "from pkg.core import mena\n"}
    log = tb([("app.py", 1, "<module>", "from pkg.core import mena")],
             "ImportError: cannot import name 'mena' from 'pkg.core' (/ci/pkg/core.py)")
    _, cands = candidates_for(files, log)
    assert texts(cands)[0] == "from pkg.core import mean\n"


def test_never_edits_tests_or_the_reproduction():
    files = {"tests/test_x.py": "def test_x():\n    assert nmae == 1\n"}
    log = tb([("tests/test_x.py", 2, "test_x", "assert nmae == 1")], "NameError: name 'nmae' is not defined")
    _analysis, cands = candidates_for(files, log)
    assert cands == []


def test_ranked_bounded_deduplicated_and_deterministic():
    src = "def f(d, k):\n    return d[k]\n"
    log = tb([("f.py", 2, "f", "return d[k]")], "KeyError: 'x'")
    _, a = candidates_for({"f.py": src}, log, limit=3)
    _, b = candidates_for({"f.py": src}, log, limit=3)
    assert len(a) == 3
    assert [c.model_dump() for c in a] == [c.model_dump() for c in b]
    assert len({c.edits[0].new_text for c in a}) == 3
    assert [c.id for c in a] == [1, 2, 3]
    assert all(c.diff.startswith("--- a/f.py\n+++ b/f.py\n") for c in a)


def test_no_template_no_candidates():
    src = "def f():\n    raise RuntimeError('boom')\n"
    _, cands = candidates_for({"f.py": src}, tb([("f.py", 2, "f", "raise RuntimeError('boom')")], "RuntimeError: boom"))
    assert cands == []


def test_key_error_in_a_counter_update_changes_only_the_read():
    src = "def count(words):\n    counts = {}\n    for w in words:\n        counts[w] = counts[w] + 1\n    return counts\n"
    _, cands = candidates_for({"c.py": src}, tb([("c.py", 4, "count", "counts[w] = counts[w] + 1")], "KeyError: 'a'"))
    assert src.replace("= counts[w] + 1", "= counts.get(w, 0) + 1") in texts(cands)
