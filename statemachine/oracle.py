"""The regression oracle: which tests a fix is held to besides the reproduction, and running
them in time on a large suite.

A small suite (up to ``WHOLE_SUITE_FILES`` test files and ``WHOLE_SUITE_TESTS`` tests) runs
whole, as pytest discovers it. A large one is selected: the reproduction's own targets first
(a large test file class by class: the failing test's class, then the classes that use the
failing functions), then the test files that import the modules the failure runs through
(those named after the module first), up to a budget of test functions; what was left out is
said in the proof. The selection runs in parallel shards,
one sandbox each, with its own wall clock (the baseline is not a candidate: it may take longer
than one run), and the shards' results are merged into one.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import functools
import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from brain.intake.traceback import ProjectIndex
from pve.layout import is_test_path
from pve.models import Analysis, Coverage, HarnessRecord, Reach, Reproduction, RunResult, RunSpec
from sandbox.backend import SandboxBackend, StagedProject
from statemachine.testmap import TestUnit, count_tests, file_unit, is_test_module, units
from statemachine.verdict import under

WHOLE_SUITE_FILES = 30  # up to this many test files ...
WHOLE_SUITE_TESTS = 1000  # ... and test functions, the whole suite is the oracle
MAX_ORACLE_TESTS = 800  # test functions selected at most from a large suite
SPLIT_FILE_TESTS = 200  # a test file with more than this is chosen class by class


@dataclass
class Selection:
    """The tests that form the oracle: node ids (files, or a large file's classes) per shard,
    and in words."""

    shards: list[list[str]] = field(default_factory=lambda: [[]])  # [[]]: the whole suite in one run
    files: list[str] = field(default_factory=list)  # the node ids chosen ([] = the whole suite)
    left_out: list[str] = field(default_factory=list)  # test files (or classes of a chosen file) not chosen
    why: str = "the whole test suite"


def select(py_files: list[str], repro: Reproduction, analysis: Analysis | None, read: Callable[[str], str], *,
           slots: int, configured: list[str] | None = None) -> Selection:
    """The oracle for this failure (``configured``: the repository's own ``tests:`` setting)."""
    if configured:
        return Selection(shards=[list(configured)], why="the tests the repository's configuration names")
    tests = sorted({p for p in py_files if is_test_module(p)} | {f for f in repro.files if f in py_files
                                                                   and is_test_path(f)})
    read = functools.cache(read)  # each file is read by several of the rules below
    if len(tests) <= WHOLE_SUITE_FILES:  # few files: read them properly (inherited tests count)
        counts = {t: file_unit(t, read).size for t in tests}
        if sum(counts.values()) <= WHOLE_SUITE_TESTS:
            return _whole_suite(counts, slots)
    else:
        counts = {t: _test_count(t, read) for t in tests}
    own = [f for f in repro.files if f in tests]
    # What the failure runs through: the reported frames when a log gave them, and always what
    # the failing tests import (before anything ran, that is all there is to go on).
    modules = _failure_modules(analysis, py_files) | _project_imports(own, py_files, read)
    names = failure_names(analysis)
    importers = [t for t in tests if t not in own and _imports_any(t, modules, read)]
    # test_utils.py for utils.py first: the module's own tests
    stems = {m.rsplit(".", 1)[-1] for m in modules}
    importers.sort(key=lambda t: (not any(s in t.rsplit("/", 1)[-1] for s in stems), t))

    chosen: list[TestUnit] = []
    split_out: list[str] = []  # classes of chosen large files left out
    count = 0

    def take(unit: TestUnit, required: bool = False) -> bool:
        nonlocal count
        if not required and count + unit.size > MAX_ORACLE_TESTS and count > 0:
            return False
        chosen.append(unit)
        count += unit.size
        return True

    for f in own:  # the reproduction's own targets always: a candidate's narrowed run leans on them
        if counts[f] <= SPLIT_FILE_TESTS:
            take(file_unit(f, read), required=True)
            continue
        parts = units(f, read)
        if not parts:
            take(file_unit(f, read), required=True)
            continue
        required = [u for u in parts if any(under(t, u.node) or under(u.node, t) for t in repro.test_ids)]
        rest = sorted((u for u in parts if u not in required), key=lambda u: not (u.names & names))
        for u in required:
            take(u, required=True)
        split_out += [u.node for u in rest if not take(u)]
    for t in importers:
        if counts[t] <= SPLIT_FILE_TESTS or not names:
            if not take(file_unit(t, read)):
                continue
        else:  # a large file that imports the module: the classes that use the failing functions
            picked = [u for u in units(t, read) if u.names & names]
            split_out += [u.node for u in picked if not take(u)]
    if not chosen:
        return Selection()
    nodes = [u.node for u in chosen]
    touched = {n.split("::")[0] for n in nodes}
    why = "the failing tests' " + ("classes" if any("::" in n for n in nodes) else "files")
    if any(u.node.split("::")[0] in importers for u in chosen):
        why += f" and the tests that import {', '.join(sorted(modules)[:3])}" + (" ..." if len(modules) > 3 else "")
    if split_out or len(touched) < len(own) + len(importers):
        why += f" (up to about {MAX_ORACLE_TESTS} tests)"
    sizes = {u.node: u.size for u in chosen}
    return Selection(shards=_shards(nodes, sizes.__getitem__, max(1, slots)), files=nodes,
                     left_out=[t for t in tests if t not in touched] + split_out, why=why)


def _whole_suite(counts: dict[str, int], slots: int) -> Selection:
    """The whole suite as pytest discovers it; a large one split into parts that pytest
    collects whole and runs a slice of each (``part``), one sandbox per part. Collection
    settings, hooks and doctests stay pytest's own."""
    n = min(slots, sum(counts.values()) // MIN_PART_TESTS)
    if n < 2:
        return Selection()
    return Selection(shards=[[part(k, n)] for k in range(n)])


MIN_PART_TESTS = 150  # below this per part, collecting the suite twice costs more than it saves
_PART = re.compile(r"^pve:part (\d+)/(\d+)$")


def part(k: int, n: int) -> str:
    """A shard entry meaning "the k-th of n slices of the whole suite" (not a node id)."""
    return f"pve:part {k + 1}/{n}"


def failure_names(analysis: Analysis | None) -> frozenset[str]:
    """The functions of the project (not its tests) that the failure runs through."""
    if analysis is None:
        return frozenset()
    return frozenset(f.function for f in analysis.project_frames if f.function and f.function != "<module>"
                     and f.project_path and not is_test_path(f.project_path))


def _failure_modules(analysis: Analysis | None, py_files: list[str]) -> set[str]:
    """Dotted names of the project modules the failure runs through (not tests)."""
    if analysis is None:
        return set()
    folders = ProjectIndex(None, files=py_files).importable_folders()
    return {_dotted(f.project_path, folders) for f in analysis.project_frames
            if f.project_path and f.project_path.endswith(".py") and not is_test_path(f.project_path)}


def _dotted(path: str, folders: list[str]) -> str:
    """``src/geo/area.py`` -> ``geo.area`` (``src`` being a folder the project imports from)."""
    for folder in folders:
        if path.startswith(folder + "/"):
            path = path[len(folder) + 1:]
            break
    return path[:-3].replace("/", ".").removesuffix(".__init__")


def _project_imports(tests: list[str], py_files: list[str], read: Callable[[str], str]) -> set[str]:
    """The project modules (not tests) that ``tests`` import, as dotted names."""
    folders = ProjectIndex(None, files=py_files).importable_folders()
    known = {_dotted(p, folders) for p in py_files if p.endswith(".py") and not is_test_path(p)}
    return {n for test in tests for n in _imported_names(test, read) if n in known}


def _imports_any(test: str, modules: set[str], read: Callable[[str], str]) -> bool:
    return bool(modules) and any(name == m or m.startswith(name + ".") or name.startswith(m + ".")
                                 for name in _imported_names(test, read) for m in modules)


def _imported_names(path: str, read: Callable[[str], str]) -> set[str]:
    """What a file imports (absolute imports): ``a.b`` for ``import a.b``; ``a``, ``a.x`` for
    ``from a import x``."""
    try:
        tree = ast.parse(read(path))
    except (SyntaxError, ValueError, FileNotFoundError, UnicodeDecodeError):
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.update([node.module, *(f"{node.module}.{a.name}" for a in node.names)])
    return names


def _test_count(path: str, read: Callable[[str], str]) -> int:
    try:
        return count_tests(read(path))
    except (FileNotFoundError, UnicodeDecodeError):
        return 1


def _shards(nodes: list[str], weight_of: Callable[[str], float], slots: int) -> list[list[str]]:
    """Nodes spread over ``slots`` shards, heaviest first onto the lightest shard."""
    k = min(slots, len(nodes))
    shards: list[list[str]] = [[] for _ in range(k)]
    weight = [0.0] * k
    for node in sorted(nodes, key=lambda n: (-weight_of(n), n)):
        i = weight.index(min(weight))
        shards[i].append(node)
        weight[i] += weight_of(node)
    return [sorted(s) for s in shards]


def balanced(baseline: RunResult, n: int) -> list[list[str]] | None:
    """The candidates' regression shards from the baseline's own timings: the tests that passed,
    longest first onto the least loaded of ``n`` shards (one 11-second test among 700 made a
    contiguous slice twice as long as its neighbour). None when there is nothing to balance, or
    the list would not fit a command line."""
    passed = {t: baseline.record.durations.get(t, 0.0) for t, o in baseline.record.outcomes.items() if o == "passed"}
    if n < 2 or len(passed) < n or sum(len(t) + 4 for t in passed) > _MAX_NODE_TEXT * n:
        return None
    return _shards(sorted(passed), lambda t: passed[t] + 1.0, n)  # +1 ms: setup and teardown


def balanced_subset(baseline: RunResult, tests: set[str], n: int) -> list[list[str]] | None:
    """``tests`` in as few of up to ``n`` shards as keep each about ``_MIN_SHARD_MS`` of the
    baseline's own time (a shard costs a sandbox and a collection); [] for no tests. None when
    they would not fit a command line."""
    times = {t: baseline.record.durations.get(t, 0.0) + 1.0 for t in tests}
    k = max(1, min(n, int(sum(times.values()) // _MIN_SHARD_MS)))
    if sum(len(t) + 4 for t in times) > _MAX_NODE_TEXT * k:
        return None
    return _shards(sorted(times), times.__getitem__, k)


_MIN_SHARD_MS = 2000.0
_MAX_NODE_TEXT = 64 << 10  # node ids per shard, in characters (a run's spec travels as one argument)


# --------------------------------------------------------------------------- the baseline, once per commit


def baseline_key(staged: StagedProject, spec: RunSpec, shards: list[list[str]], sandbox: dict[str, object]) -> str:
    """The same files, environment, interpreter and tests give the same baseline: keyed by
    them, never by the failure (one commit's baseline serves every failure found on it)."""
    digest = hashlib.sha256()
    digest.update(json.dumps(sorted(staged.files.items())).encode())
    digest.update((staged.env.info.key if staged.env is not None else "-").encode())
    digest.update(json.dumps([spec.model_dump(exclude={"label"}), shards, str(sandbox.get("python", ""))],
                             default=str).encode())
    return digest.hexdigest()[:32]


async def run_baseline(sandbox: SandboxBackend, staged: StagedProject, spec: RunSpec, shards: list[list[str]],
                       cache: Path | None) -> tuple[RunResult, bool]:
    """The oracle on the original code, from the cache when this commit's was run before; a
    baseline that did not complete is never cached. Returns (result, from the cache)."""
    path = cache / f"{baseline_key(staged, spec, shards, sandbox.describe())}.json" if cache else None
    if path is not None and path.exists():
        with contextlib.suppress(OSError, ValueError):
            return RunResult.model_validate_json(path.read_text()), True
    result = await run(sandbox, staged, spec, shards)
    if path is not None and result.nonce_ok and not result.killed_reason:
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}")
            tmp.write_text(result.model_dump_json())
            os.replace(tmp, path)
            _prune(path.parent)
    return result, False


_KEEP_BASELINES = 500


def _prune(folder: Path) -> None:
    """The newest baselines stay; a commit not verified in a while is not worth the disk."""
    files = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime)
    for old in files[:-_KEEP_BASELINES]:
        with contextlib.suppress(OSError):
            old.unlink()


# --------------------------------------------------------------------------- running it


async def run(sandbox: SandboxBackend, staged: StagedProject, spec: RunSpec, shards: list[list[str]]) -> RunResult:
    """The oracle's spec over its shards at once, merged into one result."""
    if len(shards) <= 1:
        return await sandbox.run(staged, shard_spec(spec, shards[0] if shards else [], spec.label))
    runs = await asyncio.gather(*(sandbox.run(staged, shard_spec(spec, shard, f"{spec.label} ({k + 1}/{len(shards)})"))
                                  for k, shard in enumerate(shards)))
    return merge(list(runs), spec.label)


def shard_spec(spec: RunSpec, nodes: list[str], label: str) -> RunSpec:
    """One shard's run: its files collected, only its classes run when it names classes (or a
    slice of the whole suite)."""
    sliced = _PART.match(nodes[0]) if len(nodes) == 1 else None
    if sliced:
        return spec.model_copy(update={"part": [int(sliced[1]) - 1, int(sliced[2])], "label": label})
    files = list(dict.fromkeys(n.split("::")[0] for n in nodes))
    only = list(nodes) if any("::" in n for n in nodes) else []
    return spec.model_copy(update={"argv": [*files, *spec.argv], "only": only, "label": label})


def merge_reach(parts: list[Reach | None]) -> Reach | None:
    """The shards' records as one (each numbered the functions in its own import order); None
    when any shard has none: its tests could not be selected safely."""
    present = [p for p in parts if p is not None]
    if not parts or len(present) < len(parts):
        return None
    functions = sorted({name for p in present for name in p.functions})
    index = {name: k for k, name in enumerate(functions)}
    merged = Reach(functions=functions, files=sorted({f for p in present for f in p.files}),
                   spawned=sorted({t for p in present for t in p.spawned}), whole=any(p.whole for p in present))
    shared: set[int] = set()
    for p in present:
        shared.update(index[p.functions[k]] for k in p.shared)
        for test, ks in p.tests.items():
            merged.tests[test] = sorted(index[p.functions[k]] for k in ks)
    merged.shared = sorted(shared)
    return merged


def merge(runs: list[RunResult], label: str) -> RunResult:
    record = HarnessRecord(completed=all(r.record.completed for r in runs))
    coverage: Coverage | None = Coverage() if all(r.record.coverage is not None for r in runs) else None
    for r in runs:
        record.outcomes.update(r.record.outcomes)
        record.test_exceptions.update(r.record.test_exceptions)
        record.durations.update(r.record.durations)
        record.collected += r.record.collected
        record.cpu_ms = (record.cpu_ms or 0.0) + (r.record.cpu_ms or 0.0)
        if coverage is not None and r.record.coverage is not None:
            for path, lines in r.record.coverage.shared.items():
                coverage.shared[path] = sorted(set(coverage.shared.get(path, [])) | set(lines))
            coverage.tests.update(r.record.coverage.tests)
    record.coverage = coverage
    record.reach = merge_reach([r.record.reach for r in runs])
    codes = [r.exit_code for r in runs]
    record.exit_code = next((c for c in codes if c), 0) if None not in codes else None
    killed = next((r.killed_reason for r in runs if r.killed_reason), None)
    return RunResult(
        label=label, sandbox_id="+".join(r.sandbox_id for r in runs), command=" ; ".join(r.command for r in runs),
        exit_code=record.exit_code, duration_ms=max(r.duration_ms for r in runs),
        started_at=min(r.started_at for r in runs), stdout="".join(r.stdout for r in runs)[-(64 << 10):],
        stderr="".join(r.stderr for r in runs)[-(64 << 10):], stdout_bytes=sum(r.stdout_bytes for r in runs),
        stderr_bytes=sum(r.stderr_bytes for r in runs), timed_out=any(r.timed_out for r in runs),
        killed_reason=killed, nonce_ok=all(r.nonce_ok for r in runs), record=record)
