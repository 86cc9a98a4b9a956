"""One rule per knob: a setting and a command-line flag are checked by the same bounds."""

from __future__ import annotations

import pytest

from pve.errors import BadInput
from pve.settings import Settings

FLAGS = {"slots": "--slots", "max_candidates": "--max-candidates", "search_seconds": "--max-seconds",
         "timeout_s": "--timeout"}


@pytest.mark.parametrize("env, flag, value, words", [
    ("PVE_SLOTS", "slots", 0, "between 1 and 64"),
    ("PVE_SLOTS", "slots", 65, "between 1 and 64"),
    ("PVE_MAX_CANDIDATES", "max_candidates", 5001, "between 1 and 5000"),
    ("PVE_SEARCH_SECONDS", "search_seconds", 0.5, "between 1 and 3600"),
    ("PVE_SANDBOX_TIMEOUT", "timeout_s", 0.4, "between 0.5 and 3600"),
    ("PVE_SANDBOX_TIMEOUT", "timeout_s", 3601, "between 0.5 and 3600"),
])
def test_the_same_bounds_whichever_way_a_knob_is_set(env, flag, value, words):
    with pytest.raises(BadInput, match=f"^{env} must be {words}"):
        Settings.from_env({env: str(value)})
    with pytest.raises(BadInput, match=f"^{FLAGS[flag]} must be {words}"):
        Settings().with_limits(**{flag: value}, names=FLAGS)


def test_values_inside_the_bounds_are_taken_either_way():
    from_env = Settings.from_env({"PVE_SANDBOX_TIMEOUT": "0.5", "PVE_SEARCH_SECONDS": "1.5", "PVE_SLOTS": "64"})
    assert (from_env.sandbox.timeout_s, from_env.search_seconds, from_env.slots) == (0.5, 1.5, 64)
    flagged = Settings().with_limits(slots=1, max_candidates=5000, search_seconds=3600, timeout_s=0.5, names=FLAGS)
    assert (flagged.slots, flagged.max_candidates, flagged.search_seconds, flagged.sandbox.timeout_s) == (1, 5000, 3600, 0.5)
    assert Settings().with_limits() == Settings()  # nothing given: nothing changed
