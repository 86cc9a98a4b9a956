"""Model answers: parsing, and search/replace edits placed exactly, fuzzily, or not at all."""

from __future__ import annotations

import json

import pytest

from brain.models.answer import InvalidAnswer, ModelCandidate, SearchReplace, parse_answer
from brain.models.edits import apply_edit, to_candidates

SRC = "def area(w, h):\n    if w < 0:\n        raise ValueError(w)\n    return w + h\n\n\ndef perimeter(w, h):\n    return 2 * (w + h)\n"


def _answer(**over):
    data = {"reproduction": "from shapes import area\nassert area(2, 3) == 6\nprint('PVE-FIXED x')\n",
            "candidates": [{"rationale": "multiply", "edits": [{"file": "shapes.py", "search": "    return w + h\n",
                                                                 "replace": "    return w * h\n"}]}]}
    data.update(over)
    return json.dumps(data)


def test_parse_plain_and_fenced_json():
    assert parse_answer(_answer()).candidates[0].edits[0].file == "shapes.py"
    fenced = "Here you go:\n```json\n" + _answer() + "\n```\n"
    assert parse_answer(fenced).candidates[0].rationale == "multiply"


@pytest.mark.parametrize("text, why", [
    ("no json here", "not valid JSON"),
    ("[1, 2]", "not an object"),
    (_answer(candidates=[]), "candidates"),
    (_answer(reproduction="def broken(:\n"), "does not compile"),
    (_answer(candidates=[{"rationale": "x", "edits": [{"file": "../etc/passwd", "search": "a", "replace": "b"}]}]),
     "project-relative"),
    (_answer(candidates=[{"rationale": "x", "edits": [{"file": "/abs.py", "search": "a", "replace": "b"}]}]),
     "project-relative"),
])
def test_invalid_answers_say_why(text, why):
    with pytest.raises(InvalidAnswer, match=why):
        parse_answer(text)


def _edit(search, replace, file="shapes.py"):
    return SearchReplace(file=file, search=search, replace=replace)


def test_exact_edit():
    new, fuzzy = apply_edit(SRC, _edit("    return w + h\n", "    return w * h\n"))
    assert not fuzzy and "return w * h" in new and "2 * (w + h)" in new


def test_fuzzy_edit_restores_lost_indentation_and_trailing_spaces():
    # the model dropped the function's indentation and added trailing blanks
    new, fuzzy = apply_edit(SRC, _edit("if w < 0:   \n    raise ValueError(w)\nreturn w + h", "if w < 0:\n    raise ValueError(w)\nreturn w * h"))
    assert fuzzy
    assert "    if w < 0:\n        raise ValueError(w)\n    return w * h\n" in new


def test_ambiguous_or_missing_search_is_rejected_never_guessed():
    twice = SRC + "\n\ndef other(w, h):\n    return w + h\n"
    with pytest.raises(ValueError, match="occurs 2 times"):
        apply_edit(twice, _edit("    return w + h\n", "    return w * h\n"))
    with pytest.raises(ValueError, match="matches 2 places"):
        apply_edit(twice, _edit("return  w + h", "return w * h"))  # no exact match; two fuzzy ones
    with pytest.raises(ValueError, match="not found"):
        apply_edit(SRC, _edit("return w - h", "return w * h"))
    with pytest.raises(ValueError, match="empty search"):
        apply_edit(SRC, _edit("", "x = 1\n"))


def test_candidates_are_built_with_diffs_and_bad_ones_dropped_with_reasons():
    files = {"shapes.py": SRC}

    def read(p):
        if p not in files:
            raise FileNotFoundError(p)
        return files[p]

    good = ModelCandidate(rationale="multiply", edits=[_edit("    return w + h\n", "    return w * h\n")])
    same = ModelCandidate(rationale="again", edits=[_edit("return w + h", "return w * h")])  # fuzzy, same result
    missing = ModelCandidate(rationale="x", edits=[_edit("a", "b", file="nope.py")])
    broken = ModelCandidate(rationale="x", edits=[_edit("    return w + h\n", "    return w *\n")])
    noop = ModelCandidate(rationale="x", edits=[_edit("    return w + h\n", "    return w + h\n")])
    cands, dropped = to_candidates([good, same, missing, broken, noop], read, source="gemini:m", first_id=7)
    assert [c.id for c in cands] == [7]
    assert cands[0].source == "gemini:m" and "-    return w + h" in cands[0].diff and cands[0].diff_lines == 2
    assert [d.split(": ", 1)[1] for d in dropped] == [
        "same edit as an earlier candidate", "nope.py is not a file of the project",
        "shapes.py does not compile after the edit: invalid syntax (shapes.py, line 4)", "changes nothing"]
