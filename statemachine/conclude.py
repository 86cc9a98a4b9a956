"""Step 4, conclude: the session's outcome from every verdict. Pure: models in, a ``Conclusion`` out.

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
from statemachine.decide import oracle_strength, passing_tests, pick_winner

_ENGINES = {"offline": "offline engine", "models": "models", "auto": "offline engine or models"}


def conclude(verdicts: list[Verdict], repro: Reproduction, analysis: Analysis, baseline: RunResult | None, *,
             repro_source: str | None, brain: str, stop: str | None) -> Conclusion:
    """``repro_source``: the reproduction script's text (assertions make a stronger oracle);
    ``stop``: why the search ended, if it ran."""
    winner = pick_winner(verdicts)
    if winner is not None:
        oracle = oracle_strength(repro, baseline, repro_source)
        return Conclusion(status=SessionStatus.VERIFIED, winner=winner.candidate_id, oracle=oracle,
                          oracle_passed=_oracle_passed(repro, winner),
                          message=f"candidate {winner.candidate_id} verified (oracle: {oracle.value})")
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
