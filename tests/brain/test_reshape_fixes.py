"""Crash templates that reshape a call or a container (brain/offline/reshape_fixes.py): each proposes
the fix a person would write, with the exact message CPython gives."""

from __future__ import annotations

import ast

from brain.offline import reshape_fixes as rf
from brain.source import SourceFile


def _at(text: str, line: int) -> tuple[SourceFile, ast.stmt]:
    src = SourceFile("m.py", text)
    stmt = src.statement_at(line)
    assert stmt is not None
    return src, stmt


def _texts(fixes) -> list[str]:
    return [f.new_text for f in fixes]


def test_a_missing_argument_is_passed_from_the_name_in_scope():
    text = ("def line_total(price, quantity):\n    return price * quantity\n\n\n"
            "def total(items):\n    total = 0\n    for price, quantity in items:\n"
            "        total += line_total(price)\n    return total\n")
    src, stmt = _at(text, 8)
    msg = "line_total() missing 1 required positional argument: 'quantity'"
    fixes = list(rf.missing_argument(src, 8, stmt, msg))
    assert fixes[0].new_text == text.replace("line_total(price)\n", "line_total(price, quantity)\n")
    assert fixes[0].rule == "call.missing-argument"
    # a near name stands in when the parameter's own name is not in scope
    near = text.replace("for price, quantity in", "for price, quantities in")
    src, stmt = _at(near, 8)
    assert near.replace("line_total(price)\n", "line_total(price, quantities)\n") in _texts(
        rf.missing_argument(src, 8, stmt, msg.replace("quantity'", "quantitie'")))
    # nothing like it in scope: no guess
    src, stmt = _at(text.replace("for price, quantity in", "for price, n in"), 8)
    assert list(rf.missing_argument(src, 8, stmt, msg)) == []


def test_arguments_meant_as_one_tuple_are_packed_or_one_dropped():
    text = "class Account:\n    def deposit(self, amount):\n        self.history.append(\"deposit\", amount)\n"
    src, stmt = _at(text, 3)
    fixes = list(rf.extra_arguments(src, 3, stmt, "list.append() takes exactly one argument (2 given)"))
    assert fixes[0].new_text == text.replace('append("deposit", amount)', 'append(("deposit", amount))')
    assert text.replace('append("deposit", amount)', 'append("deposit")') in _texts(fixes)
    text = "def area(w, h):\n    return w * h\n\n\nprint(area(2, 3, 4))\n"
    src, stmt = _at(text, 5)
    fixes = _texts(rf.extra_arguments(src, 5, stmt, "area() takes 2 positional arguments but 3 were given"))
    assert text.replace("area(2, 3, 4)", "area(2, 3)") in fixes


def test_counting_into_a_dict_without_the_key_starts_from_a_default():
    text = "def count(words):\n    counts = {}\n    for w in words:\n        counts[w] += 1\n    return counts\n"
    src, stmt = _at(text, 4)
    (fix,) = rf.augmented_missing_key(src, 4, stmt)
    assert fix.new_text == text.replace("counts[w] += 1", "counts[w] = counts.get(w, 0) + 1")
    text = "def group(pairs):\n    out = {}\n    for k, v in pairs:\n        out[k].append(v)\n    return out\n"
    src, stmt = _at(text, 4)
    (fix,) = rf.augmented_missing_key(src, 4, stmt)
    assert fix.new_text == text.replace("out[k].append(v)", "out.setdefault(k, []).append(v)")


def test_a_container_left_as_none_is_made_from_its_annotation_or_its_use():
    text = ("from collections import OrderedDict\n\n\nclass Cache:\n    def __init__(self):\n"
            "        self.data: OrderedDict[str, object] = None\n\n"
            "    def touch(self, key):\n        self.data.move_to_end(key)\n")
    src, stmt = _at(text, 9)
    fixes = list(rf.none_initialize(src, 9, stmt, "'NoneType' object has no attribute 'move_to_end'"))
    assert fixes[0].new_text == text.replace("= None", "= OrderedDict()")
    text = "def collect(xs):\n    seen = None\n    for x in xs:\n        seen.append(x)\n    return seen\n"
    src, stmt = _at(text, 4)
    fixes = list(rf.none_initialize(src, 4, stmt, "'NoneType' object has no attribute 'append'"))
    assert fixes[0].new_text == text.replace("seen = None", "seen = []")
    # None that is not a container's start (a parameter's default elsewhere) is not touched
    assert list(rf.none_initialize(src, 4, stmt, "unsupported operand type(s) for +: 'int' and 'str'")) == []


def test_a_comparison_with_a_value_that_starts_as_none():
    from brain.offline import templates
    from pve.models import Analysis, Category, ExceptionInfo, Frame

    text = ("def largest(numbers):\n    best = None\n    for n in numbers:\n        if n > best:\n"
            "            best = n\n    return best\n")
    frame = Frame(file="/work/src/m.py", line=4, function="largest", project_path="m.py")
    exc = ExceptionInfo(type="TypeError", qualified_type="TypeError",
                        message="'>' not supported between instances of 'int' and 'NoneType'", frames=[frame])
    proposals = templates.proposals(Analysis(exception=exc, category=Category.TYPE, failing_frame=frame, project_frames=[frame]), lambda _p: text, lambda _p: True, ["m.py"])
    texts = [p.new_text for p in proposals if p.rule == "none.compare"]
    assert text.replace("if n > best:", "if (best is None or n > best):") in texts
