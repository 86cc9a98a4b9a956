"""The sandbox function's runner inside AWS Lambda, where bubblewrap cannot work.

Lambda offers no user namespaces, mounts or seccomp of one's own: the Firecracker microVM of the
function instance is the boundary, and the instance holds nothing worth taking. Its role may write
its own logs only; its subnets have no route out but the S3 gateway endpoint, whose policy reads
this bucket's snapshots only; its environment names no table, bucket or secret. What a run can
still see: the instance's environment variables through ``/proc`` (the role's short-lived
credentials: logs only) and this instance's ``/tmp``.

So each run gets what the microVM cannot give it by itself:

- an empty environment (PATH, HOME and TMPDIR in its own folder, LANG, PYTHONHASHSEED);
- the harness's rlimits (address space, CPU, processes, file size, open files), as in bubblewrap;
- its own session and process group, killed when it ends, and then every process of this uid
  that was not there before the run (a daemon that left the group with ``setsid`` included),
  so nothing outlives the run into the next invocation;
- its own folder under ``/tmp`` (the project copy, the patch, its TMPDIR), and afterwards
  every entry of ``/tmp`` that was not there before the run is removed;
- its output capped as in bubblewrap; the nonce checked here, outside the run (the spec reaches
  the harness on a descriptor, never on the command line);
- the runner itself non-dumpable before any child starts (its environment holds the role's
  credentials and the runtime API's address: a child of the same uid read them from
  ``/proc/<ppid>/environ``; ptrace of it is refused too);
- the child under no_new_privs and a seccomp filter: bwrap's deny-list (ptrace, io_uring, bpf,
  namespaces, mounts, ...) plus ``socket(AF_INET/AF_INET6)``, so the runtime API on 127.0.0.1
  cannot be reached; a kernel that refuses the filter stops the run before it starts;
- no writable path shared with the runner: the run works in its own folder, and the staged
  project (which it could still write, being the same uid) is compared after each run: a run
  that changed it counts for nothing and that staged project is never run again.

It refuses to start anywhere but inside Lambda (``in_lambda``): on any other machine PVE runs
code in bubblewrap, never like this. Its test (tests/sandbox/test_lambda_runner.py) runs it as
Lambda would, one unprivileged uid for runner and run, with Lambda's environment variables set.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Any

from pve.errors import SandboxUnavailable
from pve.models import EnvironmentInfo, InstallPlan, RunResult, RunSpec
from pve.settings import SandboxSettings
from sandbox import seccomp, snapshot
from sandbox.backend import StagedProject
from sandbox.capture import Capture
from sandbox.runs import RESULT_CAP, display, inside_project, parse_record, pump, test_seconds

RUNTIME = Path(__file__).resolve().parent / "inside"  # harness.py, and reach.py and tracers.py, read by the harness
_GRACE_S = 0.5


def in_lambda() -> bool:
    """Inside AWS Lambda (its runtime sets these; a developer's machine does not)."""
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME") and os.environ.get("LAMBDA_TASK_ROOT")
                and os.environ.get("AWS_LAMBDA_RUNTIME_API"))


class LambdaSandbox:
    name = "aws-lambda"

    def __init__(self, settings: SandboxSettings | None = None, scratch: Path | None = None) -> None:
        if not in_lambda():
            raise SandboxUnavailable("the Lambda sandbox backend runs only inside AWS Lambda (the microVM is its "
                                     "boundary); elsewhere PVE uses bubblewrap")
        self.settings = settings or SandboxSettings()
        self.scratch = scratch or Path(tempfile.gettempdir())
        self.python = sys.executable
        self.site = sysconfig.get_paths()["purelib"]  # pytest and the image's scientific stack
        # Before any child starts: this process holds the function's credentials in its
        # environment and the runtime API's address; a child of the same uid read them from
        # /proc/<ppid>/environ. Non-dumpable, those entries are root's and ptrace is refused.
        seccomp.not_dumpable()
        self._filter = seccomp.build_filter(deny_inet=True)
        self._poisoned: set[Path] = set()  # staged projects a run wrote into: never run again

    def describe(self) -> dict[str, Any]:
        s = self.settings
        return {
            "backend": "AWS Lambda sandbox function (process runner)",
            "python": f"{sys.version.split()[0]} ({self.python})",
            "namespaces": "none (Lambda has none to give): the function instance's microVM is the boundary",
            "identity": f"the function's own uid {os.geteuid()}, one invocation per instance at a time; "
                        "the runner non-dumpable (its environment and memory closed to the run)",
            "seccomp": "no_new_privs; bwrap's deny-list (ptrace, io_uring, bpf, keyrings, namespaces, mounts, ...) "
                       "and socket(AF_INET/AF_INET6)",
            "environment": "empty but PATH, HOME, TMPDIR, LANG, PYTHONHASHSEED",
            "network": "private subnets without a route out; S3 snapshots only, through a gateway endpoint",
            "permissions": "the function's role writes its own logs only",
            "filesystem": "the image read-only; a folder of its own under /tmp, and /tmp restored after the run",
            "limits": f"wall {s.timeout_s:g} s, cpu {int(s.timeout_s) + 1} s, address space {s.memory_bytes >> 20} MiB, "
                      f"{s.max_procs} processes, file size {s.max_file_bytes >> 20} MiB",
            "after the run": "its process group and every new process of this uid killed; new /tmp entries removed",
            "output": f"{s.output_cap_bytes >> 10} KiB kept per stream (head + tail); run stopped past "
                      f"{s.output_kill_bytes >> 20} MiB",
        }

    def stage(self, source: Path, *, single_file: bool = False) -> StagedProject:
        return snapshot.stage(self.scratch / "pve-staged", source, single_file=single_file)

    async def environment(self, staged: StagedProject, plan: InstallPlan) -> EnvironmentInfo | None:
        return None  # the trusted steps refuse such projects before any run (sandbox/remote.py)

    async def screen(self, staged: StagedProject, spec: RunSpec) -> RunResult | None:
        return None

    async def release(self, staged: StagedProject) -> None:
        return None

    def hurry(self, staged: StagedProject) -> None:
        return None

    def cleanup(self, staged: StagedProject) -> None:
        shutil.rmtree(staged.root, ignore_errors=True)

    async def run(self, staged: StagedProject, spec: RunSpec) -> RunResult:
        s = self.settings
        inside_project(spec.patches)
        timeout = min(spec.wall_s, 3600.0) if spec.wall_s else (min(s.timeout_s, spec.timeout_s) if spec.timeout_s
                                                                 else s.timeout_s)
        if staged.root in self._poisoned:
            raise SandboxUnavailable("an earlier run wrote into this staged project; it is not run again")
        tmp_before = set(os.listdir(self.scratch))
        pids_before = _own_pids()
        staged_before = _tree_state(staged.root)
        folder = Path(tempfile.mkdtemp(prefix="pve-run-", dir=self.scratch))
        try:
            result = await self._run(staged, spec, folder, timeout)
        finally:
            _kill_new(pids_before)
            for name in set(os.listdir(self.scratch)) - tmp_before:
                path = self.scratch / name
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    with contextlib.suppress(OSError):
                        path.unlink()
        # The run shares this uid, so it could write into the staged project (the next run's
        # source) despite its own folder: a change is found here, and the run counts for nothing.
        if _tree_state(staged.root) != staged_before:
            self._poisoned.add(staged.root)
            return result.model_copy(update={"nonce_ok": False, "exit_code": None,
                                             "killed_reason": "the run wrote outside its folder (into the staged project)"})
        return result

    async def _run(self, staged: StagedProject, spec: RunSpec, folder: Path, timeout: float) -> RunResult:
        s = self.settings
        patch = folder / "patch"
        for rel, text in spec.patches.items():
            target = patch.joinpath(*Path(rel).parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        home = folder / "tmp"
        home.mkdir()
        (folder / "work").mkdir()
        nonce = secrets.token_hex(16)
        result_r, result_w = os.pipe()
        harness_spec = {
            "mode": spec.mode.value, "target": spec.target, "argv": spec.argv, "nonce": nonce, "result_fd": result_w,
            "coverage": spec.coverage, "pythonpath": spec.pythonpath, "only": spec.only, "skip": spec.skip, "part": spec.part,
            "reach": spec.reach and spec.mode.value == "pytest", "count_line": spec.count_line,
            "record_calls": spec.record_calls, "environment": False,
            "limits": {"as": s.memory_bytes, "cpu": int(timeout) + 1, "nproc": s.max_procs, "fsize": s.max_file_bytes,
                       "nofile": 1024}, "test_seconds": test_seconds(spec, timeout, s.timeout_s),
            "layout": {"orig": str(staged.root / "orig"), "overlay": str(folder / "no-overlay"), "patch": str(patch),
                       "work": str(folder / "work"), "runtime": str(RUNTIME), "site": self.site},
        }
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "TMPDIR": str(home), "LANG": "C.UTF-8",
               "PYTHONHASHSEED": "0"}
        started = time.monotonic()
        spec_fd = os.memfd_create("pve-spec", 0)  # the nonce never on the command line (harness.read_spec)
        os.write(spec_fd, json.dumps(harness_spec).encode())
        os.lseek(spec_fd, 0, os.SEEK_SET)
        try:
            proc = await asyncio.create_subprocess_exec(
                self.python, "-I", "-S", str(RUNTIME / "harness.py"), f"fd:{spec_fd}",
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                pass_fds=(result_w, spec_fd), start_new_session=True, cwd=str(folder / "work"),
                # no_new_privs + bwrap's deny-list + no inet sockets (the runtime API), from exec on;
                # a kernel that refuses it stops the run here (SubprocessError), before any code
                preexec_fn=functools.partial(seccomp.install, self._filter))
        finally:
            os.close(result_w)
            os.close(spec_fd)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=1 << 16)
        transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                                    os.fdopen(result_r, "rb", 0))
        out, err, res = Capture(s.output_cap_bytes), Capture(s.output_cap_bytes), Capture(RESULT_CAP * 2)
        killed: list[str] = []

        def kill(reason: str) -> None:
            if not killed:
                killed.append(reason)
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)


        pumps = asyncio.gather(pump(proc.stdout, out, s.output_kill_bytes, kill, "output flood (stdout)"),
                               pump(proc.stderr, err, s.output_kill_bytes, kill, "output flood (stderr)"),
                               pump(reader, res, RESULT_CAP, kill, "result too large"))
        try:
            await asyncio.wait_for(proc.wait(), timeout=timeout)
        except TimeoutError:
            kill(f"timeout after {timeout:g} s")
            await proc.wait()
        ended = time.monotonic()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # what it left in its group
        try:
            await asyncio.wait_for(pumps, timeout=2.0)
        except TimeoutError:  # a child outside the group holds a pipe: it dies below, in run()
            pumps.cancel()
        finally:
            transport.close()
        record, nonce_ok = parse_record(res, nonce)
        exit_code = None if killed or (proc.returncode or 0) < 0 else proc.returncode
        return RunResult(label=spec.label, sandbox_id=f"lambda-{secrets.token_hex(2)}", command=display(spec),
                         exit_code=exit_code, duration_ms=(ended - started) * 1000, started_at=started,
                         stdout=out.text(), stderr=err.text(), stdout_bytes=out.total, stderr_bytes=err.total,
                         timed_out=bool(killed and killed[0].startswith("timeout")),
                         killed_reason=killed[0] if killed else None, nonce_ok=nonce_ok, record=record)


def _tree_state(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every entry under ``root``: path -> (mode, size, mtime in ns), without following links."""
    state = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            with contextlib.suppress(OSError):
                st = os.lstat(path)
                state[path] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return state


def _own_pids() -> set[int]:
    """The live processes of this uid now (zombies are dead already: only their parent can
    reap them)."""
    uid = os.geteuid()
    pids = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError):
                if os.stat(f"/proc/{entry}").st_uid != uid:
                    continue
                with open(f"/proc/{entry}/stat", "rb") as f:
                    state = f.read().rsplit(b")", 1)[1].split()[0]
                if state not in (b"Z", b"X"):
                    pids.add(int(entry))
    return pids


def _kill_new(before: set[int]) -> None:
    """SIGKILL every process of this uid that was not there before the run, until none is left
    (a process may fork while the list is read; RLIMIT_NPROC bounds how many it can)."""
    for _ in range(20):
        new = _own_pids() - before - {os.getpid()}
        if not new:
            return
        for pid in new:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)
