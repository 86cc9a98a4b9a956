"""Statement-shape operators for wrong answers (brain/offline/shapes.py): each proposes the fix a person
would write for a bug of that shape, and nothing where the shape is absent."""

from __future__ import annotations

import ast

from brain.offline import shapes
from brain.source import SourceFile


def _edits(text: str, line: int) -> dict[str, list[str]]:
    src = SourceFile("m.py", text)
    stmt = src.statement_at(line)
    assert stmt is not None
    func = src.enclosing_function(line)
    header = [stmt] if not hasattr(stmt, "body") else [getattr(stmt, "test", stmt)]
    out: dict[str, list[str]] = {}
    for e in shapes.at_statement(src, stmt, func, header):
        ast.parse(e.new_text)  # every edit is still Python
        out.setdefault(e.rule, []).append(e.new_text)
    return out


def test_if_becomes_while_when_the_step_must_repeat():
    text = "def roman(n):\n    out = ''\n    for v, s in PAIRS:\n        if n >= v:\n            out += s\n            n -= v\n    return out\n"
    assert text.replace("if n >= v", "while n >= v") in _edits(text, 4)["loop.if-while"]


def test_join_in_reverse_and_str_appended_to_a_list_of_strings():
    text = "def binary(n):\n    digits = []\n    while n:\n        digits.append(n % 2)\n        n //= 2\n    return ''.join(digits)\n"
    wraps = _edits(text, 4)["call.wrap"]
    assert text.replace("append(n % 2)", "append(str(n % 2))") in wraps  # the list is joined: it holds strings
    assert text.replace("join(digits)", "join(reversed(digits))") in _edits(text, 6)["call.wrap"]
    plain = "def evens(xs):\n    out = []\n    for x in xs:\n        out.append(x)\n    return out\n"
    assert "call.wrap" not in _edits(plain, 4) or all("str(" not in t for t in _edits(plain, 4)["call.wrap"])


def test_an_item_of_a_nested_structure_goes_through_the_function_again():
    text = ("def flatten(items):\n    out = []\n    for item in items:\n        if isinstance(item, list):\n"
            "            out.extend(item)\n        else:\n            out.append(item)\n    return out\n")
    assert text.replace("out.extend(item)", "out.extend(flatten(item))") in _edits(text, 5)["call.recurse"]


def test_one_part_of_a_sort_key_the_other_way_round():
    text = "def top(counts):\n    return sorted(counts, key=lambda w: (counts[w], w))\n"
    assert text.replace("(counts[w], w)", "(-counts[w], w)") in _edits(text, 2)["value.negate"]


def test_swapped_indices_and_a_digit_too_few():
    text = "def transpose(m):\n    return [[m[j][i] for i in range(2)] for j in range(3)]\n"
    assert text.replace("m[j][i]", "m[i][j]") in _edits(text, 2)["subscript.swap"]
    text = "def check(n):\n    if not 0 < n < 400:\n        raise ValueError(n)\n"
    assert text.replace("400", "4000") in _edits(text, 2)["constant.decimal"]


def test_the_sibling_statement_for_the_parallel_names():
    text = ("def merge(a, b):\n    out, i, j = [], 0, 0\n    while i < len(a) and j < len(b):\n"
            "        if a[i] <= b[j]:\n            out.append(a[i])\n            i += 1\n        else:\n"
            "            out.append(b[j])\n            j += 1\n    out.extend(a[i:])\n    return out\n")
    assert text.replace("    out.extend(a[i:])\n", "    out.extend(a[i:])\n    out.extend(b[j:])\n") in \
        _edits(text, 10)["statement.sibling"]


def test_a_step_another_method_does_and_this_one_forgot():
    text = ("class Cache:\n    def put(self, key, value):\n        self.data[key] = value\n"
            "        self.data.move_to_end(key)\n\n    def get(self, key):\n        self.hits += 1\n"
            "        return self.data[key]\n\n    def size(self):\n        return len(self.data)\n")
    fixed = text.replace("        self.hits += 1\n", "        self.hits += 1\n        self.data.move_to_end(key)\n")
    assert fixed in _edits(text, 7)["statement.from-method"]
    # size() has no `key`: the step cannot be copied there
    assert "statement.from-method" not in _edits(text, 11)


def test_ranges_counted_from_one_or_stepped():
    text = "def fizz(n):\n    out = []\n    for i in range(n):\n        out.append(i)\n    return out\n"
    assert text.replace("range(n)", "range(1, n + 1)") in _edits(text, 3)["range.one-based"]
    text = "def chunks(items, size):\n    return [items[s:s + 2] for s in range(0, len(items))]\n"
    assert text.replace("range(0, len(items))", "range(0, len(items), size)") in _edits(text, 2)["range.step"]


def test_sort_order_and_whole_or_one_item():
    text = "def report(rows):\n    rows.sort(key=lambda r: r[1])\n    return rows\n"
    assert text.replace("r[1])", "r[1], reverse=True)") in _edits(text, 2)["call.sort-order"]
    text = "def avg_of(marks):\n    return average(marks[0])\n"
    assert text.replace("marks[0]", "marks") in _edits(text, 2)["subscript.drop"]
    text = ("def backwards(words):\n    result = []\n    for i in range(len(words) - 1, -1, -1):\n"
            "        result.append(words)\n    return result\n")
    assert text.replace("append(words)", "append(words[i])") in _edits(text, 4)["subscript.add"]


def test_a_sequence_compared_with_reversed_is_compared_with_its_reverse():
    text = "def palindrome(s):\n    return s == reversed(s)\n"
    assert text.replace("reversed(s)", "s[::-1]") in _edits(text, 2)["call.reversed-slice"]


def test_the_literal_the_failing_assert_got_becomes_the_one_it_expects():
    # pytest's own message for a long list (its reprs shortened), and the direct run's full one
    shortened = ("assert ['A', 'A', 'B...'C', 'D', ...] == ['A', 'A', 'B...'C', 'D', ...]\n  \n"
                 "  At index 6 diff: 'E' != 'F'\n  Use -v to get more diff")
    assert shapes.assertion_values(shortened) == ("E", "F")
    full = "assert ['A', 'B', 'E'] == ['A', 'B', 'F']\n +  where ['A', 'B', 'E'] = <listcomp>"
    assert shapes.assertion_values(full) == (["A", "B", "E"], ["A", "B", "F"])
    assert shapes.assertion_values("assert f(2) == 4") is None  # not literals: nothing to take
    text = "def letter(score):\n    if score >= 60:\n        return 'D'\n    return 'E'\n"
    src = SourceFile("m.py", text)
    stmt = src.statement_at(4)
    assert stmt is not None
    for actual, expected in (("E", "F"), (["A", "B", "E"], ["A", "B", "F"])):
        (edit,) = shapes.expected_constant(src, stmt, actual, expected)
        assert edit.new_text == text.replace("'E'", "'F'")
    # only a returned label: a literal inside a computation or a table would fit the test alone
    text = "def count(text):\n    n = 0\n    return n\n"
    src = SourceFile("m.py", text)
    assert list(shapes.expected_constant(src, src.statement_at(2), 0, 3)) == []
    text = "PAIRS = [(5, 'V'), (1, 'I')]\n"
    src = SourceFile("m.py", text)
    assert list(shapes.expected_constant(src, src.statement_at(1), "I", "III")) == []


def test_values_right_but_of_the_wrong_type_point_to_a_conversion():
    assert shapes.hinted(("11", 11)) == shapes.hinted((["Buzz", 11], ["Buzz", "11"])) != {}
    assert shapes.hinted((["Buzz", 12], ["Buzz", "11"])) == {} and shapes.hinted(None) == {}
