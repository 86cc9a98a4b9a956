"""One run in a sandbox slot, from bwrap's start to its result: the launch (never cut off
halfway), the slot's cgroups joined before the sandbox may run, the streams capped while they
flow, the wall clock and the kill sequence, and the record read with its nonce checked here,
outside the sandbox.

Apart from ``bwrap.py`` (which owns the slots, the staging and the screening servers and
prepares each run's command line and descriptors) because a run's life, and every way it can
end (its clock, a flood, a cancellation, a kernel that refuses namespaces), is one concern. The
process plumbing at the bottom (bwrap's info, pipes as streams, the cgroup release) is shared
with the start of a warm screening server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pve.errors import SandboxUnavailable
from pve.models import RunResult, RunSpec
from pve.settings import SandboxSettings
from sandbox.capture import Capture
from sandbox.cgroup import SlotCgroups
from sandbox.runs import RESULT_CAP, display, parse_record, pump

NAMESPACE_HINT = ("allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1; on Ubuntu "
                  "kernel.apparmor_restrict_unprivileged_userns=0), or run PVE where they are allowed")
_GRACE_S = 0.5


@dataclass(frozen=True)
class Slot:
    """Where a run happens: the slot's number, the Popen arguments that start bwrap as the
    slot's own uid, and its cgroups."""

    number: int
    ids: dict[str, Any]
    cgroups: SlotCgroups
    # A background run's CPU weight, asked once bwrap has started and before it is let run
    # (someone may have begun to wait for it meanwhile); None in a foreground slot.
    weight: Callable[[], str] | None = None


@dataclass(frozen=True)
class Launch:
    """bwrap's command line and the descriptors around it: ``pass_fds`` are the child's (closed
    here once it has them), the others our ends of its pipes."""

    args: list[str]
    pass_fds: tuple[int, ...]
    result: int  # the harness's record
    info: int  # bwrap's --info-fd
    block: int | None  # the cgroup release (--block-fd); None without cgroups


@dataclass
class RunningSandbox:
    """A started sandbox: bwrap's process, the streams of its result and info pipes, and why it
    was stopped (first reason first)."""

    proc: asyncio.subprocess.Process
    result: asyncio.StreamReader
    info_reader: asyncio.StreamReader
    transports: tuple[asyncio.BaseTransport, ...]
    info: Capture  # bwrap's info JSON, as far as it came
    killed: list[str] = field(default_factory=list)

    def signal_sandbox(self, sig: int) -> None:
        if self.proc.returncode is not None:
            return
        child = child_pid(self.info)
        if child is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(child, sig)

    def kill(self, reason: str) -> None:
        # SIGTERM the sandbox's PID 1 (a program may catch it), then SIGKILL it, which takes
        # its whole PID namespace down and lets bwrap reap it; bwrap itself only as a last resort.
        if not self.killed:
            self.killed.append(reason)
            self.signal_sandbox(signal.SIGTERM)
            loop = asyncio.get_running_loop()
            loop.call_later(_GRACE_S, self.signal_sandbox, signal.SIGKILL)
            loop.call_later(_GRACE_S * 3, kill_if_running, self.proc)

    def close(self) -> None:
        for transport in self.transports:
            transport.close()


class SlotRun:
    """One run of the harness in a slot; ``run`` once."""

    def __init__(self, slot: Slot, settings: SandboxSettings, spec: RunSpec, nonce: str, timeout: float) -> None:
        self.slot, self.settings, self.spec, self.nonce, self.timeout = slot, settings, spec, nonce, timeout
        self.ooms_before = slot.cgroups.oom_kills(slot.number) if slot.cgroups.available else 0
        cap = settings.output_cap_bytes
        self.out, self.err, self.res = Capture(cap), Capture(cap), Capture(RESULT_CAP * 2)
        self.info = Capture(1 << 12)

    async def run(self, launch: Launch) -> RunResult:
        s = self.settings
        sandbox_id = f"sbx-{secrets.token_hex(2)}"
        started = time.monotonic()
        sandbox = await self._start(launch)
        pumps = asyncio.gather(
            pump(sandbox.proc.stdout, self.out, s.output_kill_bytes, sandbox.kill, "output flood (stdout)"),
            pump(sandbox.proc.stderr, self.err, s.output_kill_bytes, sandbox.kill, "output flood (stderr)"),
            pump(sandbox.result, self.res, RESULT_CAP, sandbox.kill, "result too large"),
            pump(sandbox.info_reader, self.info, 1 << 12, sandbox.kill, "bad info"),
        )
        await self._wait(sandbox, pumps)
        ended = time.monotonic()
        try:
            await asyncio.wait_for(pumps, timeout=2.0)
        except TimeoutError:
            pumps.cancel()
        finally:
            sandbox.close()
        return self._result(sandbox, sandbox_id, started, ended)

    async def _start(self, launch: Launch) -> RunningSandbox:
        # The launch (spawn, pipes, cgroup, release) is never cut off halfway: cancelled inside
        # create_subprocess_exec before its pipes are connected, asyncio 3.11 waits forever for
        # them to close, and the sandbox's PID 1, orphaned and blocked on --block-fd, holds them
        # open. A cancellation waits for the launch, then takes the sandbox down.
        launching = asyncio.ensure_future(self._launch(launch))
        try:
            return await asyncio.shield(launching)
        except asyncio.CancelledError:
            while not launching.done():
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.shield(launching)
            if not launching.cancelled() and launching.exception() is None:
                sandbox = launching.result()
                child = child_pid(self.info)
                if child is not None:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(child, signal.SIGKILL)  # PID 1 of the sandbox: its namespace goes with it
                kill_if_running(sandbox.proc)
                with contextlib.suppress(BaseException):
                    await asyncio.wait_for(sandbox.proc.wait(), timeout=_GRACE_S * 4)
                sandbox.close()
            raise

    async def _launch(self, launch: Launch) -> RunningSandbox:
        """Start bwrap, connect its pipes, put its child in the slot's cgroups and let it run."""
        slot = self.slot
        try:
            proc = await asyncio.create_subprocess_exec(
                *launch.args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                env={}, pass_fds=launch.pass_fds, start_new_session=True, **slot.ids,
            )
            if slot.weight is not None:  # before it is let run (--block-fd)
                slot.cgroups.weigh(slot.number, slot.weight())
        except BaseException:
            for fd in (launch.result, launch.info, launch.block):
                if fd is not None:
                    os.close(fd)
            raise
        finally:
            for fd in launch.pass_fds:  # the child's ends, the seccomp program and the spec: the child holds them now
                os.close(fd)
        loop = asyncio.get_running_loop()
        result_reader, result_transport = await pipe_reader(loop, launch.result)
        info_reader, info_transport = await pipe_reader(loop, launch.info)
        if launch.block is not None:
            await enter_cgroup(slot.cgroups, slot.number, info_reader, self.info, launch.block)
        return RunningSandbox(proc, result_reader, info_reader, (result_transport, info_transport), self.info)

    async def _wait(self, sandbox: RunningSandbox, pumps: asyncio.Future[Any]) -> None:
        """Until the sandbox has exited: by itself, stopped by its clock, or cancelled."""
        proc = sandbox.proc
        try:
            await asyncio.wait_for(proc.wait(), timeout=self.timeout)
        except TimeoutError:
            sandbox.kill(f"timeout after {self.timeout:g} s")
            await proc.wait()
        except asyncio.CancelledError:
            # The caller no longer needs this run (a baseline for a failure that did not
            # reproduce): the sandbox goes down with it, never left running unowned.
            sandbox.kill("cancelled")
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(asyncio.shield(proc.wait()), timeout=_GRACE_S * 4)
            # Its pipes end with it: read to their end, so the transport closes inside this
            # event loop (left to the garbage collector, it would close after the loop did).
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(asyncio.shield(pumps), timeout=_GRACE_S * 4)
            pumps.cancel()
            sandbox.close()
            raise

    def _result(self, sandbox: RunningSandbox, sandbox_id: str, started: float, ended: float) -> RunResult:
        s, spec, killed = self.settings, self.spec, sandbox.killed
        cgroups = self.slot.cgroups
        if cgroups.available and cgroups.oom_kills(self.slot.number) > self.ooms_before:
            killed.insert(0, f"out of memory (sandbox limit {s.cgroup_memory_bytes >> 20} MiB)")
        record, nonce_ok = parse_record(self.res, self.nonce)
        exit_code = sandbox.proc.returncode
        if killed or (exit_code is not None and exit_code < 0):
            exit_code = None  # killed: bwrap's 128+signal says nothing about the program
        err_text = self.err.text()
        if exit_code == 1 and not self.res.total and err_text.startswith("bwrap:"):
            raise SandboxUnavailable(f"bubblewrap cannot create its sandbox here: {err_text.strip()}", hint=NAMESPACE_HINT)
        out = self.out
        return RunResult(
            label=spec.label, sandbox_id=sandbox_id, command=display(spec),
            exit_code=exit_code, duration_ms=(ended - started) * 1000, started_at=started,
            stdout=out.text(), stderr=err_text, stdout_bytes=out.total, stderr_bytes=self.err.total,
            timed_out=bool(killed and killed[0].startswith("timeout")),
            killed_reason=killed[0] if killed else None, nonce_ok=nonce_ok, record=record,
        )


# --------------------------------------------------------------------------- process plumbing


async def enter_cgroup(cgroups: SlotCgroups, slot: int, info_reader: asyncio.StreamReader, info: Capture,
                       block_w: int) -> None:
    """Move the blocked sandbox child into the slot's cgroups, then let it run."""
    try:
        child = await read_info(info_reader, info)
        if child is not None:
            cgroups.attach(slot, child)
    finally:
        # If bwrap failed before blocking, the write hits a closed pipe: nothing to release.
        with contextlib.suppress(OSError):
            os.write(block_w, b"go")
        os.close(block_w)


async def read_info(reader: asyncio.StreamReader, info: Capture) -> int | None:
    """Read bwrap's --info-fd JSON (a flat object) as far as its closing brace."""
    try:
        info.feed(await asyncio.wait_for(reader.readuntil(b"}"), timeout=10))
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError) as exc:
        if isinstance(exc, asyncio.IncompleteReadError):
            info.feed(exc.partial)
        return None
    return child_pid(info)


async def pipe_reader(loop: asyncio.AbstractEventLoop, fd: int) -> tuple[asyncio.StreamReader, asyncio.BaseTransport]:
    reader = asyncio.StreamReader(limit=1 << 16)
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", 0))
    return reader, transport


def child_pid(info: Capture) -> int | None:
    """bwrap's --info-fd JSON: {"child-pid": N, ...}."""
    try:
        pid = json.loads(bytes(info.head + info.tail)).get("child-pid")
    except (ValueError, AttributeError):
        return None
    return pid if isinstance(pid, int) and pid > 1 else None


def kill_if_running(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        _signal_group(proc.pid, signal.SIGKILL)


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
