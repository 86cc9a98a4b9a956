"""The host's side of a warm screening sandbox (the server is ``screen_server.py``, inside).

One server per sandbox slot and staged project, started on the first candidate and kept while
that project's candidates run in the slot. It answers one request at a time, in order. Anything
unexpected (it does not start, a reply does not come, a reply is not what was asked) closes it
and the caller falls back to a fresh run: screening may only ever save time, never decide.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from typing import Any

_START_S = 30.0  # a server that is not ready by then is not used (a cold pytest import is ~1 s)


class Screener:
    def __init__(self, key: str, proc: asyncio.subprocess.Process, control: asyncio.StreamWriter,
                 replies: asyncio.StreamReader, transports: list[asyncio.BaseTransport], sandbox_pid: int | None) -> None:
        self.key = key  # the staged project it serves
        self.proc = proc
        self.control = control
        self.replies = replies
        self.transports = transports
        self.sandbox_pid = sandbox_pid
        self.loop = asyncio.get_running_loop()
        self.next_id = 0
        self.closed = False
        self.why = ""  # why it was closed

    @property
    def alive(self) -> bool:
        return not self.closed and self.proc.returncode is None

    async def ready(self) -> bool:
        reply = await self._reply(_START_S)
        if reply is None or not reply.get("ready"):
            self.close(str((reply or {}).get("why") or "did not start"))
            return False
        return True

    async def screen(self, spec: dict[str, Any], timeout_s: float) -> dict[str, Any] | None:
        """Run one candidate; the server's reply, or None (and the server closed) if it failed."""
        self.next_id += 1
        request = {"id": self.next_id, "spec": spec, "timeout_s": timeout_s}
        try:
            self.control.write((json.dumps(request) + "\n").encode())
            await self.control.drain()
        except (ConnectionError, OSError):
            self.close("its control pipe closed")
            return None
        # the server kills a child at timeout_s; a reply later than that plus the reset is a hung server
        reply = await self._reply(timeout_s + 10.0)
        if reply is None or reply.get("id") != self.next_id:
            self.close("no reply" if reply is None else "a reply out of order")
            return None
        return reply

    async def _reply(self, timeout: float) -> dict[str, Any] | None:
        try:
            line = await asyncio.wait_for(self.replies.readline(), timeout)
            reply = json.loads(line) if line else None
        except (TimeoutError, ValueError, asyncio.LimitOverrunError, asyncio.IncompleteReadError):
            return None
        return reply if isinstance(reply, dict) else None

    async def aclose(self, why: str = "closed") -> None:
        """Close, and wait until the sandbox has exited (its exit is then not reported to a
        closed event loop)."""
        self.close(why)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.proc.wait(), 5.0)

    def close(self, why: str = "closed") -> None:
        if self.closed:
            return
        self.closed, self.why = True, why
        # The sandbox's PID 1 takes its whole PID namespace down; bwrap's group after it.
        for pid, kill in ((self.sandbox_pid, os.kill), (self.proc.pid, os.killpg)):
            if pid is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    kill(pid, signal.SIGKILL)
        for transport in self.transports:
            with contextlib.suppress(Exception):
                transport.close()
        with contextlib.suppress(Exception):
            self.control.close()
