"""Repair operators: each proposes the one-line fix a person would write, and touches nothing else."""

from __future__ import annotations

import difflib

import pytest

from brain.offline import mutate
from brain.source import SourceFile


def mutants_at(src_text: str, line: int) -> list[mutate.Mutant]:
    src = SourceFile("m.py", src_text)
    return list(mutate.at_line(src, line, src.enclosing_function(line)))


def in_function(src_text: str, name: str) -> list[mutate.Mutant]:
    src = SourceFile("m.py", src_text)
    func = next(f for f in src.tree.body if getattr(f, "name", None) == name)
    return list(mutate.in_function(src, func))


def find(mutants: list[mutate.Mutant], rule: str, expected_text: str) -> mutate.Mutant:
    hits = [m for m in mutants if m.rule == rule and m.new_text == expected_text]
    assert hits, f"no {rule} mutant gives the expected text; got:\n" + "\n---\n".join(
        m.new_text for m in mutants if m.rule == rule)
    return hits[0]


def changed_lines(before: str, after: str) -> list[str]:
    return [x for x in difflib.ndiff(before.splitlines(), after.splitlines()) if x[:1] in "+-"]


def one_line_fix(template: str, buggy: str, fixed: str, line: int, rule: str) -> mutate.Mutant:
    before, after = template.format(buggy), template.format(fixed)
    m = find(mutants_at(before, line), rule, after)
    assert len(changed_lines(before, after)) == 2  # one line out, one line in: the diff is the edit
    return m


CASES = [
    # (template, buggy, fixed, line, rule)
    ("def f(a, n):\n    return a[0] if {} else None\n", "n < 1", "n <= 1", 2, "compare.boundary"),
    ("def f(x):\n    if {}:\n        return 1\n    return 0\n", "x > 0", "x < 0", 2, "compare.flip"),
    ("def f(k, d):\n    return {}\n", "k in d", "k not in d", 2, "compare.flip"),
    ("def f(a, b):\n    return {}  # keep me\n", "a + b", "a - b", 2, "arith.swap"),
    ("def f(a, b):\n    return {}\n", "a / b", "a // b", 2, "arith.swap"),
    ("def f(a, b):\n    return {}\n", "b - a", "a - b", 2, "arith.swap-operands"),
    ("def f(a):\n    return {}\n", "len(a) + 1", "len(a)", 2, "bound.drop-one"),
    ("def f(a, b):\n    return {}\n", "a and b", "a or b", 2, "boolop.swap"),
    ("def f(a, b):\n    return {}\n", "a and b", "a", 2, "boolop.drop"),
    ("def f(a):\n    if {}:\n        return 1\n", "a", "not a", 2, "condition.negate"),
    ("def f(a):\n    if {}:\n        return 1\n", "not a", "a", 2, "condition.negate"),
    ("def f(a, i):\n    return {}\n", "a[i]", "a[i - 1]", 2, "bound.plus-minus-one"),
    ("def f(a, n):\n    return {}\n", "a[:n]", "a[:n + 1]", 2, "bound.plus-minus-one"),
    ("def f(n):\n    return [i for i in {}]\n", "range(1, n)", "range(1, n + 1)", 2, "bound.plus-minus-one"),
    ("def f(x, n):\n    return x < {}\n", "n", "n - 1", 2, "bound.plus-minus-one"),
    ("def f(x):\n    return x * {}\n", "100", "101", 2, "constant.near"),
    ("def f(x):\n    return x * {}\n", "5", "0", 2, "constant.other"),
    ("def f():\n    flag = {}\n    return flag\n", "True", "False", 2, "constant.other"),
    ("def f(a, b):\n    return g({})\n", "a, b", "b, a", 2, "call.swap-args"),
    ("def f(a, b):\n    return {}(a, b)\n", "min", "max", 2, "call.swap-function"),
    ("def f(s):\n    return s.{}('x')\n", "startswith", "endswith", 2, "call.swap-function"),
    ("def f(a, end):\n    return max(a, {})\n", "end", "end + 1", 2, "value.plus-minus-one"),
    ("def f(items):\n    for x in {}:\n        print(x)\n", "items", "items[1:]", 2, "loop.iterate"),
    # slips (brain/offline/slips.py)
    ("def f(ms):\n    t = 0\n    for m in ms:\n        {}\n    return t\n", "t = m", "t += m", 4, "slip.accumulate"),
    ("def f(ms):\n    t = 0\n    for m in ms:\n        {}\n    return t\n", "t + m", "t += m", 4, "slip.no-effect"),
    ("def f(w):\n    return {} + w[1:]\n", "w[0].upper", "w[0].upper()", 2, "slip.call"),
    ("def f(s):\n    return len({})\n", "s.split", "s.split()", 2, "slip.call"),
    ("def f(n, r):\n    return {} / r\n", "str(n)", "n", 2, "slip.conversion"),
    ("def f(q, out):\n    while {}:\n        out.append(q.pop())\n", "True", "q", 2, "loop.condition"),
    ("def f(g, k):\n    d = {{}}\n    for t in g:\n        {}\n    return d\n", "d[t] = 1", "d[t] += 1", 4, "slip.accumulate"),
    ("def f(a, b):\n    out = []\n    {}\n    return out\n", "out.append(a)", "out.extend(a)", 3, "call.swap-function"),
    ("def f(q):\n    return {}\n", "q.pop()", "q.pop(0)", 2, "call.pop-end"),
    ("def f(q):\n    return {}\n", "q.pop(0)", "q.pop()", 2, "call.pop-end"),
    ("def f(xs):\n    best = cur = xs[0]\n    for x in xs:\n        cur = {}\n    return cur\n",
     "max(0, cur + x)", "max(x, cur + x)", 4, "constant.to-name"),
    ("def f(n):\n    i = j = 0\n    while i < n:\n        {}\n    return j\n", "j += 1", "i += 1", 4, "variable.wrong"),
]


@pytest.mark.parametrize(("template", "buggy", "fixed", "line", "rule"), CASES,
                         ids=[f"{c[4]}:{c[1]}->{c[2]}" for c in CASES])
def test_operator_proposes_the_fix(template, buggy, fixed, line, rule):
    m = one_line_fix(template, buggy, fixed, line, rule)
    assert 0 < m.prior <= 1


def test_comments_and_formatting_elsewhere_survive():
    src = "def f(a, b):\n    # why: totals are inclusive\n    total = a+b   # odd spacing kept\n    return total\n"
    m = find(mutants_at(src, 3), "arith.swap", src.replace("a+b", "a-b"))
    assert "# odd spacing kept" in m.new_text and "# why" in m.new_text


def test_columns_are_utf8_byte_offsets():
    src = "def f(a, b):\n    label = 'größe'; return a < b\n"
    find(mutants_at(src, 2), "compare.boundary", src.replace("a < b", "a <= b"))


def test_wrong_variable_stays_within_scope_and_kind():
    src = ("def f(items: list, lo: int, hi: int):\n"
           "    found = []\n"
           "    count = 0\n"
           "    return lo + count\n")
    ms = [m for m in mutants_at(src, 4) if m.rule == "variable.wrong"]
    texts = {m.new_text.splitlines()[3].strip() for m in ms}
    assert "return hi + count" in texts and "return lo + lo" in texts
    assert not any("items" in t or "found" in t for t in texts)  # a list is never swapped for an int


def test_wrong_attribute_from_the_same_class():
    src = ("class Acct:\n"
           "    def __init__(self):\n"
           "        self.hits = 0\n"
           "        self.misses = 0\n"
           "\n"
           "    def rate(self):\n"
           "        return self.misses / (self.hits + self.misses)\n")
    find(mutants_at(src, 7), "attribute.wrong", src.replace("return self.misses /", "return self.hits /"))


def test_dropped_condition_unwraps_the_body():
    src = "def f(x, out):\n    if x > 0:\n        out.append(x)\n    return out\n"
    find(mutants_at(src, 2), "condition.drop", "def f(x, out):\n    out.append(x)\n    return out\n")


def test_statement_delete_and_copy():
    src = "def f(xs):\n    total = 0\n    for x in xs:\n        total += x\n        total += x\n    return total\n"
    find(mutants_at(src, 5), "statement.delete", src.replace("        total += x\n", "", 1))
    src2 = "def f(stack, out):\n    out.append(stack.pop())\n    x = 1\n    return out\n"
    find(mutants_at(src2, 3), "statement.copy",
         "def f(stack, out):\n    out.append(stack.pop())\n    out.append(stack.pop())\n    x = 1\n    return out\n")


def test_missing_return_returns_the_last_assigned_name():
    src = "def total(xs):\n    result = sum(xs)\n    result = result * 2\n"
    m = find(in_function(src, "total"), "return.missing", src + "    return result\n")
    assert m.prior >= mutate.PRIORS["return.missing"] * 0.9


def test_a_dropped_value_is_returned_but_not_a_side_effect_call():
    src = "def f(xs, out):\n    sorted(xs)\n    out.append(1)\n"
    find(mutants_at(src, 2), "return.expression", src.replace("    sorted(xs)", "    return sorted(xs)"))
    assert not [m for m in mutants_at(src, 3) if m.rule == "return.expression"]


def test_base_case_for_a_recursive_function():
    src = "def fact(n):\n    return n * fact(n - 1)\n"
    ms = in_function(src, "fact")
    fixed = "def fact(n):\n    if n <= 1:\n        return 1\n    return n * fact(n - 1)\n"
    m = find(ms, "guard.base-case", fixed)
    plain = in_function("def g(n):\n    return n * 2\n", "g")
    assert m.prior > max(x.prior for x in plain if x.rule == "guard.base-case")  # recursion makes it likelier


def test_no_operator_touches_other_lines():
    src = "def f(a, b):\n    x = a + b\n    y = a - b\n    return x * y\n"
    checked = []
    for m in mutants_at(src, 3):
        if m.rule in ("statement.copy", "statement.delete", "condition.drop"):
            continue
        lines = m.new_text.splitlines()
        assert lines[1] == "    x = a + b" and lines[3] == "    return x * y", m
        assert lines[2] != "    y = a - b", m  # the mutant changed its own line
        checked.append(m.rule)
    assert len(checked) >= 5 and len(set(checked)) >= 3, checked  # operators did run on line 3


def test_slips_stay_where_they_are_slips():
    # an assignment outside a loop, or to a name first set there, is no accumulation
    assert not [m for m in mutants_at("def f(m):\n    t = 0\n    t = m\n    return t\n", 3) if m.rule == "slip.accumulate"]
    assert not [m for m in mutants_at("def f(ms):\n    for m in ms:\n        t = m\n    return t\n", 3)
                if m.rule == "slip.accumulate"]
    # a called method, or one that takes arguments, is left alone
    assert not [m for m in mutants_at("def f(s):\n    return s.upper() + s.replace\n", 2) if m.rule == "slip.call"]
    # while True with no collection it takes from has no condition to offer
    assert not [m for m in mutants_at("def f(g):\n    while True:\n        g()\n", 2) if m.rule == "loop.condition"]
