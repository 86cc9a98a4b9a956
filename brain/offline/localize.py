"""Fault localization: which lines of project code most likely hold the bug.

Three signals, strongest first where they exist:

1. The traceback: the innermost editable project frame is where a crash surfaced; the other
   editable frames on the stack are where its inputs came from.
2. Spectra (Ochiai): line coverage of the failing tests against the passing ones, collected
   in the sandbox. A line run by every failing test and few passing ones is suspicious:
   ``ochiai = failed(l) / sqrt(total_failed * (failed(l) + passed(l)))``.
3. Data flow from a failing assertion, where it is cheap: the project functions the failing
   test line calls (``assert total(cart) == 3`` points at ``total``).

Pure: it reads source text and coverage, never runs anything. Deterministic ordering.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from brain.source import SourceFile
from pve.models import Analysis, Coverage

Reader = Callable[[str], str]

# How much each signal adds to a line's suspiciousness. Ochiai is in [0, 1]; the traceback
# breaks its ties (a basic block shares one score) and stands alone when there is no coverage.
_FRAME_INNERMOST = 0.30
_FRAME_OUTER = 0.15
_CALLED_FROM_ASSERTION = 0.05
_NO_SPECTRA_FUNCTION_BODY = 0.25  # lines of a frame's function when coverage is missing (below the frame)


@dataclass(frozen=True)
class Suspect:
    path: str
    line: int
    score: float
    why: str


@dataclass
class Spectra:
    """Executed lines per test, split into failing and passing tests."""

    failing: list[dict[str, set[int]]] = field(default_factory=list)
    passing: list[dict[str, set[int]]] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return bool(self.failing)


def spectra_from(coverages: Iterable[Coverage | None], failing: set[str], passing: set[str]) -> Spectra:
    """Split per-test coverage by outcome. Lines run outside any test count for every test;
    tests that are neither (skipped, or failing for another reason) are left out."""
    out = Spectra()
    seen: set[str] = set()
    for cov in coverages:
        if cov is None:
            continue
        shared = {p: set(lines) for p, lines in cov.shared.items()}
        for test, files in sorted(cov.tests.items()):
            if test in seen:
                continue
            if test not in failing and test not in passing:
                continue
            seen.add(test)
            lines = {p: set(v) for p, v in files.items()}
            for p, v in shared.items():
                lines.setdefault(p, set()).update(v)
            (out.failing if test in failing else out.passing).append(lines)
    return out


def ochiai(spectra: Spectra) -> dict[tuple[str, int], float]:
    failed: dict[tuple[str, int], int] = {}
    passed: dict[tuple[str, int], int] = {}
    for bucket, runs in ((failed, spectra.failing), (passed, spectra.passing)):
        for run in runs:
            for path, lines in run.items():
                for line in lines:
                    bucket[(path, line)] = bucket.get((path, line), 0) + 1
    total_failed = len(spectra.failing)
    scores: dict[tuple[str, int], float] = {}
    for key, f in failed.items():
        p = passed.get(key, 0)
        scores[key] = f / math.sqrt(total_failed * (f + p))
    return scores


def localize(analysis: Analysis | None, spectra: Spectra | None, editable: Callable[[str], bool], read: Reader,
             limit: int = 40) -> list[Suspect]:
    """Suspicious lines of editable project code, most suspicious first."""
    scores: dict[tuple[str, int], float] = {}
    why: dict[tuple[str, int], list[str]] = {}
    sources: dict[str, SourceFile | None] = {}

    def source(path: str) -> SourceFile | None:
        if path not in sources:
            try:
                sources[path] = SourceFile(path, read(path))
            except (FileNotFoundError, UnicodeDecodeError):
                sources[path] = None
        return sources[path]

    def add(key: tuple[str, int], amount: float, reason: str) -> None:
        scores[key] = scores.get(key, 0.0) + amount
        why.setdefault(key, []).append(reason)

    if spectra is not None and spectra.usable:
        for key, value in ochiai(spectra).items():
            if value > 0 and editable(key[0]):
                add(key, value, f"ochiai {value:.2f}")

    frames = [f for f in (analysis.project_frames if analysis else []) if f.project_path and f.line
              and editable(f.project_path)]
    for depth, frame in enumerate(reversed(frames)):
        key = (frame.project_path or "", frame.line or 0)
        add(key, _FRAME_INNERMOST if depth == 0 else _FRAME_OUTER / depth, "traceback frame")
        if spectra is None or not spectra.usable:
            # No coverage: the frame's whole function is the neighbourhood, nearer lines first.
            src = source(key[0])
            func = src.enclosing_function(key[1]) if src else None
            if src is not None and func is not None:
                for n in _statement_lines(func):
                    if n != key[1]:
                        add((key[0], n), _NO_SPECTRA_FUNCTION_BODY / (1 + depth) / (1 + abs(n - key[1]) / 2),
                            "same function as a frame")

    for path, func in _functions_called_by_failing_test(analysis, read, editable, source):
        for n in _statement_lines(func):
            if (path, n) in scores or spectra is None or not spectra.usable:
                add((path, n), _CALLED_FROM_ASSERTION, f"called by the failing test ({func.name})")

    ranked = sorted(scores.items(), key=lambda kv: (-round(kv[1], 9), kv[0][0], kv[0][1]))
    out: list[Suspect] = []
    for (path, line), score in ranked:
        src = source(path)
        if src is None or not src.line(line).strip():
            continue
        out.append(Suspect(path, line, round(score, 6), ", ".join(why[(path, line)])))
        if len(out) >= limit:
            break
    return out


def _statement_lines(func: ast.FunctionDef | ast.AsyncFunctionDef) -> list[int]:
    lines = set()
    for node in ast.walk(func):
        if isinstance(node, ast.stmt) and node is not func:
            lines.add(node.lineno)
    return sorted(lines)


def _functions_called_by_failing_test(analysis: Analysis | None, read: Reader, editable: Callable[[str], bool],
                                      source: Callable[[str], SourceFile | None]
                                      ) -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """Project functions the failing test's last frame line calls (usually the assertion), and
    those that computed the values it uses on the lines before (``r = slugify(txt)`` then
    ``assertEqual(r, ...)``): when the error surfaces in the test, they are the suspects."""
    if analysis is None:
        return []
    test_frames = [f for f in analysis.exception.frames if f.project_path and f.line and not editable(f.project_path)]
    if not test_frames:
        return []
    frame = test_frames[-1]
    src = source(frame.project_path or "")
    if src is None or src.tree is None:
        return []
    stmt = src.statement_at(frame.line or 0)
    if stmt is None:
        return []
    called = _calls(stmt) | _calls_feeding(stmt, src.enclosing_function(frame.line or 0))
    if not called:
        return []
    found = []
    for path in sorted({f.project_path for f in analysis.project_frames if f.project_path} | _imported_files(src, read)):
        if not editable(path):
            continue
        other = source(path)
        if other is None or other.tree is None:
            continue
        for node in ast.walk(other.tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in called:
                found.append((path, node))
    return found


def _calls(node: ast.AST) -> set[str]:
    out: set[str] = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Call):
            f = n.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
            if name:
                out.add(name)
    return out


def _calls_feeding(stmt: ast.stmt, func: ast.FunctionDef | ast.AsyncFunctionDef | None) -> set[str]:
    """Calls on the lines before ``stmt`` (in its function) whose results flow into it: a
    backward walk over assignments to the names it reads."""
    if func is None:
        return set()
    wanted = {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    before = [s for s in ast.walk(func) if isinstance(s, ast.stmt) and s is not func and s.lineno < stmt.lineno]
    out: set[str] = set()
    for s in sorted(before, key=lambda s: -s.lineno):
        if isinstance(s, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = s.targets if isinstance(s, ast.Assign) else [s.target]
            bound = {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
            if bound & wanted and s.value is not None:
                out |= _calls(s.value)
                wanted |= {n.id for n in ast.walk(s.value) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        elif isinstance(s, ast.Expr) and isinstance(s.value, ast.Call) and isinstance(s.value.func, ast.Attribute) \
                and isinstance(s.value.func.value, ast.Name) and s.value.func.value.id in wanted:
            out |= _calls(s.value)  # obj.update(...) changes what the assertion reads
    return out


def _imported_files(test_src: SourceFile, read: Reader) -> set[str]:
    """Project files a test module imports (``from pkg.mod import x`` -> pkg/mod.py), if present."""
    out: set[str] = set()
    if test_src.tree is None:
        return out
    for node in ast.walk(test_src.tree):
        modules = []
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        for mod in modules:
            base = mod.replace(".", "/")
            for cand in (f"{base}.py", f"{base}/__init__.py", f"src/{base}.py", f"src/{base}/__init__.py"):
                try:
                    read(cand)
                except (FileNotFoundError, UnicodeDecodeError, OSError):
                    continue
                out.add(cand)
    return out
