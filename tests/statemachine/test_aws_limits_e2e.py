"""A setting the AWS engine cannot give is capped for the session and said there: the Step
Functions engine end to end (tests/aws_engine.py) with PVE_ORACLE_SECONDS and
PVE_SANDBOX_TIMEOUT above its clocks (statemachine/stepfunctions/limits.py)."""

from __future__ import annotations

import pytest

from pve.models import SessionStatus
from statemachine.stepfunctions import limits
from tests.app_harness import app_env
from tests.aws_engine import deployed
from tests.statemachine.test_stepfunctions_e2e import STATS, run_issue, store

pytestmark = pytest.mark.sandbox


def test_settings_above_the_engine_s_clocks_are_capped_and_said(monkeypatch, tmp_path, github, app_key):
    env = app_env(tmp_path / "home", github, app_key[0], PVE_SLOTS="3", PVE_ORACLE_SECONDS="600",
                  PVE_SANDBOX_TIMEOUT="30")
    with deployed(monkeypatch, env, bot_login=f"{github.slug}[bot]") as eng:
        _, done, _ = run_issue(monkeypatch, eng, github, STATS, "ci.log")
        assert done["status"] == "SUCCEEDED", done
        s = store()
        (session,) = [x for x in s.recent_sessions() if x.trigger == "issue_comment"]
        assert session.status is SessionStatus.VERIFIED
        oracle = f"the regression oracle's clock is {limits.ORACLE_S:g} s on the AWS engine (PVE_ORACLE_SECONDS asks 600 s"
        runs = f"runs stop at {limits.RUN_S:g} s each on the AWS engine, the sandbox function's clock (PVE_SANDBOX_TIMEOUT asks 30 s)"
        assert any(n.startswith(oracle) for n in session.notes), session.notes
        assert runs in session.notes, session.notes
        said = [e.text for e in s.events(session.id)]
        assert any(t.startswith(f"Note: {oracle}") for t in said), said
        assert "proof.txt" in session.proof_path and oracle in s.get_blob(session.id, "proof.txt").decode()
