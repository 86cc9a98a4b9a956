"""TRUTH.md's evidence levels in the shared models: one vocabulary, and sessions stored before it
still load."""

from __future__ import annotations

from pve.models import Session, SessionStatus


def test_the_three_levels_are_the_words_everywhere():
    assert [s.value for s in (SessionStatus.VERIFIED, SessionStatus.PLAUSIBLE, SessionStatus.NO_FIX)] == [
        "verified", "plausible, not verified", "no fix"]


def test_a_session_stored_as_no_verified_fix_loads_as_no_fix():
    stored = Session(id="0" * 32, created_at="2026-12-01T00:00:00+00:00", project="/p").model_dump(mode="json")
    stored["status"] = "no verified fix"
    assert Session.model_validate(stored).status is SessionStatus.NO_FIX
    assert Session.model_validate_json(Session.model_validate(stored).model_dump_json()).status is SessionStatus.NO_FIX
