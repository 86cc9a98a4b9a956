"""TRUTH.md's rules as preflight applies them: what judges is never edited, no constant is fitted
to an expectation, and anti-patterns are at most workarounds."""

from __future__ import annotations

import pytest

from pve.models import Candidate, FileEdit, Reproduction, ReproKind
from statemachine.preflight import preflight

SOLUTION = "def count(s):\n    return len(set(s) & set('aeiou'))\n"
SCRIPT_CHECK = ("from solution import count\n\n\ndef check(candidate):\n    assert candidate('xyz') == 0\n"
                "    assert candidate('banana') == 3\n\n\ncheck(count)\n")
RUNNER = ("def parse(text):\n    return text.split(',')\n\n\ndef verify(result):\n    if result != ['a']:\n"
          "        raise AssertionError(result)\n\n\nverify(parse('a'))\n")
SETTINGS = "DEFAULTS = {'retries': 3, 'timeout': 30}\n\n\ndef setting(config, name):\n    return config[name]\n"
SETTINGS_TEST = ("from settings import setting\n\n\ndef test_missing():\n    assert setting({}, 'retries') == 3\n\n\n"
                 "def test_given():\n    assert setting({'retries': 5}, 'retries') == 5\n")
LOOP = ("def fields(text):\n    out = []\n    pos = 0\n    while True:\n        end = text.index(',', pos)\n"
        "        out.append(text[pos:end])\n        pos = end + 1\n        if pos >= len(text):\n            break\n"
        "    return out\n")
FILES = {"solution.py": SOLUTION, "test_solution.py": SCRIPT_CHECK, "run.py": RUNNER, "settings.py": SETTINGS,
         "tests/test_settings.py": SETTINGS_TEST, "fields.py": LOOP, "pytest.ini": "[pytest]\naddopts = -q\n",
         "pkg/conf.py": "import pytest\n\n\n@pytest.fixture\ndef data():\n    return [1, 2]\n"}

AS_SCRIPT = Reproduction(kind=ReproKind.SCRIPT, target="test_solution.py", files=["test_solution.py"], editable_defs=True)
RUN_SCRIPT = Reproduction(kind=ReproKind.SCRIPT, target="run.py", files=["run.py"], editable_defs=True)
PYTEST = Reproduction(kind=ReproKind.PYTEST, test_ids=["tests/test_settings.py::test_missing"],
                      files=["tests/test_settings.py"])
REPORT = Reproduction(kind=ReproKind.SCRIPT, target="reproduce_issue.py", files=["reproduce_issue.py"],
                      script="from fields import fields\nprint(fields('a,b'))\n", derived_from="report: code block 1")


def pre(path, text, repro, rule="r"):
    cand = Candidate(id=1, rule=rule, rationale="", edits=[FileEdit(path=path, new_text=text)])
    return preflight(cand, lambda p: FILES[p], None, repro)


@pytest.mark.parametrize("path, text, repro, why", [
    ("test_solution.py", SCRIPT_CHECK.replace("== 3", "!= 3"), AS_SCRIPT, "edits the test file test_solution.py"),
    ("run.py", RUNNER.replace("!= ['a']", "== ['a']"), RUN_SCRIPT, "edits verify() in run.py, which checks"),
    ("settings.py", SETTINGS + "\n\ndef test_x():\n    assert True\n", PYTEST, "changes an assert statement"),
    ("pytest.ini", "[pytest]\naddopts = -q -p no:x\n", PYTEST, "configures how the tests run"),
    ("pkg/conf.py", FILES["pkg/conf.py"].replace("[1, 2]", "[1]"), PYTEST, "edits data() in pkg/conf.py, a test or fixture"),
])
def test_what_judges_is_never_edited(path, text, repro, why):
    result = pre(path, text, repro)
    assert not result.ok and any(why in r for r in result.reasons), result.reasons


def test_a_scripts_own_code_may_still_be_repaired():
    assert pre("run.py", RUNNER.replace("text.split(',')", "text.split(',')[:1]"), RUN_SCRIPT).ok


def test_the_expected_value_as_a_literal_is_refused_and_the_name_in_scope_is_not():
    fitted = pre("settings.py", SETTINGS.replace("config[name]", "config.get(name, 3)"), PYTEST)
    named = pre("settings.py", SETTINGS.replace("config[name]", "config.get(name, DEFAULTS[name])"), PYTEST)
    assert not fitted.ok and "sets 3, the value the failing check expects" in fitted.reasons[0]
    assert named.ok, named.reasons


def test_a_constant_stepped_more_than_once_is_refused():
    stepped = pre("settings.py", SETTINGS.replace("config[name]", "config.get(name, 7)"), PYTEST,
                  rule="dict.get + constant.near + constant.near")
    assert not stepped.ok and "step by step" in stepped.reasons[0]


def test_a_flipped_true_false_argument_is_a_workaround():
    """astroid#3068 (issue benchmark): ``enum=True`` became ``enum=False`` in the call that crashed,
    the callee's enum handling switched off; the 5 tests that ran the function passed."""
    code = ("def infer_enum(node):\n    return infer_func_form(node, parent=None, enum=True)[0]\n\n\n"
            "def infer_func_form(node, parent, enum=False):\n    return [node]\n")
    FILES["brain_enum.py"] = code
    try:
        flipped = pre("brain_enum.py", code.replace("enum=True)", "enum=False)"), PYTEST)
        other = pre("brain_enum.py", code.replace("[0]\n", "[-1]\n", 1), PYTEST)
    finally:
        del FILES["brain_enum.py"]
    assert flipped.ok and any("flips a True/False argument (infer_func_form(…enum=False))" in w
                              for w in flipped.workaround), flipped.workaround
    assert other.ok and not other.workaround
    # also where the callee already gets the other value elsewhere, and where the argument is dropped
    two = code.replace("    return infer_func_form(node, parent=None, enum=True)[0]\n",
                       "    infer_func_form(node, parent=None, enum=False)\n    return infer_func_form(node, parent=None, enum=True)[0]\n")
    FILES["brain_enum.py"] = two
    try:
        both = pre("brain_enum.py", two.replace("enum=True)", "enum=False)"), PYTEST)
        dropped = pre("brain_enum.py", two.replace(", enum=True)", ")"), PYTEST)
    finally:
        del FILES["brain_enum.py"]
    assert any("flips a True/False argument" in w for w in both.workaround), both.workaround
    assert any("without enum=True" in w for w in dropped.workaround), dropped.workaround


@pytest.mark.parametrize("new, why", [
    (LOOP.replace("while True", "while not True"), "always false"),
    (LOOP.replace("    out = []\n", "    out = []\n    if ',' not in text:\n        return out\n"), "early exit"),
    (LOOP.replace("        if pos >= len(text):\n            break\n", ""), "deletes a return, raise, break"),
    (LOOP.replace("        end = text.index(',', pos)\n", "        try:\n            end = text.index(',', pos)\n"
                  "        except ValueError:\n            pass\n"), "swallows an exception"),
])
def test_anti_patterns_run_but_only_as_workarounds(new, why):
    result = pre("fields.py", new, REPORT)
    assert result.ok and any(why in w for w in result.workaround), result.workaround


def test_an_early_return_is_judged_by_what_it_returns_where_the_reproduction_checks_values():
    guard = LOOP.replace("    out = []\n", "    out = []\n    if ',' not in text:\n        return [text]\n")
    checked = Reproduction(kind=ReproKind.PYTEST, test_ids=["tests/test_settings.py::test_given"],
                           files=["tests/test_settings.py"])
    assert not pre("fields.py", guard, checked).workaround
    assert pre("fields.py", guard, REPORT).workaround


SHUNT = ('RIGHT = {"^"}\nPREC = {"+": 1, "-": 1, "^": 3}\n\n\ndef to_rpn(tokens):\n    out, stack = [], []\n'
         '    for tok in tokens:\n        while stack and (\n            PREC[stack[-1]] > PREC[tok]\n'
         '            or (PREC[stack[-1]] == PREC[tok] and tok in RIGHT)\n        ):\n            out.append(stack.pop())\n'
         '        stack.append(tok)\n    return out + stack[::-1]\n')


@pytest.mark.parametrize("new, why", [
    # both passed a test of left-associative operators and broke ``^`` (the repair benchmark's rpn-1)
    (SHUNT.replace("] > PREC", "] >= PREC"), "makes a clause of a condition redundant"),
    (SHUNT.replace(" and tok in RIGHT)", ")"), "leaves RIGHT unread"),
])
def test_a_clause_deleted_in_all_but_text_is_a_workaround(new, why):
    FILES["rpn.py"] = SHUNT
    try:
        result = pre("rpn.py", new, PYTEST)
        honest = pre("rpn.py", SHUNT.replace("tok in RIGHT", "tok not in RIGHT"), PYTEST)
    finally:
        del FILES["rpn.py"]
    assert result.ok and any(why in w for w in result.workaround), result.workaround
    assert honest.ok and not honest.workaround


@pytest.mark.parametrize("line, what", [
    ("import sys; frame = sys._getframe(2)", "sys._getframe()"),
    ("import gc; objs = gc.get_objects()", "import gc"),
    ("import ctypes", "import ctypes"),
    ("cmd = open('/proc/self/cmdline').read()", "'/proc/self/cmdline'"),
    ("import _pytest.reports as r; r.TestReport.outcome = 'passed'", "import _pytest.reports"),
    ("import pytest; pytest.fail = print", "assigns pytest.fail"),
])
def test_a_candidate_that_reaches_into_the_judging_process_is_refused(line, what):
    new = SOLUTION.replace("def count(s):\n", f"def count(s):\n    {line}\n")
    result = pre("solution.py", new, PYTEST)
    assert not result.ok and any("reaches into the process that judges it" in r and what in r for r in result.reasons), result.reasons
