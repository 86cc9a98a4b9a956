"""Steps 4-6 for one candidate: preflight, run in the sandbox, judge.

``Checks`` (from the reproduce step) is everything a candidate is held to: the reproduction,
the regression suite and, for a model's candidates, the model's own reproduction (which must
exit cleanly and print the session's marker line, checked here, outside the sandbox).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from pve.events import Fanout
from pve.models import Candidate, Checks, Preflight, RunResult, RunSpec, Verdict
from sandbox.backend import SandboxBackend, StagedProject
from statemachine import behaviour, impact, oracle
from statemachine.behaviour import span
from statemachine.pending import PendingOracle
from statemachine.preflight import preflight
from statemachine.shortcuts import checks_values, judged_text
from statemachine.verdict import endless, evidence, judge, passing_tests


async def validate(c: Candidate, sandbox: SandboxBackend, staged: StagedProject, checks: Checks,
                   events: Fanout, pending: PendingOracle | None = None, *, checked: bool = True) -> Verdict:
    """``checked=False``: no preflight (a person's change, statemachine/given_fix.py: its cheat checks
    are for generated code)."""
    if pending is not None:
        checks = pending.latest(checks)
    pre = preflight(c, staged.read_text, checks.analysis, checks.repro, marker=checks.marker, protected=checks.protected,
                    declarations=checks.declarations) if checked else Preflight(ok=True, reasons=[])
    if not pre.ok:
        v = judge(c, pre, None, None, checks.repro, checks.before, checks.baseline)
        events.emit("run", f"Candidate {c.id} rejected by preflight", "REJECTED", candidate=c.id, reason=v.reason)
        return v
    trial = _Trial(c, pre, sandbox, staged, {e.path: e.new_text for e in c.edits})
    # A reproduction PVE wrote travels as a patch of its own: the candidate's edits never replace it.
    spec = checks.repro_spec.model_copy(update={"patches": {**trial.patches, **checks.repro_spec.patches},
                                                "label": f"candidate {c.id}"})
    quick = screening_test_seconds(checks.before, checks.baseline)
    screened = await sandbox.screen(staged, spec.model_copy(update={"test_seconds": quick}))
    if screened is not None:
        # Most candidates fail here, for a fraction of a fresh run's cost. One that passes
        # proves nothing yet: it runs again, fresh, below.
        verdict = judge(c, pre, screened, None, checks.repro, checks.before, None)
        if not verdict.verified:
            return _said(events, c, verdict)
    run, verdict, checks = await _reproduction(trial, checks, spec, pending)
    model_run = await _model_reproduction(trial, checks, verdict)
    regression = await _regression(trial, checks, verdict)
    if verdict.model_repro is None:  # not already failed by the model's reproduction
        verdict = await _judged_on_every_run(trial, checks, run, regression, model_run)
    if screened is not None:
        verdict.duration_ms += screened.duration_ms
    return _said(events, c, verdict)


@dataclass
class _Trial:
    """One candidate past preflight, and where it runs: what every step of its validation reads."""

    c: Candidate
    pre: Preflight
    sandbox: SandboxBackend
    staged: StagedProject
    patches: dict[str, str]  # path -> the candidate's text


@dataclass
class _Regression:
    """The regression suite's run with the candidate (None: not run) and what it is compared with."""

    run: RunResult | None
    baseline: RunResult | None  # the original's run, of the tests selected (None: nothing to hold it to)
    scope: str  # which tests were run again, and why, in words
    selected: int | None  # how many (None: all)
    flaky: list[str]  # tests that broke and failed on the original code too when run again


async def _reproduction(t: _Trial, checks: Checks, spec: RunSpec,
                        pending: PendingOracle | None) -> tuple[RunResult, Verdict, Checks]:
    """The reproduction, run fresh with the candidate: the run, its verdict, and the checks (the
    baseline settled, once the candidate passed, when it was still running)."""
    run = await t.sandbox.run(t.staged, spec)
    verdict = judge(t.c, t.pre, run, None, checks.repro, checks.before, None)
    if verdict.verified and pending is not None:
        # It passed the reproduction: now it needs the regression baseline, which may still run.
        ran = checks.repro_spec
        checks = await pending.settled(checks)
        if checks.repro_spec.only != ran.only:
            # It ran the failing tests alone while the baseline was out, and the baseline does not
            # hold the rest of the reproduction: the whole reproduction, then.
            run = await t.sandbox.run(t.staged, checks.repro_spec.model_copy(
                update={"patches": {**t.patches, **checks.repro_spec.patches}, "label": f"candidate {t.c.id}"}))
            verdict = judge(t.c, t.pre, run, None, checks.repro, checks.before, None)
    return run, verdict, checks


async def _model_reproduction(t: _Trial, checks: Checks, verdict: Verdict) -> RunResult | None:
    """A model's own reproduction, run with its candidate once that passed the reproduction (None:
    not run). When it shows a problem, ``verdict`` is failed with it."""
    if not (verdict.verified and checks.model_repro_spec is not None):
        return None
    spec = checks.model_repro_spec
    model_run = await t.sandbox.run(t.staged, spec.model_copy(
        update={"patches": {**t.patches, **spec.patches}, "label": f"candidate {t.c.id} model reproduction"}))
    problem = _model_repro_problem(model_run, checks)
    if problem is not None:
        verdict.verified = False
        verdict.reason = f"model reproduction: {problem}"
        verdict.model_repro = model_run
    return model_run


async def _regression(t: _Trial, checks: Checks, verdict: Verdict) -> _Regression:
    """The tests that passed before and run the changed code, run again with a candidate that
    passed the reproduction; a test that broke is run once more on the original (flaky?)."""
    regression, scope, selected = None, "", None
    baseline, flaky = checks.baseline, list[str]()
    if baseline is not None and checks.own_test_files:
        own = tuple(checks.own_test_files)
        outcomes = {tid: o for tid, o in baseline.record.outcomes.items() if tid.split("::")[0] not in own}
        baseline = baseline.model_copy(update={"record": baseline.record.model_copy(update={"outcomes": outcomes})})
    if verdict.verified and baseline is not None and checks.regression_spec is not None:
        shards, baseline, scope, selected = _selected(baseline, t.staged, t.patches, checks.regression_shards)
        if shards:
            spec = checks.regression_spec
            clock = _scoped_clock(checks.baseline, shards, spec.wall_s) if baseline is not checks.baseline else spec.wall_s
            regression = await oracle.run(t.sandbox, t.staged, spec.model_copy(
                update={"patches": t.patches, "label": f"candidate {t.c.id} regression", "wall_s": clock}), shards)
        else:  # no test that passed before runs the changed code: nothing to run again
            baseline = None
    if regression is not None and baseline is not None and checks.regression_spec is not None:
        baseline, flaky = await _without_flaky(t.sandbox, t.staged, checks.regression_spec, baseline, regression)
    return _Regression(regression, baseline, scope, selected, flaky)


async def _judged_on_every_run(t: _Trial, checks: Checks, run: RunResult, reg: _Regression,
                               model_run: RunResult | None) -> Verdict:
    """The verdict on the reproduction's and the regression suite's runs, with the evidence that
    the tests held the edited code; a verified one must also get past the failing line and change
    nothing else the tests ran, or it is only plausible."""
    verdict = judge(t.c, t.pre, run, reg.run, checks.repro, checks.before, reg.baseline)
    verdict.regression_scope, verdict.regression_selected = reg.scope, reg.selected
    if verdict.verified and reg.flaky:
        verdict.reason = (f"verified; {len(reg.flaky)} test(s) that broke failed on the original code too when run "
                          f"again (flaky, not held): {', '.join(reg.flaky[:3])}")
    verdict.model_repro = model_run
    if model_run is not None:
        verdict.duration_ms += model_run.duration_ms
    held = passing_tests(reg.baseline) & passing_tests(reg.run) if reg.baseline is not None else set()
    reach = checks.baseline.record.reach if checks.baseline is not None else None
    parts = impact.evidence(reach, t.staged.read_text, t.patches) if reach is not None else {}
    covered = impact.coverage(parts, held) if reach is not None else \
        f"{len(held)} tests that passed before and after (which edited code each ran was not recorded)"
    uncovered = [name for name, ran in parts.items() if not ran & held]
    verdict = evidence(verdict, baseline=reg.baseline, covered=covered, suite_note=checks.oracle_note,
                       uncovered=uncovered)
    if verdict.verified:
        around = await _beside_the_fix(t, checks, verdict, parts, held)
        if around is not None:
            verdict.verified, verdict.plausible = False, True
            verdict.reason = f"plausible, not verified: {around}"
    return verdict


async def _beside_the_fix(t: _Trial, checks: Checks, verdict: Verdict, parts: dict[str, set[str]],
                          held: set[str]) -> str | None:
    """Why a verified candidate is only plausible: it gets around the failing line instead of
    past it, or changes what the edited functions do in tests that held them (None: neither).
    ``parts``: the edited code's parts and the tests that ran each; ``held``: the tests that
    passed before and after."""
    # a crash that became the project's own error stops before the failing line on purpose
    around = None if verdict.outcome.startswith("raises") else \
        await _around_the_failure(t.sandbox, t.staged, checks, t.patches, verdict.side_runs)
    functions = [n for n in parts if not n.endswith(": module level") and not n.endswith(")")]
    if around is None and functions and checks.regression_spec is not None:
        recorded = set[str]().union(*(parts[n] for n in functions)) & held
        changed = await behaviour.compare_runs(t.sandbox, t.staged, checks.regression_spec, t.patches,
                                               _by_path(functions), sorted(recorded), ran=verdict.side_runs)
        around = changed.said() if changed else None
    return around


async def _around_the_failure(sandbox: SandboxBackend, staged: StagedProject, checks: Checks,
                              patches: dict[str, str], ran: list[tuple[float, float]]) -> str | None:
    """Where the reproduction checks no value (it only has to stop crashing), a fix must get past
    the failing line, not around it: that line must run at least as often with the fix as it
    did on the original code, where its last run raised. Skipping it (a loop cut short, an
    exit before it) makes the crash go away and fixes nothing. Returns why not, or None."""
    frame = checks.analysis.failing_frame
    if frame is None or not frame.project_path or not frame.line or frame.project_path not in staged.files:
        return None
    if checks_values(checks.repro, judged_text(checks.repro, staged.read_text)):
        return None  # the checks judge what the code computes
    path, line = frame.project_path, frame.line
    key = (str(staged.root), path, line, checks.repro_spec.model_dump_json())
    if key not in _ORIGINAL_COUNTS:
        original = await sandbox.run(staged, checks.repro_spec.model_copy(
            update={"count_line": (path, line), "label": "original code (failing line counted)"}))
        _ORIGINAL_COUNTS[key] = original.record.line_count if original.nonce_ok else None
        ran.append(span(original))
        if len(_ORIGINAL_COUNTS) > 64:
            _ORIGINAL_COUNTS.pop(next(iter(_ORIGINAL_COUNTS)))
    before = _ORIGINAL_COUNTS[key]
    if not before:
        return None  # not counted (the run did not complete): nothing to compare with
    new_line = mapped_line(staged.read_text(path), patches.get(path), line)
    if new_line is None:
        return f"deletes the failing line {path}:{line}"
    run = await sandbox.run(staged, checks.repro_spec.model_copy(update={
        "patches": {**patches, **checks.repro_spec.patches}, "count_line": (path, new_line),
        "label": "candidate (failing line counted)"}))
    ran.append(span(run))
    after = run.record.line_count if run.nonce_ok else None
    if after is None or after < before:
        return (f"gets around the failure instead of past it: {path}:{line} ran {before} time(s) on the original "
                f"(the last raised), {after if after is not None else 'not counted'} with the fix")
    return None


def _by_path(changed: list[str]) -> dict[str, list[str]]:
    """"path: qualified name" (statemachine/impact.py's words) -> the names per path."""
    out: dict[str, list[str]] = {}
    for item in changed:
        path, _, name = item.partition(": ")
        out.setdefault(path, [])
        if name not in out[path]:
            out[path].append(name)
    return out


_ORIGINAL_COUNTS: dict[tuple[str, str, int, str], int | None] = {}


def mapped_line(old: str, new: str | None, line: int) -> int | None:
    """Line ``line`` of ``old`` in ``new`` (None: deleted). A changed line maps to its
    replacement (the fix may rewrite the failing line itself)."""
    if new is None:
        return line
    matcher = difflib.SequenceMatcher(a=old.splitlines(), b=new.splitlines(), autojunk=False)
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if a0 <= line - 1 < a1:
            if tag == "equal":
                return b0 + (line - 1 - a0) + 1
            if tag == "replace":
                return b0 + min(line - 1 - a0, b1 - b0 - 1) + 1
            return None  # deleted
    return None


def _selected(baseline: RunResult, staged: StagedProject, patches: dict[str, str],
              shards: list[list[str]]) -> tuple[list[list[str]], RunResult, str, int | None]:
    """The regression run for these patches: (its shards, the baseline it is compared with, its
    scope in words, how many tests it selected; None: all). Only the tests that passed before and ran a changed function are run again
    (statemachine/impact.py); without the baseline's record of that, all of them."""
    reach = baseline.record.reach
    passed = passing_tests(baseline)
    if reach is None:
        return shards, baseline, "", None
    result = impact.affected(reach, staged.read_text, patches)
    if result.tests is None:
        return shards, baseline, impact.described(result, len(passed), len(passed)), None
    keep = result.tests & passed
    picked = oracle.balanced_subset(baseline, keep, len(shards))
    if picked is None:  # too many node ids for a command line: the whole selection, compared on these
        picked = shards
    outcomes = {t: o for t, o in baseline.record.outcomes.items() if t in keep or o != "passed"}
    held = baseline.model_copy(update={"record": baseline.record.model_copy(update={"outcomes": outcomes})})
    return picked, held, impact.described(result, len(passed), len(keep)), len(keep)


def _scoped_clock(baseline: RunResult | None, shards: list[list[str]], clock: float | None) -> float | None:
    """A selected regression run's wall clock: a generous multiple of what its tests and a
    sandbox's start and collection took on the original (the whole suite's clock would let a
    candidate that loops in one test cost 40 s), never more than the whole run's."""
    if baseline is None or clock is None:
        return clock
    durations = baseline.record.durations
    tests_ms = sum(durations.values())
    shards_then = max(1, baseline.sandbox_id.count("+") + 1)
    outside_ms = max(0.0, baseline.duration_ms - tests_ms / shards_then)  # start, collection
    longest_ms = max(sum(durations.get(t, 0.0) for t in shard) for shard in shards)
    return min(clock, max(_MIN_SCOPED_S, _CANDIDATE_SLOWDOWN * (outside_ms + longest_ms) / 1000))


_MIN_SCOPED_S = 5.0


def _said(events: Fanout, c: Candidate, verdict: Verdict) -> Verdict:
    status = f"PASSED - {verdict.duration_ms:.0f} ms" if verdict.verified else \
        f"PLAUSIBLE - {verdict.reason.removeprefix('plausible, not verified: ')[:100]}" if verdict.plausible else \
        f"FAILED - {short(verdict.reason)}"
    events.emit("run", f"Running candidate {c.id}...", status, candidate=c.id, rule=c.rule, reason=verdict.reason)
    return verdict


_FLAKY_CHECK = 5  # broken tests re-run on the original code at most; more is a real regression


async def _without_flaky(sandbox: SandboxBackend, staged: StagedProject, spec: RunSpec, baseline: RunResult,
                         regression: RunResult) -> tuple[RunResult, list[str]]:
    """A test that passed in the baseline and failed with the fix is run once more on the
    original code: if it fails there too, it is flaky (a thread limit, a clock under load) and
    holds a fix to nothing. Returns the baseline without such tests, and their ids."""
    broken = sorted(passing_tests(baseline) - passing_tests(regression))
    if not broken or len(broken) > _FLAKY_CHECK:
        return baseline, []
    again = await sandbox.run(staged, oracle.shard_spec(spec.model_copy(update={"patches": {}}),
                                                        broken, "original code again (flaky?)"))
    if not again.nonce_ok:
        return baseline, []
    flaky = [t for t in broken if again.record.outcomes.get(t) != "passed"]
    if not flaky:
        return baseline, []
    outcomes = {t: ("flaky" if t in flaky else o) for t, o in baseline.record.outcomes.items()}
    return baseline.model_copy(update={"record": baseline.record.model_copy(update={"outcomes": outcomes})}), flaky


def _model_repro_problem(run: RunResult, checks: Checks) -> str | None:
    if run.killed_reason:
        return run.killed_reason
    if not run.nonce_ok:
        return "the run was cut short (no harness nonce)"
    if run.record.exception is not None:
        return f"{run.record.exception.type}: {' '.join(run.record.exception.message.split())[:120]}"
    if run.exit_code != 0:
        return f"exit {run.exit_code}"
    if not checks.marker or checks.marker not in run.stdout.splitlines():
        return "exited 0 without printing its success marker"
    return None


# A mutant that loops forever is common; it should cost a few seconds, not the whole timeout.
_CANDIDATE_SLOWDOWN = 5.0
_CANDIDATE_MIN_TIMEOUT_S = 2.0


# A screened test running this many times longer than the slowest test of the original run
# (and at least _SCREEN_MIN_TEST_S) is stopped as endless. Screening only rejects, so this
# tighter clock is for screened runs alone: a mutant that loops is common in wrong-answer code
# (a binary search's `lo = mid`), and at the usual limit (half the candidate's clock, 1 s at
# least) each cost a slot a second or more per looping test.
_SCREEN_SLOWDOWN = 20.0
_SCREEN_MIN_TEST_S = 0.25


def screening_test_seconds(*originals: RunResult | None) -> float | None:
    """How long one test may run in a screened candidate run (None: the usual limit), from the
    original runs' tests (the reproduction's, and the whole suite's once its baseline is in)."""
    durations = [ms for run in originals if run is not None
                 for t, ms in run.record.durations.items() if not endless(run, t)]
    if not durations:
        return None
    return max(_SCREEN_MIN_TEST_S, _SCREEN_SLOWDOWN * max(durations) / 1000)


def candidate_timeout(original: RunResult | None) -> float | None:
    """Wall clock for a candidate's run: a generous multiple of the original's (the sandbox's
    own timeout still caps it)."""
    if original is None or original.killed_reason:
        return None
    # Tests the harness stopped as endless (sandbox/inside/harness.py) are not a measure of the run:
    # a candidate that still loops is stopped at half of its own clock.
    hung = sum(ms for t, ms in original.record.durations.items() if endless(original, t))
    return max(_CANDIDATE_MIN_TIMEOUT_S, _CANDIDATE_SLOWDOWN * max(0.0, original.duration_ms - hung) / 1000)


def short(reason: str) -> str:
    """One line for the console: the test id and outcome, or the exception type."""
    first = reason.splitlines()[0] if reason else ""
    if "::" in first:
        return first.split(" (")[0][:100]
    return first.split(":")[0][:80]
