"""Anti-cheat: the shortcuts that make a reproduction exit 0 without fixing anything are refused."""

from __future__ import annotations

import pytest

from brain.intake.traceback import ProjectIndex, parse_log
from pve.models import Candidate, FileEdit, Reproduction, ReproKind
from statemachine.analyze import analyze_failure
from statemachine.preflight import preflight

ORIGINAL = {
    "app/stats.py": "def mean(xs):\n    return sum(xs) / len(xs)\n\n\ndef report(xs):\n    return f'mean={mean(xs)}'\n",
    "tests/test_stats.py": "from app.stats import report\n\n\ndef test_report():\n    assert report([]) == 'mean=0'\n",
}
LOG = ('Traceback (most recent call last):\n'
       '  File "/ci/tests/test_stats.py", line 5, in test_report\n    assert report([]) == "mean=0"\n'
       '  File "/ci/app/stats.py", line 6, in report\n    return f"mean={mean(xs)}"\n'
       '  File "/ci/app/stats.py", line 2, in mean\n    return sum(xs) / len(xs)\n'
       'ZeroDivisionError: division by zero\n')
REPRO = Reproduction(kind=ReproKind.PYTEST, test_ids=["tests/test_stats.py::test_report"], files=["tests/test_stats.py"])


def check(path: str, new_text: str, repro: Reproduction = REPRO):
    idx = ProjectIndex(None, files=list(ORIGINAL))
    analysis = analyze_failure(parse_log(LOG, index=idx).failures[0], set(repro.files))
    cand = Candidate(id=1, rule="test", rationale="", edits=[FileEdit(path=path, new_text=new_text)])
    return preflight(cand, lambda p: ORIGINAL[p], analysis, repro)


def stats(body: str) -> str:
    return body + "\n\ndef report(xs):\n    return f'mean={mean(xs)}'\n"


def test_an_honest_guard_passes():
    assert check("app/stats.py", stats("def mean(xs):\n    if not xs:\n        return 0\n    return sum(xs) / len(xs)")).ok


@pytest.mark.parametrize("text, why", [
    (stats("import sys\ndef mean(xs):\n    sys.exit(0)"), "sys.exit"),
    (stats("import os\ndef mean(xs):\n    os._exit(0)"), "os._exit"),
    (stats("from os import _exit\ndef mean(xs):\n    _exit(0)"), "os._exit"),
    (stats("def mean(xs):\n    try:\n        return sum(xs) / len(xs)\n    except:\n        pass"), "broad 'except'"),
    (stats("def mean(xs):\n    try:\n        return sum(xs) / len(xs)\n    except Exception:\n        return 0"), "broad 'except'"),
    (stats("import contextlib\ndef mean(xs):\n    with contextlib.suppress(ZeroDivisionError):\n        return sum(xs) / len(xs)"), "suppress"),
    (stats("import subprocess\ndef mean(xs):\n    subprocess.run(['true'])\n    return 0"), "subprocess"),
    (stats("def mean(xs):\n    return eval('0')"), "eval"),
    (stats("import pytest\ndef mean(xs):\n    pytest.skip('no')"), "pytest"),
    (stats("import builtins\ndef mean(xs):\n    builtins.len = lambda x: 1\n    return sum(xs) / len(xs)"), "builtins"),
    ("def mean(xs):\n    return sum(xs) / len(xs)\n\n\ndef report(xs):\n    return 'mean=0'\n", "removes the call to mean()"),
    ("def report(xs):\n    return 'mean=0'\n", "deletes mean()"),
    ("def mean(xs:\n", "does not compile"),
])
def test_cheats_are_refused(text, why):
    result = check("app/stats.py", text)
    assert not result.ok
    assert any(why in r for r in result.reasons), result.reasons


def test_editing_the_test_or_reproduction_is_refused():
    result = check("tests/test_stats.py", ORIGINAL["tests/test_stats.py"].replace("'mean=0'", "'mean=1'"))
    assert not result.ok and "edits the reproduction" in result.reasons[0]


def test_snippet_top_level_code_is_frozen():
    repro = Reproduction(kind=ReproKind.SCRIPT, target="s.py", files=["s.py"], snippet=True)
    ORIGINAL["s.py"] = "def f(x):\n    return 1 / x\n\nprint(f(0))\n"
    try:
        ok = check("s.py", "def f(x):\n    return 1 / x if x else 0\n\nprint(f(0))\n", repro)
        bad = check("s.py", "def f(x):\n    return 1 / x\n\nprint(f(1))\n", repro)
    finally:
        del ORIGINAL["s.py"]
    assert ok.ok
    assert not bad.ok and "top-level" in bad.reasons[0]


def test_existing_dangerous_calls_are_not_held_against_a_candidate():
    ORIGINAL["app/run.py"] = "import subprocess\n\ndef go(n):\n    subprocess.run(['true'])\n    return 10 / n\n"
    try:
        result = check("app/run.py", "import subprocess\n\ndef go(n):\n    subprocess.run(['true'])\n    return 10 / n if n else 0\n")
    finally:
        del ORIGINAL["app/run.py"]
    assert result.ok, result.reasons


@pytest.mark.parametrize("globs, refused", [
    (("app/**",), True), (("app/",), True), (("*.py",), True), (("docs/**", "vendor/"), False), ((), False)])
def test_paths_the_repository_protects_are_refused(globs, refused):
    idx = ProjectIndex(None, files=list(ORIGINAL))
    analysis = analyze_failure(parse_log(LOG, index=idx).failures[0], set(REPRO.files))
    text = stats("def mean(xs):\n    if not xs:\n        return 0\n    return sum(xs) / len(xs)")
    cand = Candidate(id=1, rule="t", rationale="", edits=[FileEdit(path="app/stats.py", new_text=text)])
    pre = preflight(cand, lambda p: ORIGINAL[p], analysis, REPRO, protected=globs)
    assert pre.ok is not refused
    assert refused == any("configuration protects" in r for r in pre.reasons)


# ---------------------------------------------------------------- the changed region alone

def _edits_of(text: str) -> list[str]:
    """Edits of every kind a candidate makes, at every function of ``text``: a guard, a cheat,
    a deleted call, a renamed or removed def, a nested def, a broken line, a decorator."""
    import ast as _ast

    lines = text.splitlines(keepends=True)
    out = []
    for node in _ast.walk(_ast.parse(text)):
        if not isinstance(node, _ast.FunctionDef | _ast.AsyncFunctionDef) or not node.body:
            continue
        first = node.body[0]
        at, pad = first.lineno - 1, " " * first.col_offset
        dedent = " " * node.col_offset
        variants = [
            [f"{pad}if not args:\n", f"{pad}    return None\n"],  # an honest guard
            [f"{pad}import sys; sys.exit(0)\n"],
            [f"{pad}try:\n", f"{pad}    pass\n", f"{pad}except Exception:\n", f"{pad}    return None\n"],
            [f"{pad}def helper():\n", f"{pad}    eval('1')\n"],
            [f"{pad}x = (\n", "1)\n"],  # a continuation at column 0: the block cannot be cut out
            [f"{pad}return (\n"],  # does not parse
        ]
        for extra in variants:
            out.append("".join(lines[:at] + extra + lines[at:]))
        end = node.end_lineno or node.lineno
        out.append("".join(lines[:node.lineno - 1] + lines[end:]))  # the def removed
        out.append("".join([*lines[:node.lineno - 1], lines[node.lineno - 1].replace(node.name, node.name + "_x", 1), *lines[node.lineno:]]))  # renamed
        out.append("".join([*lines[:node.lineno - 1], f"{dedent}@staticmethod\n", *lines[node.lineno - 1:]]))
        calls = [n for n in _ast.walk(node) if isinstance(n, _ast.Call) and n.lineno == n.end_lineno]
        for call in calls[:1] + calls[-1:]:  # a call's line emptied (a deleted call on the failure's path)
            k = call.lineno - 1
            indent = lines[k][:len(lines[k]) - len(lines[k].lstrip())]
            out.append("".join([*lines[:k], f"{indent}pass\n", *lines[k + 1:]]))
    out.append(text + "\nimport subprocess\nsubprocess.run(['true'])\n")  # module level
    return out


def test_checking_the_changed_region_alone_says_what_checking_the_whole_file_says(monkeypatch):
    """Every edit above, at every function of a real module (this project's own sandbox harness:
    classes, nested functions and classes, decorators), judged twice: from the changed function
    alone (the fast path) and from the whole file. The reasons must be the same."""
    import statemachine.preflight as pf
    from pve.models import Analysis, Category, ExceptionInfo, Frame

    path = "sandbox/inside/harness.py"
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / path).read_text()
    import ast as _ast

    defs = [n for n in _ast.walk(_ast.parse(text)) if isinstance(n, _ast.FunctionDef | _ast.AsyncFunctionDef)]
    # frames through every function of the module, at its first and its last call (the last is
    # often in a nested function: the frame's function then holds the change), and at a call
    # the module makes at import
    frames = []
    for d in defs:
        calls = [n for n in _ast.walk(d) if isinstance(n, _ast.Call)]
        for call in calls[:1] + calls[-1:]:
            frames.append(Frame(file=path, line=call.lineno, function=d.name, project_path=path))
    top = next(n for n in _ast.parse(text).body if not isinstance(n, _ast.FunctionDef | _ast.ClassDef)
               and any(isinstance(c, _ast.Call) for c in _ast.walk(n)))
    frames.append(Frame(file=path, line=top.lineno, function="<module>", project_path=path))
    analysis = Analysis(exception=ExceptionInfo(type="E", qualified_type="E", frames=frames), category=Category.RUNTIME,
                        failing_frame=frames[-1], project_frames=frames)
    edits = _edits_of(text)
    assert len(edits) > 250
    fast, whole = [], []
    for k, new in enumerate(edits):
        cand = Candidate(id=k, rule="r", rationale="", edits=[FileEdit(path=path, new_text=new)])
        fast.append(preflight(cand, lambda p: text, analysis, REPRO).reasons)
    monkeypatch.setattr(pf, "_innermost", lambda *a: None)  # every change taken as the whole module's
    for k, new in enumerate(edits):
        cand = Candidate(id=k, rule="r", rationale="", edits=[FileEdit(path=path, new_text=new)])
        whole.append(preflight(cand, lambda p: text, analysis, REPRO).reasons)
    assert fast == whole
    assert sum(1 for r in fast if not r) > 20 and sum(1 for r in fast if r) > 100  # both kinds were judged
