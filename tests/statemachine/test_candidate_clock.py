"""A candidate's wall clock comes from the original run, without the tests the harness stopped as
endless: a reproduction that hung for 5 s must not give every looping mutant 25 s."""

from __future__ import annotations

from pve.models import ExceptionInfo, HarnessRecord, RunResult
from statemachine.validate import candidate_timeout


def _run(duration_ms: float, hung_ms: float | None) -> RunResult:
    record = HarnessRecord(durations={"t.py::test_fast": 20.0})
    if hung_ms is not None:
        record.durations["t.py::test_loop"] = hung_ms
        record.test_exceptions["t.py::test_loop"] = ExceptionInfo(
            type="TimeoutError", qualified_type="TimeoutError", message="the test ran longer than 5 s (an endless loop?)")
    return RunResult(sandbox_id="s", command="pytest", exit_code=1, duration_ms=duration_ms, record=record)


def test_hung_tests_do_not_set_the_candidates_clock():
    assert candidate_timeout(_run(5_600, 5_000)) == 3.0  # 5 x the 600 ms that was not the loop
    assert candidate_timeout(_run(5_600, None)) == 28.0
    assert candidate_timeout(_run(5_050, 5_000)) == 2.0  # never under the minimum
    assert candidate_timeout(None) is None


def test_a_screened_test_may_take_twenty_times_the_slowest_original_test():
    from statemachine.validate import screening_test_seconds

    assert screening_test_seconds(_run(5_600, 5_000)) == 0.4  # 20 x 20 ms; the endless one does not count
    assert screening_test_seconds(_run(100, None)) == 0.4
    slow = _run(100, None).model_copy(deep=True)
    slow.record.durations["t.py::test_slow"] = 300.0  # the whole suite's baseline, once it is in
    assert screening_test_seconds(_run(100, None), slow) == 6.0
    tiny = _run(10, None).model_copy(deep=True)
    tiny.record.durations = {"t.py::test_fast": 0.1}
    assert screening_test_seconds(tiny) == 0.25  # never under the floor
    assert screening_test_seconds(None, None) is None
