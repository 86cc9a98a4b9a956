"""Coverage for fault localization, kept apart from the regression baseline: the failing tests
and a bounded, relevant sample of passing ones run once more with line tracing.

Tracing every line of a 2,000-test suite makes it many times slower than the suite itself, and
localization does not need it: spectrum-based ranking needs the failing tests' lines and enough
passing tests that run the same code to tell the suspicious lines from the merely executed.
The sample is chosen from the source: tests in the failing test's class, then tests that call
the functions the failure runs through, then the failing test's file neighbours.
"""

from __future__ import annotations

from collections.abc import Callable

from pve.models import Reproduction, ReproKind, RunMode, RunResult, RunSpec, Spectrum
from statemachine import oracle
from statemachine.testmap import is_test_module, units
from statemachine.verdict import endless, passing_tests

SAMPLE_TESTS = 40  # passing tests traced at most
MAX_FAILING = 10  # failing tests traced at most (more of the same failure adds little)


def passing_sample(files: list[str], failing: list[str], names: frozenset[str], read: Callable[[str], str],
                   limit: int = SAMPLE_TESTS) -> list[str]:
    """Up to ``limit`` test node ids that share the most with the failure, best first:
    the failing test's class (3), calls a function the failure runs through (2), the failing
    test's file (1). A test that shares nothing is not traced: it would only add noise."""
    classes = {t.rsplit("::", 1)[0] for t in failing if t.count("::") >= 2}
    own_files = {t.split("::")[0] for t in failing}
    scored: list[tuple[int, int, str]] = []
    order = 0
    for path in files:
        for unit in units(path, read, functions=True):
            order += 1
            if unit.node in failing or any(unit.node == f.split("[")[0] for f in failing):
                continue
            score = (3 if unit.node.rsplit("::", 1)[0] in classes else 0) + (2 if unit.names & names else 0) \
                + (1 if path in own_files else 0)
            if score:
                scored.append((-score, order, unit.node))
    return [node for _, _, node in sorted(scored)[:limit]]


def sample_files(py_files: list[str], oracle_nodes: list[str], failing: list[str]) -> list[str]:
    """Where to look for the sample: the oracle's files when it was selected (they are the
    relevant ones of a large suite), else every test file, and the failing tests' own."""
    pool = [n.split("::")[0] for n in oracle_nodes] or [p for p in py_files if is_test_module(p)]
    return list(dict.fromkeys([*(t.split("::")[0] for t in failing), *pool]))


def coverage_spec(nodes: list[str], repro: Reproduction, seconds: float, label: str = "coverage",
                  after: RunResult | None = None) -> RunSpec:
    """A traced pytest run of exactly ``nodes`` (their files are collected, only they run).
    ``after``: the untraced run of the same failure, whose endless tests need not run long."""
    traced = RunSpec(mode=RunMode.PYTEST, argv=list(repro.pytest_options), coverage=True, pythonpath=repro.pythonpath,
                     wall_s=seconds, test_seconds=HUNG_TRACE_S if after is not None and hung(after) else None,
                     patches=repro.written())
    return oracle.shard_spec(traced, nodes, label)


# A test that looped in the reproduction loops when traced too: its first seconds hold every
# line of the loop, and tracing it to the sandbox's per-test limit would only cost the session.
HUNG_TRACE_S = 2.0


def hung(run: RunResult) -> bool:
    """Did the harness stop a test of this run as endless (sandbox/inside/harness.py)?"""
    return any(endless(run, t) for t in run.record.test_exceptions)


def build(repro: Reproduction, traced: RunResult | None, sample: RunResult | None,
          failing_ids: list[str] | None = None) -> Spectrum:
    """Failing and passing coverage, and one line on what localization has to work with.
    ``traced``: the failing run with coverage (pytest: ``failing_ids`` and the sample in one
    run; a script: the script); ``sample``: a script's passing sample. A sampled test that
    fails counts neither way: it is not the reported failure."""
    failing: set[str] = set()
    coverages = []
    passing: set[str] = set()
    if traced is not None and traced.record.coverage is not None:
        if repro.kind is ReproKind.PYTEST:
            failing = {t for t, o in traced.record.outcomes.items() if o in ("failed", "error")
                       and t in (failing_ids or [])}
            passing = passing_tests(traced) - failing
            coverages.append(traced.record.coverage)
        elif traced.nonce_ok and (traced.exit_code != 0 or traced.record.exception is not None):
            failing = {"<run>"}
            coverages.append(traced.record.coverage)
    if failing and sample is not None and sample.record.coverage is not None:
        coverages.append(sample.record.coverage)
        passing |= passing_tests(sample)
    if not failing:
        why = "the coverage run did not complete" if traced is None or traced.record.coverage is None \
            else "no failing test was traced"
        return Spectrum(note=f"traceback only ({why})")
    return Spectrum(coverages=coverages, failing=sorted(failing), passing=sorted(passing))
