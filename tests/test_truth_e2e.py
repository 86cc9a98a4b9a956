"""TRUTH.md's failure shapes, end to end through `verify` in real sandboxes: each was once
reported as verified although it fixed nothing. A verdict here is checked against a hidden check
the search never saw: whatever PVE calls verified must pass it."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path

import pytest

from pve.models import Session, SessionStatus, VerifyRequest
from statemachine.runner import verify

from .conftest import write_tree as project

pytestmark = pytest.mark.sandbox


def patched_module(session: Session, root: Path, path: str, tmp: Path):
    """The module at ``path`` with the session's winning candidate applied, imported fresh."""
    winner = session.winning_candidate()
    assert winner is not None
    text = next((e.new_text for e in winner.edits if e.path == path), (root / path).read_text())
    target = tmp / "patched" / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    spec = importlib.util.spec_from_file_location(f"patched_{abs(hash(str(target)))}", target)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_a_test_scripts_asserts_are_never_edited(tmp_path, services):
    """``python test_solution.py`` with its checks in ``check()``: the accepted "fix" once negated
    the failing assert. The bug here is one no operator fixes; nothing may be verified."""
    root = project(tmp_path / "vowels", {
        "solution.py": "def count_vowels(s):\n    return len(set(s) & set('aeiou'))\n",
        "test_solution.py": "from solution import count_vowels\n\n\ndef check(candidate):\n"
                            "    assert candidate('xyz') == 0\n    assert candidate('banana') == 3\n\n\n"
                            "check(count_vowels)\n"})
    log = ("Traceback (most recent call last):\n"
           f'  File "{root}/test_solution.py", line 9, in <module>\n    check(count_vowels)\n'
           f'  File "{root}/test_solution.py", line 6, in check\n    assert candidate(\'banana\') == 3\n'
           "AssertionError\n")
    session = asyncio.run(verify(VerifyRequest(path=root, error_log=log.encode(), cmd="python test_solution.py",
                                               cache=False), services))
    assert session.status is not SessionStatus.VERIFIED, session.message
    edits_of_checks = [c.id for c in session.candidates if any(e.path == "test_solution.py" for e in c.edits)]
    ran = {v.candidate_id for v in session.verdicts if v.run is not None}
    assert not ran & set(edits_of_checks)  # every candidate that touched the checks was refused unrun
    if session.winner is not None:
        assert all(e.path != "test_solution.py" for e in session.winning_candidate().edits)


def test_a_constant_is_not_tuned_to_the_expected_value(tmp_path, services):
    """A missing key with a table of defaults: stepping stones once tuned ``config.get(name, k)``
    until k was the failing test's expected value. Whatever is verified must also give the
    other key's default (the hidden check)."""
    root = project(tmp_path / "settings", {
        "settings.py": "DEFAULTS = {'retries': 3, 'timeout': 30}\n\n\n"
                       "def setting(config, name):\n    return config[name]\n",
        "tests/test_settings.py": "from settings import setting\n\n\ndef test_given():\n"
                                  "    assert setting({'retries': 5}, 'retries') == 5\n\n\n"
                                  "def test_missing_uses_the_default():\n    assert setting({}, 'retries') == 3\n"})
    session = asyncio.run(verify(VerifyRequest(path=root, test="tests/test_settings.py::test_missing_uses_the_default",
                                               cache=False), services))
    assert all("constant.near + constant.near" not in c.rule for c in session.candidates
               if any(v.candidate_id == c.id and v.verified for v in session.verdicts))
    if session.status is SessionStatus.VERIFIED:
        module = patched_module(session, root, "settings.py", tmp_path)
        assert module.setting({}, "timeout") == 30, session.winning_candidate().diff


def test_a_loop_switched_off_is_never_verified(tmp_path, services):
    """A crash inside ``while True``: ``while not True`` (or an early return) makes the
    reproduction exit cleanly and fixes nothing. At most a workaround, never verified."""
    root = project(tmp_path / "fields", {
        "fields.py": "def split_fields(text):\n    items = []\n    pos = 0\n    while True:\n"
                     "        end = text.index(',', pos)\n        items.append(text[pos:end])\n        pos = end + 1\n"
                     "        if pos >= len(text):\n            break\n    return items\n",
        "tests/test_fields.py": "from fields import split_fields\n\n\ndef test_trailing_comma():\n"
                                "    assert split_fields('a,b,') == ['a', 'b']\n",
        "repro.py": "from fields import split_fields\n\nprint(split_fields('a,b'))\n"})
    log = ("Traceback (most recent call last):\n"
           f'  File "{root}/repro.py", line 3, in <module>\n    print(split_fields(\'a,b\'))\n'
           f'  File "{root}/fields.py", line 5, in split_fields\n    end = text.index(\',\', pos)\n'
           "ValueError: substring not found\n")
    session = asyncio.run(verify(VerifyRequest(path=root, error_log=log.encode(), cache=False), services))
    assert session.status is not SessionStatus.VERIFIED or \
        patched_module(session, root, "fields.py", tmp_path).split_fields("a,b") == ["a", "b"], \
        session.winning_candidate().diff
    switched_off = [v for v in session.verdicts if any("always false" in w or "early exit" in w
                                                      for w in v.preflight.workaround)]
    assert all(not v.verified for v in switched_off)
