"""Stepping stones: repair of programs with more than one fault.

A learner's program often holds two or three mistakes: fixing the crash (``range(lst(x))`` ->
``range(len(x))``) exposes the next wrong line, so no single edit passes the tests. A rejected
candidate that *gets further* is a stepping stone: it makes strictly more of the reproduction's
tests pass, or the reported exception is gone (the run now fails later, somewhere the edit did
not touch), and it breaks no test that passed on the original code. The search then localizes
and generates again on the stone's code, and each new candidate is the stone's edits plus its
own: a combined change from the original, validated exactly like any other candidate (the same
reproduction, oracle and proof). Pure functions here; the rounds that use them are in
``statemachine/search/offline.py``.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

from brain.candidates import unified_diff
from brain.offline.localize import Spectra
from brain.offline.shapes import compared_literals
from pve.models import Analysis, Candidate, Checks, FileEdit, ReproKind, RunResult, Verdict
from statemachine.analyze import analysis_from_run

Reader = Callable[[str], str]


@dataclass(frozen=True)
class Stone:
    candidate: Candidate  # its edits are from the original code (a stone of a stone: both steps)
    gained: int  # reproduction tests that pass now and did not before
    removed: bool  # the reported exception is gone
    at_site: bool  # it changed the line the reported exception was raised on (the likeliest first fault)
    analysis: Analysis | None  # what it fails with now: the next search's report
    depth: int  # 1: one step from the original
    closer: float = 0.0  # how much nearer a failing assert's values came to the expected ones (0: not)
    candidate_run: RunResult | None = None  # its reproduction run: what a step on it must beat
    nearness: float = 0.0  # how near its failing asserts' values are to the expected ones, in all

    @property
    def key(self) -> tuple[int, int, float, int, int, int, float, int]:
        """Best first: more tests gained; now failing on an assertion (a wrong answer: the code
        ran through) rather than another crash; values nearer the expected ones in all (a stone
        of a stone that fixed two faults of three is nearer than either step alone, so it comes
        first although it is deeper); fewer steps; a change where the exception was raised; the
        exception gone; the better rank."""
        wrong_answer = self.analysis is not None and self.analysis.exception.type == "AssertionError"
        return (-self.gained, -int(wrong_answer), -round(self.nearness, 6), self.depth, -int(self.at_site),
                -int(self.removed), -round(self.closer, 6), self.candidate.id)

    def describe(self) -> str:
        if self.gained:
            return f"{self.gained} more test{'s' if self.gained != 1 else ''} pass"
        if self.closer:
            return "a failing assert's values come nearer to the expected ones"
        if self.analysis is not None:
            return f"it fails further on, with {self.analysis.exception.type}"
        return "the reported exception is gone"


def stone_of(c: Candidate, v: Verdict, checks: Checks, read: Reader, depth: int,
             parent: Stone | None = None) -> Stone | None:
    """``c`` as a stepping stone, if its run got further than the original (and than the stone
    it stands on, if any); else None."""
    run, before = v.run, checks.before
    if run is None or before is None or not v.preflight.ok or not run.nonce_ok or run.killed_reason:
        return None
    if checks.repro.kind is ReproKind.PYTEST:
        was = {t for t, o in before.record.outcomes.items() if o == "passed"}
        now = {t for t, o in run.record.outcomes.items() if o == "passed"}
        if was - now or not run.record.outcomes:
            return None  # it broke a test that passed: no stone
        gained = len(now - was)
        failing = [t for t, o in run.record.outcomes.items() if o != "passed" and t in run.record.test_exceptions]
        exc = run.record.test_exceptions[failing[0]] if failing else None
        test_id = failing[0] if failing else None
    else:
        gained, exc, test_id = 0, run.record.exception, None
    analysis = analysis_from_run(exc, checks.repro.frozen_files(), test_id) if exc is not None else None
    touched, moved = _touched(c, read)
    removed = _gone(checks.analysis, analysis, touched, moved)
    reference = parent.candidate_run if parent is not None else before
    closer = _closer(reference, run) if checks.repro.kind is ReproKind.PYTEST else 0.0
    if parent is not None:  # further than the stone it stands on, not only than the original
        # (the parent's failure is in the parent's lines: the step's own map moves it)
        if gained < parent.gained or (gained == parent.gained and not closer and
                                      not _gone(parent.analysis, analysis, touched, {})):
            return None
    elif not gained and not removed and not closer:
        return None
    site = checks.analysis.failing_frame if checks.analysis else None
    at_site = bool(site and site.project_path and site.line and
                   moved.get(site.project_path, {}).get(site.line) in touched.get(site.project_path, set()))
    return Stone(c, gained, removed, at_site, analysis, depth, closer, run, _nearness(run))


def _gone(reported: Analysis | None, now: Analysis | None, touched: dict[str, set[int]],
          moved: dict[str, dict[int, int]]) -> bool:
    """The reported exception is gone: no failure, or one of another type, or at another place
    (the reported line followed through the edit: a guard inserted above it moves it down) that
    the candidate's own lines did not raise (an edit that breaks its own line is no progress)."""
    if reported is None:
        return False
    if now is None:
        return True
    frame = now.failing_frame
    if frame is not None and frame.project_path and frame.line in touched.get(frame.project_path, set()):
        return False
    if now.exception.type != reported.exception.type:
        # A wrong answer that became a crash got no further: the code no longer runs through
        # (an `out = []` set to None fails "further on", with AttributeError).
        return not (reported.exception.type == "AssertionError" and _in_project(now))
    old = reported.failing_frame
    if old is None or frame is None or old.line is None:
        return False
    path = old.project_path or ""
    return (path, moved.get(path, {}).get(old.line, old.line)) != (frame.project_path or "", frame.line)


def _in_project(analysis: Analysis) -> bool:
    """Raised by the project's code (not by a test's own assert or setup)."""
    frame = analysis.failing_frame
    return frame is not None and bool(frame.project_path) and analysis.exception.type != "AssertionError"


def _touched(c: Candidate, read: Reader) -> tuple[dict[str, set[int]], dict[str, dict[int, int]]]:
    """The lines (1-based, in the new text) each edit wrote, and where each old line went."""
    touched: dict[str, set[int]] = {}
    moved: dict[str, dict[int, int]] = {}
    for e in c.edits:
        try:
            old = read(e.path).splitlines()
        except (FileNotFoundError, UnicodeDecodeError):
            old = []
        lines: set[int] = set()
        where: dict[int, int] = {}
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=e.new_text.splitlines(), autojunk=False).get_opcodes():
            if tag != "equal":
                lines.update(range(j1 + 1, max(j2, j1 + 1) + 1))
            if tag in ("equal", "replace"):
                for k in range(i2 - i1):
                    where[i1 + k + 1] = j1 + min(k, max(0, j2 - j1 - 1)) + 1
        touched[e.path], moved[e.path] = lines, where
    return touched, moved


def _closer(was: RunResult | None, now: RunResult) -> float:
    """How much nearer (summed over tests) the failing ``assert left == right`` asserts (pytest's
    message, literals on both sides) that fail in both runs came; 0.0 when none came nearer or
    any went farther. A sum, not a yes: of the many candidates that move a wrong answer a little,
    the one that fixes one fault of several moves it most (fizzbuzz counted from 1 gets half
    the items right; swapping two branches, one)."""
    if was is None:
        return 0.0
    gain = 0.0
    for test, exc in now.record.test_exceptions.items():
        old = was.record.test_exceptions.get(test)
        if old is None or exc.type != "AssertionError" or old.type != "AssertionError":
            continue
        a, b = closeness(old.message), closeness(exc.message)
        if a is None or b is None:
            continue
        if b < a:
            return 0.0
        gain += b - a
    return gain


def _nearness(run: RunResult) -> float:
    """The closeness of every failing ``assert left == right`` of a run, summed."""
    values = [closeness(e.message) for e in run.record.test_exceptions.values() if e.type == "AssertionError"]
    return sum(v for v in values if v is not None)


def closeness(message: str) -> float | None:
    """How near the two sides of pytest's ``assert left == right`` are (0..1), when both print
    as Python literals; None otherwise (a truncated repr, a custom message)."""
    values = compared_literals(message)
    return None if values is None else _similar(*values)


def _similar(a: object, b: object) -> float:
    if type(a) is type(b) and a == b:
        return 1.0
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return sum(_similar(x, y) for x, y in zip(a, b, strict=False)) / (max(len(a), len(b)) or 1)
    if isinstance(a, dict) and isinstance(b, dict):
        keys = set(a) | set(b)
        return sum(_similar(a[k], b[k]) for k in keys if k in a and k in b) / (len(keys) or 1)
    if isinstance(a, str) and isinstance(b, str):
        return 0.9 * difflib.SequenceMatcher(a=a, b=b, autojunk=False).ratio()
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool) and not isinstance(b, bool):
        return 0.9 / (1 + abs(a - b))
    if isinstance(a, int | float | str) and isinstance(b, int | float | str) and str(a) == str(b):
        return 0.8  # the right value as the wrong type: 11 for "11"
    return 0.0


def overlay(read: Reader, stone: Candidate) -> Reader:
    """The project as the stone left it."""
    texts = {e.path: e.new_text for e in stone.edits}
    return lambda path: texts[path] if path in texts else read(path)


def combine(stone: Candidate, step: Candidate, read: Reader, new_id: int) -> Candidate:
    """The stone's edits and the step's (made on the stone's code) as one change from the
    original ``read``: what is validated, shown and proved."""
    texts = {e.path: e.new_text for e in stone.edits} | {e.path: e.new_text for e in step.edits}
    edits = [FileEdit(path=p, new_text=t) for p, t in texts.items()]
    diff = "".join(unified_diff(e.path, read(e.path), e.new_text) for e in edits)
    changed = sum(1 for x in diff.splitlines() if x[:1] in "+-" and x[:3] not in ("+++", "---"))
    return Candidate(id=new_id, source=stone.source, rule=f"{stone.rule} + {step.rule}",
                     rationale=f"{stone.rationale}; then {step.rationale}", edits=edits, diff=diff, diff_lines=changed)


def remap(spectra: Spectra | None, stone: Candidate, read: Reader) -> Spectra | None:
    """The original coverage, its line numbers moved to the stone's text (an inserted guard
    shifts every line below it); lines the stone rewrote keep the coverage of what they replaced."""
    if spectra is None:
        return None
    maps = _touched(stone, read)[1]

    def moved(per_test: list[dict[str, set[int]]]) -> list[dict[str, set[int]]]:
        return [{path: ({maps[path][n] for n in lines if n in maps[path]} if path in maps else lines)
                 for path, lines in cov.items()} for cov in per_test]

    return Spectra(failing=moved(spectra.failing), passing=moved(spectra.passing))
