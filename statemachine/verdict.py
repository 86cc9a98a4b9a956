"""Verdicts: did the reproduction fail as reported (reproduce), and which candidates are verified
(each candidate's validation, then decide)?

The rules are ARCHITECTURE.md's "what verified means"; every input was measured outside the
sandbox (exit code, nonce over the result pipe, per-test outcomes).
"""

from __future__ import annotations

import ast

from pve.models import (
    SYNTAX_ERRORS,
    Analysis,
    Candidate,
    ExceptionInfo,
    Oracle,
    Preflight,
    Reproduction,
    ReproKind,
    RunResult,
    Verdict,
    same_exception_type,
)

# Runs closer than this are "as fast": the smaller diff wins instead of timer noise.
_SAME_SPEED_MS = 5.0
_SAME_SPEED_RATIO = 0.10


def under(target: str, node: str) -> bool:
    """Is pytest node ``node`` selected by the target ``target``: a node id (a test, a class, a
    test without its parameters), a file, a folder, or "" (the whole project)?"""
    if target in ("", "."):
        return True
    if node == target:
        return True
    if "::" in target:
        return node.startswith((target + "::", target + "["))
    if target.endswith((".py", ".pyw")):
        return node.startswith(target + "::")
    return node.startswith(target.rstrip("/") + "/")


def selects(targets: list[str], node: str) -> bool:
    """Is pytest node ``node`` one of the reproduction's targets?"""
    return any(under(t, node) for t in targets)


def collection_error(run: RunResult, target: str) -> str | None:
    """The node that could not be collected around ``target`` (its module whose import fails,
    its class, a folder's conftest), if any: then the target failed at collection."""
    outcomes = run.record.outcomes
    path, _, rest = target.partition("::")
    parts = path.split("/")
    around = ["/".join(parts[:k]) for k in range(1, len(parts))] + [path]
    names = rest.split("::") if rest else []
    around += ["::".join([path, *names[:k]]) for k in range(1, len(names))]
    around.append("<collection>")
    return next((node for node in around if node != target and outcomes.get(node) == "error"), None)


def target_outcomes(run: RunResult, repro: Reproduction) -> dict[str, str]:
    """Outcome per reproduction target. A target that is more than one test (a file with a
    collection error in the log, a class, a folder, a test's parameters) passes only when it
    was collected and every test in it passed."""
    outcomes = run.record.outcomes
    result: dict[str, str] = {}
    for tid in repro.test_ids:
        if outcomes.get(tid) not in (None, "passed"):
            result[tid] = outcomes[tid]
            continue
        if tid not in outcomes and collection_error(run, tid):
            result[tid] = "error"  # its module (or class) could not even be collected
            continue
        inside = [o for t, o in outcomes.items() if t != tid and under(tid, t)]
        if tid in outcomes and not inside:
            result[tid] = outcomes[tid]
        elif not inside:
            result[tid] = "not run"
        else:  # a skip or an expected failure among many is not this target failing
            result[tid] = next((o for o in inside if o in ("failed", "error", "not run")), "passed")
    return result


def observed_exception(run: RunResult, repro: Reproduction) -> ExceptionInfo | None:
    """The exception the reproduction actually raised (pytest: the first failing target test)."""
    if repro.kind is ReproKind.PYTEST:
        for tid in repro.test_ids:
            exc = run.record.test_exceptions.get(tid)
            if exc is not None:
                return exc
        # wider targets: the collection error (keyed by file) or the first failing test inside
        for tid in repro.test_ids:
            for node, exc in run.record.test_exceptions.items():
                if under(tid, node):
                    return exc
        # a target inside a module (or class) that could not be collected: that error
        for tid in repro.test_ids:
            broken = collection_error(run, tid)
            if broken is not None and broken in run.record.test_exceptions:
                return run.record.test_exceptions[broken]
        return None
    return run.record.exception


def reproduction_failed(run: RunResult, repro: Reproduction) -> bool:
    if run.killed_reason:
        return False
    if repro.kind is ReproKind.PYTEST:
        return any(o != "passed" for o in target_outcomes(run, repro).values())
    return run.exit_code != 0 or run.record.exception is not None


def check_reproduction(run: RunResult, repro: Reproduction, reported: Analysis | None) -> tuple[bool, str]:
    """(reproduced?, explanation). It must fail, with the reported type, in the reported frame."""
    if run.killed_reason:
        return False, f"the reproduction was stopped ({run.killed_reason})"
    if not reproduction_failed(run, repro):
        return False, "the reproduction passed on the original code"
    actual = observed_exception(run, repro)
    if reported is None:
        return (True, f"failed with {actual.type}") if actual else (True, f"failed (exit {run.exit_code})")
    if actual is None:
        return False, f"it failed, but not with an exception (expected {reported.exception.type})"
    problem = unlike(actual, reported)
    return (False, problem) if problem else (True, f"{actual.type} as reported")


def unlike(actual: ExceptionInfo, reported: Analysis) -> str | None:
    """Why ``actual`` is not the reported failure (type, then the failing frame), or None."""
    if not same_exception_type(reported.exception, actual.type):
        return f"it failed with {actual.type}: {_one_line(actual.message, 200)} (reported: {reported.exception.type})"
    want = reported.failing_frame
    if want is not None and want.project_path and reported.exception.type not in SYNTAX_ERRORS:
        frames = [(f.project_path, f.function) for f in actual.frames if f.project_path]
        # A report cut mid-line (a length limit) may end on a frame whose name is cut too
        # ("in handle" for handleChildren): that frame is matched by the part it kept.
        if want.function is not None and not any(
                path == want.project_path and (fn == want.function or (want.cut and (fn or "").startswith(want.function)))
                for path, fn in frames):
            where = f"{frames[-1][0]} {frames[-1][1]}()" if frames else "outside the project"
            return f"it raised {actual.type} in {where}, not in {want.project_path} {want.function}()"
    return None


def failing_tests(run: RunResult, repro: Reproduction, reported: Analysis | None) -> tuple[list[str], list[str]]:
    """The reproduction's tests that failed on the original code: (those that failed as
    reported, those that failed otherwise). A test file often holds a failure of its own that
    has nothing to do with the report (a thread limit, a flaky clock); a fix is not held to it.
    Without a report, or when no test matches it, every failing test is the failure."""
    failed = sorted(t for t, o in run.record.outcomes.items() if o in ("failed", "error") and selects(repro.test_ids, t))
    if reported is None:
        return failed, []
    exceptions = run.record.test_exceptions
    same = [t for t in failed if t in exceptions and unlike(exceptions[t], reported) is None]
    if not same:
        return failed, []
    return same, [t for t in failed if t not in same]


def endless(run: RunResult, test: str) -> bool:
    """Did the harness stop this test as an endless loop (sandbox/inside/harness.py, ``test_alarm``)?"""
    e = run.record.test_exceptions.get(test)
    return e is not None and e.type == "TimeoutError" and "an endless loop?" in e.message


def passing_tests(run: RunResult | None) -> set[str]:
    if run is None:
        return set()
    return {t for t, o in run.record.outcomes.items() if o == "passed"}


def judge(candidate: Candidate, pre: Preflight, run: RunResult | None, regression: RunResult | None,
          repro: Reproduction, before: RunResult, baseline: RunResult | None) -> Verdict:
    """Verified only if every rule holds; the reason names the first that failed."""
    v = Verdict(candidate_id=candidate.id, verified=False, reason="", preflight=pre, run=run,
                regression=regression, diff_lines=candidate.diff_lines)
    if not pre.ok:
        v.reason = "preflight: " + "; ".join(pre.reasons)
        return v
    if run is None:
        v.reason = "not run"
        return v
    v.duration_ms = run.duration_ms + (regression.duration_ms if regression else 0.0)
    v.exec_ms = execution_ms(run, repro)
    if run.killed_reason:
        v.reason = run.killed_reason
        return v
    if not run.nonce_ok:
        v.reason = f"exit {run.exit_code} but the harness never completed (no nonce): the run was cut short"
        return v
    if repro.kind is ReproKind.PYTEST:
        bad = {t: o for t, o in target_outcomes(run, repro).items() if o != "passed"}
        if bad:
            tid, outcome = next(iter(bad.items()))
            exc = run.record.test_exceptions.get(tid)
            v.reason = f"{tid} {outcome}" + (f" ({exc.type}: {_one_line(exc.message, 120)})" if exc else "")
            return v
        v.regressions = sorted(passing_tests(before) - passing_tests(run))
    else:
        raised = run.record.exception
        purpose = on_purpose(raised, repro, before) if raised is not None else None
        if raised is not None and purpose is None:
            v.reason = f"{raised.type}: {_one_line(raised.message, 160)}"
            return v
        if raised is None and run.exit_code != 0:
            v.reason = f"exit {run.exit_code}"
            return v
        v.outcome = purpose or "returns normally"
    if baseline is not None:
        if regression is None:
            v.reason = "the regression suite did not run"
            return v
        if not regression.nonce_ok or regression.killed_reason:
            v.reason = f"regression suite: {regression.killed_reason or 'did not complete'}"
            return v
        v.regressions = sorted(set(v.regressions) | (passing_tests(baseline) - passing_tests(regression)))
    if v.regressions:
        v.reason = f"breaks {len(v.regressions)} test(s) that passed before: {', '.join(v.regressions[:3])}"
        return v
    v.verified = True
    v.reason = "verified"
    return v


def from_report(repro: Reproduction) -> bool:
    """A reproduction written from a report (its code block, or a model's): it checks that the
    reported crash is gone, not what the code returns."""
    return repro.derived_from.startswith(("report:", "model:"))


def on_purpose(raised: ExceptionInfo, repro: Reproduction, before: RunResult) -> str | None:
    """A crash that became a proper error (TRUTH.md): for a reproduction from a report, the
    reported exception must be gone; an exception the project raises on purpose instead (a
    ``raise`` statement in project code, of another type than the reported one, of a type the
    project defines or a built-in one with its message) counts as fixed. Returns the outcome in
    words, or None when this is still a crash."""
    if not from_report(repro):
        return None
    reported = before.record.exception
    if reported is not None and same_exception_type(reported, raised.type):
        return None  # still the reported failure (wherever it comes from now)
    frame = raised.frames[-1] if raised.frames else None
    if frame is None or not frame.project_path or frame.project_path in repro.files or frame.project_path == repro.target:
        return None
    code = (frame.code or "").strip()
    if not code.startswith("raise "):
        return None  # raised by an operation that failed, not by the project on purpose
    module = frame.project_path.removesuffix(".py").replace("/", ".")
    defined = "." in raised.qualified_type and raised.qualified_type.split(".")[0] in module.split(".")
    builtin = "." not in raised.qualified_type and "(" in code
    if not (defined or builtin):
        return None
    return (f"raises {raised.qualified_type}: {_one_line(raised.message, 120)} (on purpose: a raise in "
            f"{frame.project_path}:{frame.line})")


def execution_ms(run: RunResult, repro: Reproduction) -> float | None:
    """How long the fixed code itself ran: pytest's call-phase time of the target tests, or the
    script's CPU time. Wall time of parallel sandboxes mostly measures who got a core first."""
    if repro.kind is ReproKind.PYTEST:
        durations = run.record.durations
        picked = [d for t, d in durations.items() if selects(repro.test_ids, t)]
        return sum(picked) if picked else None
    return run.record.cpu_ms


def _speed(v: Verdict) -> float:
    return v.exec_ms if v.exec_ms is not None else v.duration_ms


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def pick_winner(verdicts: list[Verdict]) -> Verdict | None:
    """Verified, then fastest (within timer noise), then smallest diff, then engine rank."""
    ok = [v for v in verdicts if v.verified]
    if not ok:
        return None
    best = min(_speed(v) for v in ok)
    tolerance = max(_SAME_SPEED_MS, best * _SAME_SPEED_RATIO)
    fast = [v for v in ok if _speed(v) <= best + tolerance]
    return min(fast, key=lambda v: (v.diff_lines, v.candidate_id))


def oracle_strength(repro: Reproduction, baseline: RunResult | None, repro_source: str | None) -> Oracle:
    if passing_tests(baseline):
        return Oracle.EXISTING_TESTS
    if repro.kind is ReproKind.PYTEST:
        return Oracle.FAILING_TESTS  # never "existing tests" when no regression baseline ran
    if repro_source is not None:
        try:
            tree = ast.parse(repro_source)
        except (SyntaxError, ValueError):
            tree = None
        if tree is not None and any(isinstance(n, ast.Assert) for n in ast.walk(tree)):
            return Oracle.REPRO_ASSERTIONS
    return Oracle.NO_CRASH


def evidence(v: Verdict, *, baseline: RunResult | None, covered: str, suite_note: str = "",
             uncovered: list[str] | None = None) -> Verdict:
    """TRUTH.md's evidence levels for a candidate that passed every check that ran: *verified*
    only when tests that run the edited code passed before and after it and no shortcut was
    taken; otherwise *plausible, not verified*, with the reason. ``baseline``: the regression
    oracle's tests that ran the edited code, on the original (None: none ran); ``covered``: which
    they are, in words; ``suite_note``: why the suite did not run, when it did not; ``uncovered``:
    edited functions that no such test ran (every edit needs its own evidence: a harmless edit
    to a well-tested function must not lend its tests to an untested one)."""
    if not v.verified:
        return v
    why = ""
    if v.preflight.workaround:
        why = "a workaround, not a fix: " + "; ".join(v.preflight.workaround)
    elif baseline is None or v.regression is None:
        why = ("no test that passed before runs the edited code" if v.regression_selected == 0 else
               "no test besides the reproduction could check it" + (f" ({suite_note})" if suite_note else ""))
    elif not passing_tests(baseline) & passing_tests(v.regression):
        why = "no test that passed before passed again with it"
    elif uncovered:
        why = f"no test that passed before runs {', '.join(uncovered[:3])}" + (" and more" if len(uncovered) > 3 else "")
    if not why:
        v.covered = covered
        return v
    v.verified, v.plausible = False, True
    v.reason = f"plausible, not verified: {why}"
    return v


def undetermined(verdicts: list[Verdict], candidates: list[Candidate]) -> list[Verdict]:
    """Verified candidates that differ from another verified one only in the values of literals
    (``amount <= -1`` and ``amount <= 0`` both pass): the tests accept either, so they pin neither,
    and which one is the fix is a guess. Each becomes plausible, naming the other values (the
    repair benchmark verified ``-1`` that way, the fastest of three; the held-out tests wanted 0)."""
    ok = [v for v in verdicts if v.verified]
    if len(ok) < 2:
        return verdicts
    by_id = {c.id: c for c in candidates}
    shapes = {v.candidate_id: shape for v in ok if v.candidate_id in by_id
              and (shape := _shape(by_id[v.candidate_id])) is not None}
    for v in ok:
        mine = shapes.get(v.candidate_id)
        if mine is None:
            continue
        others = [o for o in ok if o is not v and o.candidate_id in shapes
                  and shapes[o.candidate_id][0] == mine[0] and shapes[o.candidate_id][1] != mine[1]]
        if others:
            values = "; ".join(f"candidate {o.candidate_id}: {_values_apart(mine[1], shapes[o.candidate_id][1])}"
                               for o in others[:3])
            v.verified, v.plausible = False, True
            v.reason = (f"plausible, not verified: the tests accept other values here too ({values}), so they do not "
                        "pin this one")
    return verdicts


def _shape(candidate: Candidate) -> tuple[str, tuple[object, ...]] | None:
    """The candidate's edited files with every literal masked, and the literals in order (None:
    an edit does not parse)."""
    masked, values = [], []
    for e in sorted(candidate.edits, key=lambda e: e.path):
        try:
            tree = ast.parse(e.new_text)
        except (SyntaxError, ValueError):
            return None
        mask = _Mask()
        masked.append(f"{e.path}\n{ast.dump(mask.visit(tree))}")
        values += mask.values
    return "\n".join(masked), tuple(values)


class _Mask(ast.NodeTransformer):
    """Every literal replaced by one placeholder (``-1`` is one literal, not a minus and a 1)."""

    def __init__(self) -> None:
        self.values: list[object] = []

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        operand = node.operand
        if isinstance(node.op, ast.USub | ast.UAdd) and isinstance(operand, ast.Constant) and \
                isinstance(operand.value, int | float | complex) and not isinstance(operand.value, bool):
            self.values.append(-operand.value if isinstance(node.op, ast.USub) else operand.value)
            return ast.Constant(value="\0")
        return self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        self.values.append(node.value)
        return ast.Constant(value="\0")


def _values_apart(mine: tuple[object, ...], theirs: tuple[object, ...]) -> str:
    pairs = [(b, a) for a, b in zip(mine, theirs, strict=True) if a != b]
    return ", ".join(f"{b!r} instead of {a!r}" for b, a in pairs[:3])
