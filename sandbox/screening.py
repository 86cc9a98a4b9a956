"""The host's side of a warm screening sandbox (the server is ``screen_server.py``, inside).

One server per sandbox slot and staged project, started on the first candidate and kept while
that project's candidates run in the slot. It answers one request at a time, in order. Anything
unexpected (it does not start, a reply does not come, a reply is not what was asked) closes it
and the caller falls back to a fresh run: screening may only ever save time, never decide.
A reply becomes a run's result here (``screened_result``), its record's nonce checked outside
the sandbox as a fresh run's is.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import time
from typing import Any

from pve.models import RunResult, RunSpec
from pve.settings import SandboxSettings
from sandbox.capture import Capture
from sandbox.runs import RESULT_CAP, display, parse_record

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


def screened_result(spec: RunSpec, reply: dict[str, Any], nonce: str, settings: SandboxSettings) -> RunResult:
    """The server's reply to one candidate as a run's result, its record's nonce checked here."""
    s = settings
    out, err, res = (_restored(reply.get(k), cap) for k, cap in
                     (("stdout", s.output_cap_bytes), ("stderr", s.output_cap_bytes), ("result", RESULT_CAP * 2)))
    record, nonce_ok = parse_record(res, nonce)
    killed = reply.get("killed_reason")
    duration = float(reply.get("duration_ms") or 0.0)
    how = "screened, tests called directly" if reply.get("direct") else "screened"
    return RunResult(
        # "tests called directly": without pytest's session (sandbox/inside/direct.py), where that was
        # checked to give pytest's outcomes on the original code
        label=f"{spec.label} ({how})" if spec.label else how, sandbox_id=f"scr-{secrets.token_hex(2)}",
        command=display(spec), exit_code=reply.get("exit_code"), duration_ms=duration,
        started_at=time.monotonic() - duration / 1000, stdout=out.text(), stderr=err.text(),
        stdout_bytes=out.total, stderr_bytes=err.total, timed_out=bool(killed and killed.startswith("timeout")),
        killed_reason=killed, nonce_ok=nonce_ok, record=record, screened=True)


def _restored(part: Any, cap: int) -> Capture:
    """A stream as the screening server kept it (head, tail, total), as a Capture."""
    out = Capture(cap)
    if isinstance(part, dict):
        out.head = bytearray(str(part.get("head", "")).encode("latin-1"))[: out.half]
        out.tail = bytearray(str(part.get("tail", "")).encode("latin-1"))[-out.half:] if part.get("tail") else bytearray()
        out.total = max(int(part.get("total") or 0), len(out.head) + len(out.tail))
    return out
