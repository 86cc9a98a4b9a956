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
    snippet = EXAMPLES / "snippets" / "average.py"
    log = (EXAMPLES / "snippets" / "average.log").read_bytes()

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
