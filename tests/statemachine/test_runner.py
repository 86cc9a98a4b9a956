"""The local runner over the steps: one ``Services`` serves many sessions, and each session's
console is its own (no listener is left behind on anything shared)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from entrypoints import bootstrap
from pve.events import Event
from pve.models import SessionStatus, VerifyRequest
from pve.settings import Settings
from statemachine.runner import verify

from ..conftest import EXAMPLES

pytestmark = pytest.mark.sandbox


def test_two_sessions_on_one_services_keep_their_own_console(tmp_path):
    seen: list[Event] = []
    services = bootstrap.services(replace(Settings.from_env({}), home=tmp_path / "home"), watchers=[seen.append])
    snippet = EXAMPLES / "stats"  # a project with tests: its fix is verified
    log = (EXAMPLES / "stats" / "ci.log").read_bytes()

    async def twice():
        first = await verify(VerifyRequest(path=snippet, error_log=log, cache=False), services)
        stored_first = services.store.events(first.id)
        second = await verify(VerifyRequest(path=snippet, error_log=log, cache=False), services)
        return first, stored_first, second

    first, stored_first, second = asyncio.run(twice())
    assert first.status is second.status is SessionStatus.VERIFIED and first.id != second.id
    one, two = services.store.events(first.id), services.store.events(second.id)
    assert one == stored_first  # the second session wrote nothing under the first one's id
    assert [e.seq for e in one] == list(range(1, len(one) + 1)) and [e.seq for e in two] == list(range(1, len(two) + 1))
    # each console runs from its own start to its own verdict (how many candidate runs it shows
    # depends on which parallel runs finished first, so the two need not be the same length)
    assert one[0].kind == two[0].kind == "analyze" and one[-1].kind == two[-1].kind == "verified"
    assert sum(e.kind == "verified" for e in one) == sum(e.kind == "verified" for e in two) == 1
    assert len(seen) == len(one) + len(two)  # the watcher saw each session's events once


def _services(tmp_path):
    return bootstrap.services(replace(Settings.from_env({}), home=tmp_path / "home"))


def test_localization_traces_the_named_failing_test_beside_the_reproduction(tmp_path):
    """The log names the failing test exactly: its coverage run starts with the reproduction,
    not after it, and counts as sandbox time (``localization_runs``)."""
    stats = EXAMPLES / "stats"
    req = VerifyRequest(path=stats, error_log=(stats / "ci.log").read_bytes(), cache=False)
    session = asyncio.run(verify(req, _services(tmp_path)))
    assert session.status is SessionStatus.VERIFIED
    (traced,) = session.localization_runs
    before = session.before
    assert traced.started_at < before.started_at + before.duration_ms / 1000  # they overlapped
    assert session.search is not None and "1 failing" in session.search.spectra


def test_a_named_test_that_fails_as_a_parametrization_is_traced_again_on_what_failed(tmp_path):
    """The log names ``test_x``; what fails is ``test_x[2]``: the early trace does not hold it,
    so it is stopped and the failing parametrization traced after the reproduction."""
    project = tmp_path / "proj"
    (project / "tests").mkdir(parents=True)
    (project / "calc.py").write_text("def half(n):\n    return n // 2 if n != 2 else n / 0\n")
    (project / "tests" / "test_calc.py").write_text(
        "import pytest\nfrom calc import half\n\n\n@pytest.mark.parametrize('n', [1, 2, 4])\n"
        "def test_x(n):\n    assert half(n) == n // 2\n\n\ndef test_other():\n    assert half(4) == 2\n")
    log = (b"Traceback (most recent call last):\n"
           b'  File "/home/u/proj/tests/test_calc.py", line 7, in test_x\n    assert half(n) == n // 2\n'
           b'  File "/home/u/proj/calc.py", line 2, in half\n    return n // 2 if n != 2 else n / 0\n'
           b"ZeroDivisionError: division by zero\n")
    req = VerifyRequest(path=project, test="pytest tests/test_calc.py::test_x", error_log=log, cache=False)
    session = asyncio.run(verify(req, _services(tmp_path)))
    assert session.status is SessionStatus.VERIFIED, session.message
    (traced,) = session.localization_runs  # the stopped early trace is not kept
    assert traced.started_at >= session.before.started_at + session.before.duration_ms / 1000 - 0.05
    assert "tests/test_calc.py::test_x[2]" in traced.record.outcomes
