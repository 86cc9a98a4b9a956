"""The local sandbox: bubblewrap, hardened as ../shared/SANDBOX.md describes.

Per run: a fresh user, PID, network, IPC, UTS and cgroup namespace; bwrap itself started with an
empty environment as an unprivileged uid (one uid per parallel slot; never as root); read-only
``/usr``, runtime and project snapshot; sized tmpfs for ``/tmp``, ``/dev/shm`` and the writable
project copy; rlimits set by the harness before user code; a seccomp deny-list; die-with-parent
and a new session; stdout/stderr capped while streaming; a wall clock (SIGTERM, then SIGKILL);
the result only over a pipe, and the verdict's nonce checked here, outside the sandbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import secrets
import shutil
import signal
import subprocess
import time
import weakref
from functools import cache
from pathlib import Path
from typing import Any

from pve.errors import SandboxUnavailable
from pve.models import EnvironmentInfo, InstallPlan, RunResult, RunSpec
from pve.settings import SandboxSettings
from sandbox import snapshot
from sandbox.backend import StagedProject
from sandbox.capture import Capture
from sandbox.cgroup import SlotCgroups, cgroup_name
from sandbox.environments import RUN_PATH, EnvironmentStore
from sandbox.runs import RESULT_CAP, display, inside_project, parse_record, pump, test_seconds
from sandbox.runtime import Interpreter, find_interpreter, stage_runtime, staging_root, system_binds
from sandbox.screening import Screener
from sandbox.seccomp import build_filter

INSTALL_HINT = "install it with: sudo apt-get install bubblewrap"
NAMESPACE_HINT = ("allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1; on Ubuntu "
                  "kernel.apparmor_restrict_unprivileged_userns=0), or run PVE where they are allowed")
_SCREEN_REPLY_LIMIT = 32 << 20  # one reply line: two capped streams and a capped record
_GRACE_S = 0.5
_MAX_WALL_S = 3600.0


@cache
def _seccomp_program() -> bytes:
    return build_filter()


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
        self.slot_numbers, self._slot_locks = _claim_slots(self.root, slots + background)
        # A sandbox nobody holds any more frees its slot ids at once, not at exit: a long-lived
        # process (the server, a test session) makes many and would otherwise run out of ids.
        weakref.finalize(self, _release, self._slot_locks)
        self.cgroups = _cgroups(self.settings, self.slot_numbers)
        if not self.cgroups.weighted:  # no CPU weights here: background slots would only compete
            self.background_slots = 0
            _release(self._slot_locks[slots:])
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

    def _args(self, staged: StagedProject, patch_dir: Path | None, spec_json: str, seccomp_fd: int,
              info_fd: int, command: list[str] | None = None, block_fd: int | None = None,
              script: str = "/pve/harness.py") -> list[str]:
        """The full bwrap command line; ``command`` replaces the harness (benchmarks only), ``script``
        is what the sandbox's interpreter runs (the harness, or the warm screening server)."""
        s = self.settings
        # --as-pid-1: no bwrap init inside. With an init, bwrap's monitor returns on the init's
        # eventfd report without reaping it, leaving a zombie per run that counts against the
        # slot uid's RLIMIT_NPROC. The command as PID 1 also takes every leftover process down
        # with it when it exits.
        env = staged.env
        interpreter = env.interpreter if env is not None else self.interpreter
        args = [self.bwrap or "bwrap", "--unshare-all", "--as-pid-1", "--die-with-parent", "--new-session",
                "--hostname", "pve-sandbox", "--uid", "1000", "--gid", "1000", *system_binds(interpreter)]
        path = "/usr/local/bin:/usr/bin:/bin"
        python = interpreter.executable
        if env is not None:
            # The environment's own interpreter: sys.prefix is the environment, so the harness's
            # site.main() finds its packages and .pth files, and children started with
            # sys.executable (or a console script on PATH) get the same.
            args += ["--ro-bind", str(env.path), RUN_PATH]
            if env.overlay is not None:
                args += ["--ro-bind", str(env.overlay), "/overlay"]
            path = f"{RUN_PATH}/bin:{path}"
            python = f"{RUN_PATH}/bin/python"
        rt = str(self.runtime)
        args += ["--ro-bind", rt, "/pve",
                 "--ro-bind", f"{rt}/etc/passwd", "/etc/passwd",
                 "--ro-bind", f"{rt}/etc/group", "/etc/group",
                 "--ro-bind", f"{rt}/etc/hosts", "/etc/hosts",
                 "--ro-bind", str(staged.root / "orig"), "/orig"]
        if patch_dir is not None:
            args += ["--ro-bind", str(patch_dir), "/patch"]
        size = str(s.tmpfs_bytes)
        args += ["--proc", "/proc", "--dev", "/dev",
                 "--size", size, "--tmpfs", "/tmp",
                 "--size", size, "--tmpfs", "/dev/shm",
                 "--size", size, "--tmpfs", "/work",
                 # bwrap's own root (where / and /etc live) is an unsized tmpfs: read-only once
                 # every mount point is made, so only the sized tmpfs above take writes
                 "--remount-ro", "/",
                 "--chdir", "/work",
                 "--clearenv",
                 "--setenv", "PATH", path,
                 *(["--setenv", "VIRTUAL_ENV", RUN_PATH] if env is not None else []),
                 "--setenv", "HOME", "/tmp", "--setenv", "TMPDIR", "/tmp",
                 "--setenv", "LANG", "C.UTF-8", "--setenv", "PYTHONHASHSEED", "0",
                 "--setenv", "MALLOC_ARENA_MAX", "2",  # 1 GiB address space otherwise fits ~14 threads
                 # Runs start with -S (no .pth files), so setuptools' distutils shim is not in
                 # place, and its override asserts once the stdlib's distutils is loaded: where
                 # the stdlib still has distutils (before 3.12), setuptools is told to use it.
                 *(["--setenv", "SETUPTOOLS_USE_DISTUTILS", "stdlib"]
                   if tuple(int(x) for x in interpreter.version.split(".")[:2]) < (3, 12) else []),
                 "--seccomp", str(seccomp_fd),
                 "--info-fd", str(info_fd),  # tells us the sandbox's PID 1, so a kill hits it first
                 *(["--block-fd", str(block_fd)] if block_fd is not None else []),  # held until in its cgroup
                 "--", *(command or [python, "-I", "-S", script, spec_json])]
        return args

    def bare_command(self, staged: StagedProject, command: list[str]) -> tuple[list[str], dict[str, Any], tuple[int, ...]]:
        """Popen arguments for ``command`` under exactly the hardening of a real run (first slot).

        For measuring start overhead; pass the fds to Popen and close them all after the run."""
        seccomp_fd = os.memfd_create("pve-seccomp", 0)
        os.write(seccomp_fd, _seccomp_program())
        os.lseek(seccomp_fd, 0, os.SEEK_SET)
        info_r, info_w = os.pipe()  # keep the read end open: bwrap writes its info there
        args = self._args(staged, None, "{}", seccomp_fd, info_w, command)
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

    async def _enter_cgroup(self, slot: int, info_reader: asyncio.StreamReader, info: Capture, block_w: int) -> None:
        """Move the blocked sandbox child into the slot's cgroups, then let it run."""
        try:
            child = await _read_info(info_reader, info)
            if child is not None:
                self.cgroups.attach(slot, child)
        finally:
            # If bwrap failed before blocking, the write hits a closed pipe: nothing to release.
            with contextlib.suppress(OSError):
                os.write(block_w, b"go")
            os.close(block_w)

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
            return self._screened(spec, reply, nonce)
        finally:
            queue.put_nowait(slot)

    async def _start_screener(self, staged: StagedProject, slot: int) -> Screener | None:
        s = self.settings
        control_r, control_w = os.pipe()
        reply_r, reply_w = os.pipe()
        info_r, info_w = os.pipe()
        block_r, block_w = os.pipe() if self.cgroups.available else (None, None)
        seccomp_fd = os.memfd_create("pve-seccomp", 0)
        os.write(seccomp_fd, _seccomp_program())
        os.lseek(seccomp_fd, 0, os.SEEK_SET)
        setup = {"control_fd": control_r, "reply_fd": reply_w, "environment": staged.env is not None,
                 # the server's own CPU limit spans its life; each candidate's child lowers its own
                 "limits": self._limits(_MAX_WALL_S),
                 "screen_limits": {"output_cap": s.output_cap_bytes, "output_kill": s.output_kill_bytes,
                                   "result_cap": RESULT_CAP}, "direct": s.direct_screening}
        args = self._args(staged, None, json.dumps(setup), seccomp_fd, info_w, block_fd=block_r, script="/pve/screen.py")
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
        info_reader, info_transport = await _pipe_reader(loop, info_r)
        info = Capture(1 << 12)
        if block_w is not None:
            await self._enter_cgroup(slot, info_reader, info, block_w)
        else:
            await _read_info(info_reader, info)
        control_transport, control_protocol = await loop.connect_write_pipe(
            lambda: asyncio.streams.FlowControlMixin(loop=loop), os.fdopen(control_w, "wb", 0))
        control = asyncio.StreamWriter(control_transport, control_protocol, None, loop)
        screener = Screener(staged.key, proc, control, replies, [reply_transport, info_transport], _child_pid(info))
        return screener if await screener.ready() else None

    def _screened(self, spec: RunSpec, reply: dict[str, Any], nonce: str) -> RunResult:
        s = self.settings
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

    async def _launch(self, staged: StagedProject, slot: int, args: list[str], pass_fds: tuple[int, ...],
                      ours: tuple[int, int, int | None], info: Capture, *,
                      background: bool) -> tuple[asyncio.subprocess.Process, asyncio.StreamReader, asyncio.BaseTransport,
                                                 asyncio.StreamReader, asyncio.BaseTransport]:
        """Start bwrap, connect its pipes, put its child in the slot's cgroups and let it run.
        ``pass_fds`` are the child's (closed here once it has them), ``ours`` the pipes' other
        ends: the result, bwrap's info and the cgroup release."""
        result_r, info_r, block_w = ours
        try:
            proc = await asyncio.create_subprocess_exec(
                *args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                env={}, pass_fds=pass_fds, start_new_session=True, **self.slot_ids(slot),
            )
            if background:  # before it is let run (--block-fd)
                self.cgroups.weigh(slot, "urgent" if staged.key in self._hurried else "background")
        except BaseException:
            for fd in (result_r, info_r, block_w):
                if fd is not None:
                    os.close(fd)
            raise
        finally:
            for fd in pass_fds:  # the child's ends, the seccomp program and the spec: the child holds them now
                os.close(fd)
        loop = asyncio.get_running_loop()
        result_reader, result_transport = await _pipe_reader(loop, result_r)
        info_reader, info_transport = await _pipe_reader(loop, info_r)
        if block_w is not None:
            await self._enter_cgroup(slot, info_reader, info, block_w)
        return proc, result_reader, result_transport, info_reader, info_transport

    async def _run_in_slot(self, staged: StagedProject, spec: RunSpec, slot: int, patch_dir: Path | None, *,
                           background: bool = False) -> RunResult:
        s = self.settings
        timeout = self._timeout(spec)
        nonce = secrets.token_hex(16)
        result_r, result_w = os.pipe()
        info_r, info_w = os.pipe()
        block_r, block_w = os.pipe() if self.cgroups.available else (None, None)
        ooms_before = self.cgroups.oom_kills(slot) if self.cgroups.available else 0
        seccomp_fd = os.memfd_create("pve-seccomp", 0)
        os.write(seccomp_fd, _seccomp_program())
        os.lseek(seccomp_fd, 0, os.SEEK_SET)
        harness_spec = {
            "mode": spec.mode.value, "target": spec.target, "argv": spec.argv, "nonce": nonce,
            "result_fd": result_w, "coverage": spec.coverage, "pythonpath": spec.pythonpath,
            "only": spec.only, "skip": spec.skip, "part": spec.part, "reach": spec.reach and spec.mode.value == "pytest", "count_line": spec.count_line,
            "record_calls": spec.record_calls,
            "environment": staged.env is not None,
            "limits": self._limits(timeout), "test_seconds": test_seconds(spec, timeout, self.settings.timeout_s),
        }
        # The spec (the nonce in it) on a descriptor the harness reads and closes before any
        # project code: never on the command line, where /proc/self/cmdline shows it.
        spec_fd = os.memfd_create("pve-spec", 0)
        os.write(spec_fd, json.dumps(harness_spec).encode())
        os.lseek(spec_fd, 0, os.SEEK_SET)
        args = self._args(staged, patch_dir, f"fd:{spec_fd}", seccomp_fd, info_w, block_fd=block_r)
        pass_fds = (result_w, seccomp_fd, info_w, spec_fd) + ((block_r,) if block_r is not None else ())
        sandbox_id = f"sbx-{secrets.token_hex(2)}"
        out, err, res = Capture(s.output_cap_bytes), Capture(s.output_cap_bytes), Capture(RESULT_CAP * 2)
        info = Capture(1 << 12)
        killed: list[str] = []
        started = time.monotonic()
        # The launch (spawn, pipes, cgroup, release) is never cut off halfway: cancelled inside
        # create_subprocess_exec before its pipes are connected, asyncio 3.11 waits forever for
        # them to close, and the sandbox's PID 1, orphaned and blocked on --block-fd, holds them
        # open. A cancellation waits for the launch, then takes the sandbox down.
        launch = asyncio.ensure_future(self._launch(
            staged, slot, args, pass_fds, (result_r, info_r, block_w),
            info, background=background))
        try:
            proc, result_reader, result_transport, info_reader, info_transport = await asyncio.shield(launch)
        except asyncio.CancelledError:
            while not launch.done():
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.shield(launch)
            if not launch.cancelled() and launch.exception() is None:
                proc, result_reader, result_transport, info_reader, info_transport = launch.result()
                child = _child_pid(info)
                if child is not None:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(child, signal.SIGKILL)  # PID 1 of the sandbox: its namespace goes with it
                _kill_if_running(proc)
                with contextlib.suppress(BaseException):
                    await asyncio.wait_for(proc.wait(), timeout=_GRACE_S * 4)
                result_transport.close()
                info_transport.close()
            raise
        loop = asyncio.get_running_loop()

        def signal_sandbox(sig: int) -> None:
            if proc.returncode is not None:
                return
            child = _child_pid(info)
            if child is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(child, sig)

        def kill(reason: str) -> None:
            # SIGTERM the sandbox's PID 1 (a program may catch it), then SIGKILL it, which takes
            # its whole PID namespace down and lets bwrap reap it; bwrap itself only as a last resort.
            if not killed:
                killed.append(reason)
                signal_sandbox(signal.SIGTERM)
                loop.call_later(_GRACE_S, signal_sandbox, signal.SIGKILL)
                loop.call_later(_GRACE_S * 3, _kill_if_running, proc)

        pumps = asyncio.gather(
            pump(proc.stdout, out, s.output_kill_bytes, kill, "output flood (stdout)"),
            pump(proc.stderr, err, s.output_kill_bytes, kill, "output flood (stderr)"),
            pump(result_reader, res, RESULT_CAP, kill, "result too large"),
            pump(info_reader, info, 1 << 12, kill, "bad info"),
        )
        try:
            await asyncio.wait_for(proc.wait(), timeout=timeout)
        except TimeoutError:
            kill(f"timeout after {timeout:g} s")
            await proc.wait()
        except asyncio.CancelledError:
            # The caller no longer needs this run (a baseline for a failure that did not
            # reproduce): the sandbox goes down with it, never left running unowned.
            kill("cancelled")
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(asyncio.shield(proc.wait()), timeout=_GRACE_S * 4)
            # Its pipes end with it: read to their end, so the transport closes inside this
            # event loop (left to the garbage collector, it would close after the loop did).
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(asyncio.shield(pumps), timeout=_GRACE_S * 4)
            pumps.cancel()
            result_transport.close()
            info_transport.close()
            raise
        ended = time.monotonic()
        try:
            await asyncio.wait_for(pumps, timeout=2.0)
        except TimeoutError:
            pumps.cancel()
        finally:
            result_transport.close()
            info_transport.close()
        if self.cgroups.available and self.cgroups.oom_kills(slot) > ooms_before:
            killed.insert(0, f"out of memory (sandbox limit {s.cgroup_memory_bytes >> 20} MiB)")
        record, nonce_ok = parse_record(res, nonce)
        exit_code = proc.returncode
        if killed or (exit_code is not None and exit_code < 0):
            exit_code = None  # killed: bwrap's 128+signal says nothing about the program
        err_text = err.text()
        if exit_code == 1 and not res.total and err_text.startswith("bwrap:"):
            raise SandboxUnavailable(f"bubblewrap cannot create its sandbox here: {err_text.strip()}", hint=NAMESPACE_HINT)
        return RunResult(
            label=spec.label, sandbox_id=sandbox_id, command=display(spec),
            exit_code=exit_code, duration_ms=(ended - started) * 1000, started_at=started,
            stdout=out.text(), stderr=err_text, stdout_bytes=out.total, stderr_bytes=err.total,
            timed_out=bool(killed and killed[0].startswith("timeout")),
            killed_reason=killed[0] if killed else None, nonce_ok=nonce_ok, record=record,
        )


async def _read_info(reader: asyncio.StreamReader, info: Capture) -> int | None:
    """Read bwrap's --info-fd JSON (a flat object) as far as its closing brace."""
    try:
        info.feed(await asyncio.wait_for(reader.readuntil(b"}"), timeout=10))
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError) as exc:
        if isinstance(exc, asyncio.IncompleteReadError):
            info.feed(exc.partial)
        return None
    return _child_pid(info)


def _cgroups(settings: SandboxSettings, slots: list[int]) -> SlotCgroups:
    if os.geteuid() != 0:
        return SlotCgroups.unavailable("PVE is not running as root")
    return SlotCgroups(cgroup_name(settings.uid_base), slots, settings.cgroup_memory_bytes, settings.max_procs)


MAX_SLOT_IDS = 256


def _claim_slots(root: Path, count: int) -> tuple[list[int], list[int]]:
    """Take ``count`` slot ids no other PVE process holds (flock on lock files; freed at exit)."""
    folder = root / "slots"
    folder.mkdir(mode=0o700, exist_ok=True)
    taken: list[int] = []
    fds: list[int] = []
    for n in range(MAX_SLOT_IDS):
        if len(taken) == count:
            break
        fd = os.open(folder / f"{n}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        taken.append(n)
        fds.append(fd)
    if len(taken) < count:
        for fd in fds:
            os.close(fd)
        raise SandboxUnavailable(f"all {MAX_SLOT_IDS} sandbox slots are taken by other PVE processes")
    return taken, fds


def _release(fds: list[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)  # closing the lock file drops its flock


async def _pipe_reader(loop: asyncio.AbstractEventLoop, fd: int) -> tuple[asyncio.StreamReader, asyncio.BaseTransport]:
    reader = asyncio.StreamReader(limit=1 << 16)
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", 0))
    return reader, transport


def _child_pid(info: Capture) -> int | None:
    """bwrap's --info-fd JSON: {"child-pid": N, ...}."""
    try:
        pid = json.loads(bytes(info.head + info.tail)).get("child-pid")
    except (ValueError, AttributeError):
        return None
    return pid if isinstance(pid, int) and pid > 1 else None


def _restored(part: Any, cap: int) -> Capture:
    """A stream as the screening server kept it (head, tail, total), as a Capture."""
    out = Capture(cap)
    if isinstance(part, dict):
        out.head = bytearray(str(part.get("head", "")).encode("latin-1"))[: out.half]
        out.tail = bytearray(str(part.get("tail", "")).encode("latin-1"))[-out.half:] if part.get("tail") else bytearray()
        out.total = max(int(part.get("total") or 0), len(out.head) + len(out.tail))
    return out


def _kill_if_running(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        _signal_group(proc.pid, signal.SIGKILL)


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


@cache
def _bwrap_version(bwrap: str) -> str:
    try:
        return subprocess.run([bwrap, "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    except OSError:
        return "unknown version"
