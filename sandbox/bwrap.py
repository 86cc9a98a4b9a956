"""The local sandbox: bubblewrap, hardened as ../shared/SANDBOX.md describes.

Per run: a fresh user, PID, network, IPC, UTS and cgroup namespace; bwrap itself started with an
empty environment as an unprivileged uid (one uid per parallel slot; never as root); read-only
``/usr``, runtime and project snapshot; sized tmpfs for ``/tmp``, ``/dev/shm`` and the writable
project copy; rlimits set by the harness before user code; a seccomp deny-list; die-with-parent
and a new session; stdout/stderr capped while streaming; a wall clock (SIGTERM, then SIGKILL);
the result only over a pipe, and the verdict's nonce checked here, outside the sandbox.

This module holds the backend itself: its slots and their queues, staging, project environments,
and the warm screening servers it keeps per slot. What a sandbox sees is its command line
(``bwrap_command.py``); one run's life in a slot is ``slot_run.py``; which slot ids this process
holds is ``slots.py``; the screening server's client is ``screening.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import subprocess
import weakref
from functools import cache
from pathlib import Path
from typing import Any

from pve.errors import SandboxUnavailable
from pve.models import EnvironmentInfo, InstallPlan, RunResult, RunSpec
from pve.settings import SandboxSettings
from sandbox import snapshot
from sandbox.backend import StagedProject
from sandbox.bwrap_command import Descriptors, SandboxCommand, seccomp_memfd
from sandbox.capture import Capture
from sandbox.environments import RUN_PATH, EnvironmentStore
from sandbox.runs import RESULT_CAP, inside_project, test_seconds
from sandbox.runtime import Interpreter, find_interpreter, stage_runtime, staging_root
from sandbox.screening import Screener, screened_result
from sandbox.slot_run import Launch, Slot, SlotRun, child_pid, enter_cgroup, pipe_reader, read_info
from sandbox.slots import claim_slots, release_slots, slot_cgroups

INSTALL_HINT = "install it with: sudo apt-get install bubblewrap"
_SCREEN_REPLY_LIMIT = 32 << 20  # one reply line: two capped streams and a capped record
_MAX_WALL_S = 3600.0


class BubblewrapSandbox:
    """Runs a ``RunSpec`` against a ``StagedProject`` in a bubblewrap sandbox."""

    name = "bubblewrap"

    def __init__(self, settings: SandboxSettings | None = None, slots: int = 3) -> None:
        self.settings = settings or SandboxSettings()
        self.slots = slots
        self._queue_loop: asyncio.AbstractEventLoop | None = None
        self.bwrap = shutil.which("bwrap")
        if self.bwrap is None:
            raise SandboxUnavailable("bubblewrap (bwrap) is not installed; PVE never runs code unsandboxed", hint=INSTALL_HINT)
        self.interpreter: Interpreter = find_interpreter(self.settings.python)
        self.runtime = stage_runtime(self.interpreter)
        self.root = staging_root()
        self.drop_privileges = os.geteuid() == 0
        # Background runs (the baseline) get slots of their own, beside the candidates', at the
        # lowest CPU weight until someone waits for them, then at ten times the default: a
        # search that ends without a plausible fix never needed the baseline, and it had the CPU
        # meanwhile; a plausible fix cannot be judged before it. Only where the slots have
        # cgroups with a cpu controller (started as root).
        # Slot ids (and so uids and cgroups) are exclusive to this process while it lives.
        background = max(1, slots - 1) if self.settings.background else 0
        self.slot_numbers, self._slot_locks = claim_slots(self.root, slots + background)
        # A sandbox nobody holds any more frees its slot ids at once, not at exit: a long-lived
        # process (the server, a test session) makes many and would otherwise run out of ids.
        weakref.finalize(self, release_slots, self._slot_locks)
        self.cgroups = slot_cgroups(self.settings, self.slot_numbers)
        if not self.cgroups.weighted:  # no CPU weights here: background slots would only compete
            self.background_slots = 0
            release_slots(self._slot_locks[slots:])
            del self._slot_locks[slots:], self.slot_numbers[slots:]
        else:
            self.background_slots = background
        self._queues: dict[bool, asyncio.Queue[int]] = {}
        self._background: dict[int, str] = {}  # background slot -> the staged key it runs for
        self._hurried: set[str] = set()  # staged keys whose background runs someone waits for
        self._environments: dict[str, EnvironmentStore] = {}  # per tenant, made on its first project that needs one
        self._held: dict[str, int] = {}  # staged key -> the lock that keeps its environment from eviction
        self._screeners: dict[int, Screener] = {}  # slot -> its warm screening server (one project at a time)
        self._screen_asked: dict[str, int] = {}  # staged key -> candidates asked to be screened so far

    # ------------------------------------------------------------------ identity

    def slot_ids(self, slot: int) -> dict[str, Any]:
        """Popen arguments that start bwrap as the slot's own unprivileged uid."""
        if not self.drop_privileges:
            return {}  # already unprivileged: all slots share our uid (documented limitation)
        uid = self.settings.uid_base + slot
        return {"user": uid, "group": uid, "extra_groups": []}

    def describe(self) -> dict[str, Any]:
        s = self.settings
        return {
            "backend": f"bubblewrap ({_bwrap_version(self.bwrap or 'bwrap')})",
            "python": f"{self.interpreter.version} ({self.interpreter.executable})",
            "namespaces": "user, pid, net (loopback only), ipc, uts, cgroup, mount",
            "identity": (f"one uid/gid per parallel slot ({', '.join(str(s.uid_base + n) for n in self.slot_numbers)}), "
                         "no supplementary groups"
                         if self.drop_privileges else f"uid {os.geteuid()} (PVE not started as root; slots share it)"),
            "environment": "empty (bwrap started with no environment)",
            "filesystem": "read-only /usr, runtime and project snapshot; tmpfs /work, /tmp, /dev/shm "
                          f"{s.tmpfs_bytes >> 20} MiB each",
            "limits": f"wall {s.timeout_s:g} s, cpu {int(s.timeout_s) + 1} s, address space {s.memory_bytes >> 20} MiB, "
                      f"{s.max_procs} processes, file size {s.max_file_bytes >> 20} MiB",
            "seccomp": "deny-list: ptrace, process_vm_*, io_uring, bpf, keyctl, perf_event_open, userfaultfd, "
                       "unshare/setns/mount/clone(CLONE_NEW*), module/kexec loading, ioctl(TIOCSTI)",
            "cgroups": self.cgroups.describe(),
            "output": f"{s.output_cap_bytes >> 10} KiB kept per stream (head + tail); run stopped past {s.output_kill_bytes >> 20} MiB",
            "slots": self.slots,
            "background slots": (f"{self.background_slots} (the baseline, at the lowest CPU weight until awaited)"
                                 if self.background_slots else "none"),
            # the store's host path is the operator's business, not the proof reader's
            "environments": f"one per declaration, bound read-only at {RUN_PATH} (least recently used evicted past "
                            f"{s.environments.store_bytes >> 20} MiB, PVE_ENV_STORE_MB)",
        }

    # ------------------------------------------------------------------ staging

    def stage(self, source: Path, *, single_file: bool = False) -> StagedProject:
        """Snapshot the project (or one file) into the staging root; hash every file."""
        return snapshot.stage(self.root, source, single_file=single_file)

    async def release(self, staged: StagedProject) -> None:
        for slot, screener in list(self._screeners.items()):
            if screener.key == staged.key:
                del self._screeners[slot]
                await screener.aclose()

    def cleanup(self, staged: StagedProject) -> None:
        self._screen_asked.pop(staged.key, None)
        self._hurried.discard(staged.key)
        for slot, screener in list(self._screeners.items()):
            if screener.key == staged.key:
                screener.close()
                del self._screeners[slot]
        shutil.rmtree(staged.root, ignore_errors=True)
        fd = self._held.pop(staged.key, None)
        if fd is not None:
            EnvironmentStore.release(fd)

    # ------------------------------------------------------------------ project environments

    def environments_root(self) -> Path:
        return self.settings.environments.root or self.root / "envs"

    def environments(self, tenant: str = "local") -> EnvironmentStore:
        """The store of one tenant (``environments.tenant_of``): its own environments, failed
        builds and uv cache, in a folder of its own under the root."""
        if tenant not in self._environments:
            es = self.settings.environments
            self._environments[tenant] = EnvironmentStore(
                self.environments_root() / tenant, es,
                builder_uid=self.settings.uid_base - 1 if self.drop_privileges else None, bwrap=self.bwrap or "bwrap")
        return self._environments[tenant]

    async def environment(self, staged: StagedProject, plan: InstallPlan) -> EnvironmentInfo | None:
        store = self.environments(staged.tenant)
        if not plan.needed() and store.settings.given is None:
            return None
        for _ in range(3):  # evicted between being found and being held: find (or build) it again
            env = await asyncio.to_thread(store.prepare, plan, staged.root / "orig", staged.read_text,
                                          python=self.settings.python)
            fd = store.hold(env)
            if fd is not None:
                self._held[staged.key] = fd
                staged.env = env
                return env.info
        raise SandboxUnavailable("the project's environment kept being evicted while in use; raise PVE_ENV_STORE_MB")

    # ------------------------------------------------------------------ running

    async def _slot(self, background: bool = False) -> asyncio.Queue[int]:
        loop = asyncio.get_running_loop()
        if self._queue_loop is not loop:
            fg, bg = asyncio.Queue[int](), asyncio.Queue[int]()
            for n in self.slot_numbers[:self.slots]:
                fg.put_nowait(n)
            for n in self.slot_numbers[self.slots:]:
                bg.put_nowait(n)
            self._queues = {False: fg, True: bg}
            self._queue_loop = loop
        return self._queues[background and self.background_slots > 0]

    def hurry(self, staged: StagedProject) -> None:
        self._hurried.add(staged.key)
        for slot, key in list(self._background.items()):
            if key == staged.key:
                self.cgroups.weigh(slot, "urgent")

    def _args(self, staged: StagedProject, patch_dir: Path | None, spec_json: str, fds: Descriptors,
              command: list[str] | None = None, script: str = "/pve/harness.py") -> list[str]:
        """The full bwrap command line (sandbox/bwrap_command.py); ``command`` replaces the harness
        (benchmarks only), ``script`` is what the sandbox's interpreter runs (the harness, or the
        warm screening server)."""
        line = SandboxCommand(self.bwrap or "bwrap", self.interpreter, self.runtime, self.settings.tmpfs_bytes)
        return line.args(staged, patch_dir, spec_json, fds, command, script)

    def bare_command(self, staged: StagedProject, command: list[str]) -> tuple[list[str], dict[str, Any], tuple[int, ...]]:
        """Popen arguments for ``command`` under exactly the hardening of a real run (first slot).

        For measuring start overhead; pass the fds to Popen and close them all after the run."""
        seccomp_fd = seccomp_memfd()
        info_r, info_w = os.pipe()  # keep the read end open: bwrap writes its info there
        args = self._args(staged, None, "{}", Descriptors(seccomp_fd, info_w), command)
        return args, {"env": {}, **self.slot_ids(self.slot_numbers[0])}, (seccomp_fd, info_w, info_r)

    def _write_patches(self, staged: StagedProject, patches: dict[str, str]) -> Path | None:
        if not patches:
            return None
        pdir = staged.root / f"p-{secrets.token_hex(8)}"
        inside_project(patches)
        for rel, text in patches.items():
            target = pdir.joinpath(*Path(rel).parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        for folder, _dirs, names in os.walk(pdir):
            os.chmod(folder, 0o755)
            for name in names:
                os.chmod(os.path.join(folder, name), 0o644)
        return pdir

    async def run(self, staged: StagedProject, spec: RunSpec) -> RunResult:
        queue = await self._slot(spec.background)
        slot = await queue.get()
        background = slot in self.slot_numbers[self.slots:]
        if background:
            self._background[slot] = staged.key
        patch_dir = None
        try:
            patch_dir = self._write_patches(staged, spec.patches)
            return await self._run_in_slot(staged, spec, slot, patch_dir, background=background)
        finally:
            self._background.pop(slot, None)
            queue.put_nowait(slot)
            if patch_dir is not None:
                shutil.rmtree(patch_dir, ignore_errors=True)

    def _timeout(self, spec: RunSpec) -> float:
        s = self.settings
        if spec.wall_s:  # a run with its own clock (the regression oracle), bounded all the same
            return min(spec.wall_s, _MAX_WALL_S)
        return min(s.timeout_s, spec.timeout_s) if spec.timeout_s else s.timeout_s

    def _limits(self, cpu_s: float) -> dict[str, int]:
        s = self.settings
        return {"as": s.memory_bytes, "cpu": int(cpu_s) + 1, "nproc": s.max_procs, "fsize": s.max_file_bytes, "nofile": 1024}

    # ------------------------------------------------------------------ warm screening

    async def screen(self, staged: StagedProject, spec: RunSpec) -> RunResult | None:
        """A candidate's run in the slot's warm screening server (sandbox/inside/screen_server.py): the
        same harness and limits as ``run``, without a new interpreter, pytest import and project
        copy. For rejecting candidates only: a run that passes is run again by ``run`` (and for
        coverage, which is advisory: a stepping stone's trace). None when it cannot be screened
        (not pytest, a clock of its own, screening off, the server failed)."""
        if not self.settings.screening or spec.mode.value != "pytest" or spec.wall_s or spec.reach:
            return None
        after = self.settings.screen_after if self.settings.screen_after is not None else 2 * self.slots
        seen = self._screen_asked.get(staged.key, 0)
        self._screen_asked[staged.key] = seen + 1
        if seen < after:
            return None
        inside_project(spec.patches)
        queue = await self._slot()
        slot = await queue.get()
        try:
            screener = self._screeners.get(slot)
            if screener is not None and (screener.key != staged.key or not screener.alive
                                         or screener.loop is not asyncio.get_running_loop()):
                screener.close("another project" if screener.key != staged.key else "not running")
                del self._screeners[slot]
                screener = None
            if screener is None:
                screener = await self._start_screener(staged, slot)
                if screener is None:
                    return None
                self._screeners[slot] = screener
            timeout = self._timeout(spec)
            nonce = secrets.token_hex(16)
            # Python's own tracebacks: pytest's long and short formats parse every file in a
            # traceback again (~150 ms a failure on a 10,000-line test module), and a screened
            # run is judged by its recorded outcomes and exceptions, never by its text.
            request = {"mode": spec.mode.value, "target": spec.target, "argv": [*spec.argv, "--tb=native"], "nonce": nonce,
                       "coverage": spec.coverage, "pythonpath": spec.pythonpath, "only": spec.only, "skip": spec.skip, "part": spec.part,
                       "environment": staged.env is not None, "patches": spec.patches,
                       "test_seconds": test_seconds(spec, timeout, self.settings.timeout_s)}
            ooms_before = self.cgroups.oom_kills(slot) if self.cgroups.available else 0
            reply = await screener.screen(request, timeout)
            if reply is None or not reply.get("screened"):
                return None
            if reply.get("signal") is not None or (self.cgroups.available and self.cgroups.oom_kills(slot) > ooms_before):
                return None  # killed by something else than its clock or output (memory): a fresh run decides
            return screened_result(spec, reply, nonce, self.settings)
        finally:
            queue.put_nowait(slot)

    async def _start_screener(self, staged: StagedProject, slot: int) -> Screener | None:
        s = self.settings
        control_r, control_w = os.pipe()
        reply_r, reply_w = os.pipe()
        info_r, info_w = os.pipe()
        block_r, block_w = os.pipe() if self.cgroups.available else (None, None)
        seccomp_fd = seccomp_memfd()
        setup = {"control_fd": control_r, "reply_fd": reply_w, "environment": staged.env is not None,
                 # the server's own CPU limit spans its life; each candidate's child lowers its own
                 "limits": self._limits(_MAX_WALL_S),
                 "screen_limits": {"output_cap": s.output_cap_bytes, "output_kill": s.output_kill_bytes,
                                   "result_cap": RESULT_CAP}, "direct": s.direct_screening}
        args = self._args(staged, None, json.dumps(setup), Descriptors(seccomp_fd, info_w, block_r),
                          script="/pve/screen.py")
        pass_fds = (control_r, reply_w, seccomp_fd, info_w) + ((block_r,) if block_r is not None else ())
        try:
            proc = await asyncio.create_subprocess_exec(
                *args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                env={}, pass_fds=pass_fds, start_new_session=True, **self.slot_ids(slot))
        except BaseException:
            for fd in (control_w, reply_r, info_r, block_w):
                if fd is not None:
                    os.close(fd)
            raise
        finally:
            for fd in (control_r, reply_w, info_w, seccomp_fd, block_r):
                if fd is not None:
                    os.close(fd)
        loop = asyncio.get_running_loop()
        replies = asyncio.StreamReader(limit=_SCREEN_REPLY_LIMIT)
        reply_transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(replies),
                                                          os.fdopen(reply_r, "rb", 0))
        info_reader, info_transport = await pipe_reader(loop, info_r)
        info = Capture(1 << 12)
        if block_w is not None:
            await enter_cgroup(self.cgroups, slot, info_reader, info, block_w)
        else:
            await read_info(info_reader, info)
        control_transport, control_protocol = await loop.connect_write_pipe(
            lambda: asyncio.streams.FlowControlMixin(loop=loop), os.fdopen(control_w, "wb", 0))
        control = asyncio.StreamWriter(control_transport, control_protocol, None, loop)
        screener = Screener(staged.key, proc, control, replies, [reply_transport, info_transport], child_pid(info))
        return screener if await screener.ready() else None

    async def _run_in_slot(self, staged: StagedProject, spec: RunSpec, slot: int, patch_dir: Path | None, *,
                           background: bool = False) -> RunResult:
        """The harness's run in ``slot`` (sandbox/slot_run.py), with its command line and descriptors."""
        timeout = self._timeout(spec)
        nonce = secrets.token_hex(16)
        result_r, result_w = os.pipe()
        info_r, info_w = os.pipe()
        block_r, block_w = os.pipe() if self.cgroups.available else (None, None)
        weight = (lambda: "urgent" if staged.key in self._hurried else "background") if background else None
        one = SlotRun(Slot(slot, self.slot_ids(slot), self.cgroups, weight), self.settings, spec, nonce, timeout)
        seccomp_fd = seccomp_memfd()
        # The spec (the nonce in it) on a descriptor the harness reads and closes before any
        # project code: never on the command line, where /proc/self/cmdline shows it.
        spec_fd = os.memfd_create("pve-spec", 0)
        os.write(spec_fd, json.dumps(self._harness_spec(staged, spec, timeout, nonce, result_w)).encode())
        os.lseek(spec_fd, 0, os.SEEK_SET)
        args = self._args(staged, patch_dir, f"fd:{spec_fd}", Descriptors(seccomp_fd, info_w, block_r))
        pass_fds = (result_w, seccomp_fd, info_w, spec_fd) + ((block_r,) if block_r is not None else ())
        return await one.run(Launch(args, pass_fds, result_r, info_r, block_w))

    def _harness_spec(self, staged: StagedProject, spec: RunSpec, timeout: float, nonce: str,
                      result_fd: int) -> dict[str, Any]:
        """What the harness is told of its run (sandbox/inside/harness.py reads it from a descriptor)."""
        return {
            "mode": spec.mode.value, "target": spec.target, "argv": spec.argv, "nonce": nonce,
            "result_fd": result_fd, "coverage": spec.coverage, "pythonpath": spec.pythonpath,
            "only": spec.only, "skip": spec.skip, "part": spec.part, "reach": spec.reach and spec.mode.value == "pytest", "count_line": spec.count_line,
            "record_calls": spec.record_calls,
            "environment": staged.env is not None,
            "limits": self._limits(timeout), "test_seconds": test_seconds(spec, timeout, self.settings.timeout_s),
        }


@cache
def _bwrap_version(bwrap: str) -> str:
    try:
        return subprocess.run([bwrap, "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    except OSError:
        return "unknown version"
