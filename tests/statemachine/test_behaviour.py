"""Behaviour outside the failure: what the edited functions return on the calls passing tests
make, recorded in real sandboxes on the original (twice) and on the candidate."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from entrypoints import bootstrap
from pve.models import Calls, RunMode, RunSpec
from pve.settings import Settings
from statemachine import behaviour

SCALE = "import functools\n\n\n@functools.lru_cache\ndef scale(x):\n    return x * 2\n\n\ndef label(x):\n    return f'x{scale(x)}'\n"
TESTS = ("from mod import label, scale\n\n\ndef test_positive():\n    assert scale(2) > 0\n\n\n"
         "def test_label():\n    assert label(1).startswith('x')\n")


def test_a_changed_result_is_found_and_noise_is_not():
    first = Calls(calls={"t::a": ["f:1 -> 2", "f:1 -> 7"], "t::b": ["f:1 -> 1"]})
    second = Calls(calls={"t::a": ["f:1 -> 2", "f:1 -> 9"], "t::b": ["f:1 -> 1"]})  # the 2nd call is noise
    fixed = Calls(calls={"t::a": ["f:3 -> 2", "f:3 -> 5"], "t::b": ["f:3 -> 4"]})
    changed = behaviour.compare(first, second, fixed, {"f:3": "f:1"})
    assert changed and changed.calls == 1 and changed.tests == ["t::b"]
    assert "t::b: f:1 -> 1, now -> 4" in changed.said()


def test_a_record_cut_short_is_no_evidence_either_way():
    cut = Calls(calls={"t::a": ["f:1 -> 1"]}, cut=True)
    assert behaviour.compare(cut, cut, Calls(calls={"t::a": ["f:1 -> 2"]}), {}) is None


def test_first_lines_follow_decorators_and_nesting():
    assert behaviour.first_lines(SCALE, ["scale", "label"]) == {"scale": 4, "label": 9}


@pytest.mark.sandbox
def test_the_sandbox_records_what_passing_tests_saw(tmp_path):
    root = tmp_path / "p"
    (root / "tests").mkdir(parents=True)
    (root / "mod.py").write_text(SCALE)
    (root / "tests" / "test_mod.py").write_text(TESTS)
    svc = bootstrap.services(replace(Settings.from_env({}), home=tmp_path / "home"))
    staged = svc.sandbox.stage(root)
    spec = RunSpec(mode=RunMode.PYTEST, argv=["-p", "no:cacheprovider"], label="suite")
    tests = ["tests/test_mod.py::test_label", "tests/test_mod.py::test_positive"]
    wrong = "# a comment first\n" + SCALE.replace("x * 2", "x * 3")
    same = "# a comment first\n" + SCALE
    labels = []
    real_run = svc.sandbox.run

    async def run(staged, spec):
        labels.append(spec.label)
        return await real_run(staged, spec)
    svc.sandbox.run = run
    spans: list = []
    try:
        changed = asyncio.run(behaviour.compare_runs(svc.sandbox, staged, spec, {"mod.py": wrong}, {"mod.py": ["scale"]},
                                                     tests, ran=spans))
        first = len(labels)
        unchanged = asyncio.run(behaviour.compare_runs(svc.sandbox, staged, spec, {"mod.py": same},
                                                       {"mod.py": ["scale"]}, tests))
    finally:
        svc.sandbox.cleanup(staged)
    # the original's two records are made once for the function and tests; each candidate adds one run
    assert first == 3 and len(labels) == 4 and labels[-1].startswith("candidate")
    assert len(spans) == 3 and all(end > start > 0 for start, end in spans)  # counted as sandbox time
    assert changed and sorted(changed.tests) == tests and changed.calls == 2, changed
    assert unchanged is not None and not unchanged
    assert Path(root / "mod.py").read_text() == SCALE


def test_a_lazy_iterator_is_recorded_as_one_not_by_its_class():
    """more-itertools' tail() fixed returns a deque's iterator where it returned an islice: the
    same behaviour for every caller that consumes it, which the tests check."""
    import collections
    import itertools

    from sandbox.inside.tracers import Calls as _Calls

    assert _Calls._shown(itertools.islice([1, 2], 1)) == _Calls._shown(iter(collections.deque([2]))) == "<iterator>"
    assert _Calls._shown(x for x in [1]) == "<iterator>"
    assert _Calls._shown([1, 2]) == "[1, 2]" and _Calls._shown(range(3)) == "range(0, 3)"  # values stay values
