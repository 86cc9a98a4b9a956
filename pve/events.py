"""The console event stream.

Every step reports progress as ``Event``s to the session's ``Fanout``. The CLI renders them live, the
store keeps them (``SESSION#<id>`` / ``EVENT#<seq>``) for the web view's console, and tests
read them. A sink fans out to several consumers with ``Fanout``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field


class Event(BaseModel):
    seq: int
    ts: float  # unix seconds
    kind: str  # "analyze", "reproduce", "generate", "run", "verified", "no-fix", "error", ...
    text: str  # one console line, without the leading "> "
    status: str | None = None  # "PASSED" / "FAILED" / ... rendered in brackets
    data: dict[str, Any] = Field(default_factory=dict)


class Fanout:
    """Numbers events and hands each to every listener, in order."""

    def __init__(self, *listeners: Callable[[Event], None], after: int = 0) -> None:
        """``after``: the last number already used (a step that continues a session's console)."""
        self._listeners = list(listeners)
        self._seq = after
        self.events: list[Event] = []

    def emit(self, kind: str, text: str, status: str | None = None, **data: Any) -> Event:
        self._seq += 1
        event = Event(seq=self._seq, ts=time.time(), kind=kind, text=text, status=status, data=data)
        self.events.append(event)
        for listener in self._listeners:
            listener(event)
        return event
