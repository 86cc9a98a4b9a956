"""Input problems in GitHub's words: every code the pipeline can raise on a GitHub trigger has
them, and none of them carries a host path or a command-line flag."""

from __future__ import annotations

import re

import pytest

from bot import render
from pve.errors import BadInput

from ..conftest import ROOT

# Raised only where no GitHub trigger can reach: the CLI's own checks of its arguments.
CLI_ONLY = {"unknown-brain", "no-project", "not-python", "snippet-with-test", "bad-setting"}


def raised_codes() -> set[str]:
    codes = set()
    for package in ("brain", "sandbox", "statemachine", "bot", "store"):
        for path in (ROOT / package).rglob("*.py"):
            codes |= set(re.findall(r'\bcode="([a-z-]+)"', path.read_text()))
    return codes


def test_every_code_the_pipeline_raises_has_github_words():
    codes = raised_codes()
    assert len(codes) >= 15, codes  # the scan found the pipeline's raises
    missing = codes - set(render._PROBLEMS) - CLI_ONLY
    assert missing == set(), f"add GitHub words for {missing} to bot/render.py"


@pytest.mark.parametrize("code", sorted(render._PROBLEMS))
def test_github_words_name_no_flag_and_no_path_of_this_machine(code):
    facts = {"files": "/home/maria/app.py", "test": "tests/t.py::x", "file": "a.py", "source": "error log",
             "limit": "over 20000 files", "problem": "No closing quotation", "command": "make",
             "reason": "the code reads input()"}
    text = render.problem(BadInput("/tmp/pve/checkouts/octo/abc: --test needed", code=code, **facts))
    assert "--" not in text and "/tmp/pve" not in text and "hint" not in text
    assert text and "{" not in text


def test_an_unknown_code_gets_a_plain_sentence():
    assert render.problem(BadInput("/srv/secret/path broke", code="something-new")) == "PVE could not use this input"
