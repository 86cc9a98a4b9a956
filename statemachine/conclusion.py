"""Decide (``Verification.decide``): the session's outcome from every verdict. Pure: models in, a ``Conclusion`` out.

Verified, then fastest, then smallest (``decide.pick_winner``); the oracle strength says what
the winner was held to.
"""

from __future__ import annotations

from pve.models import (
    Analysis,
    Conclusion,
    Reproduction,
    ReproKind,
    RunResult,
    SessionStatus,
    Verdict,
)
from statemachine.verdict import oracle_strength, passing_tests, pick_winner

_ENGINES = {"offline": "offline engine", "models": "models", "auto": "offline engine or models"}


def conclude(verdicts: list[Verdict], repro: Reproduction, analysis: Analysis, baseline: RunResult | None, *,
             repro_source: str | None, brain: str, stop: str | None, still_failing: list[str] | None = None) -> Conclusion:
    """``repro_source``: the reproduction script's text (assertions make a stronger oracle);
    ``stop``: why the search ended, if it ran; ``still_failing``: other failures of the log that
    no fix was held to (the fix leaves them failing: the verdict's scope says so)."""
    scope = _scope(still_failing or [])
    winner = pick_winner(verdicts)
    if winner is not None:
        oracle = oracle_strength(repro, baseline, repro_source)
        return Conclusion(status=SessionStatus.VERIFIED, winner=winner.candidate_id, oracle=oracle,
                          oracle_passed=_oracle_passed(repro, winner),
                          message=f"candidate {winner.candidate_id} verified (oracle: {oracle.value}; "
                                  f"{winner.covered or 'the regression oracle'}){scope}")
    # Nothing verified: the best candidate that passed the reproduction is shown as what it is.
    plausible = pick_winner([v.model_copy(update={"verified": True}) for v in verdicts
                             if v.plausible and not v.preflight.workaround]) or \
        pick_winner([v.model_copy(update={"verified": True}) for v in verdicts if v.plausible])
    if plausible is not None:
        why = plausible.reason.removeprefix("plausible, not verified: ")
        return Conclusion(status=SessionStatus.PLAUSIBLE, winner=plausible.candidate_id,
                          oracle=oracle_strength(repro, baseline, repro_source),
                          oracle_passed=_oracle_passed(repro, plausible),
                          message=f"candidate {plausible.candidate_id} is plausible, not verified: {why}{scope}")
    if verdicts:
        return Conclusion(status=SessionStatus.NO_FIX,
                          message=f"none of {len(verdicts)} candidates tried passed ({stop or 'no candidate passed'})")
    where = analysis.failing_frame.project_path if analysis.failing_frame else "the project"
    return Conclusion(status=SessionStatus.NO_FIX,
                      message=f"no candidate fix for {analysis.exception.type} in {where} ({_ENGINES.get(brain, brain)})")


def dependencies_failed(message: str) -> Conclusion:
    """The project's own environment could not be built: nothing could run, nothing was judged."""
    return Conclusion(status=SessionStatus.DEPENDENCIES, message=message)


def not_reproduced(why: str) -> Conclusion:
    return Conclusion(status=SessionStatus.NOT_REPRODUCED, message=f"could not reproduce: {why}")


def nothing_to_fix() -> Conclusion:
    """Reproduced, but with no exception to localize from (e.g. a script that only exits 1)."""
    return Conclusion(status=SessionStatus.NO_FIX, message="the reproduction fails without an exception to work from")


def _scope(still_failing: list[str]) -> str:
    if not still_failing:
        return ""
    return (f"; scope: the reported failure only, {len(still_failing)} other failing test(s) still fail "
            f"({', '.join(still_failing[:3])}{', ...' if len(still_failing) > 3 else ''})")


def _oracle_passed(repro: Reproduction, winner: Verdict) -> str:
    parts = []
    if repro.kind is ReproKind.PYTEST:
        parts.append(f"failing tests ({len(repro.test_ids)} target{'s' if len(repro.test_ids) != 1 else ''})")
    else:
        parts.append(f"reproduction ({repro.display()})")
    if winner.regression is not None and winner.regression_selected is None:
        parts.append(f"whole test suite ({len(passing_tests(winner.regression))} passed)")
    elif winner.regression is not None:
        parts.append(f"the {len(passing_tests(winner.regression))} tests that run the changed code (all passed before)")
    elif winner.regression_selected == 0:
        parts.append("no test that passed before runs the changed code")
    return " + ".join(parts)
