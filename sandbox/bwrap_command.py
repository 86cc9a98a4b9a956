"""The bwrap command line of a run sandbox: its namespaces, what it sees mounted and how, its
environment variables, and the descriptors it is handed (the seccomp program, bwrap's info,
the cgroup release).

Apart from ``bwrap.py`` (slots, staging, screening servers) because what a sandbox sees is one
concern a reader checks against ../shared/SANDBOX.md on its own, and every kind of run (a fresh
run, a warm screening server, a bare command for the benchmarks) is started with the same one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from sandbox.backend import StagedProject
from sandbox.environments import RUN_PATH
from sandbox.runtime import Interpreter, system_binds
from sandbox.seccomp import build_filter


@cache
def _seccomp_program() -> bytes:
    return build_filter()


def seccomp_memfd() -> int:
    """A descriptor holding the seccomp program, at its start (bwrap reads it from there)."""
    seccomp_fd = os.memfd_create("pve-seccomp", 0)
    os.write(seccomp_fd, _seccomp_program())
    os.lseek(seccomp_fd, 0, os.SEEK_SET)
    return seccomp_fd


@dataclass(frozen=True)
class Descriptors:
    """What bwrap is handed by number, open in its process."""

    seccomp: int  # the seccomp program (``seccomp_memfd``)
    info: int  # bwrap writes its --info-fd JSON there: the sandbox's PID 1, so a kill hits it first
    block: int | None = None  # bwrap waits on it (--block-fd) until the sandbox is in its slot's cgroups


@dataclass(frozen=True)
class SandboxCommand:
    """What a sandbox's command line is made of besides the run: bwrap, the interpreter a project
    without an environment of its own runs on, the staged runtime (bound at /pve) and the size
    of each tmpfs."""

    bwrap: str
    interpreter: Interpreter
    runtime: Path
    tmpfs_bytes: int

    def args(self, staged: StagedProject, patch_dir: Path | None, spec_json: str, fds: Descriptors,
             command: list[str] | None = None, script: str = "/pve/harness.py") -> list[str]:
        """The full bwrap command line; ``command`` replaces the harness (benchmarks only), ``script``
        is what the sandbox's interpreter runs (the harness, or the warm screening server)."""
        # --as-pid-1: no bwrap init inside. With an init, bwrap's monitor returns on the init's
        # eventfd report without reaping it, leaving a zombie per run that counts against the
        # slot uid's RLIMIT_NPROC. The command as PID 1 also takes every leftover process down
        # with it when it exits.
        env = staged.env
        interpreter = env.interpreter if env is not None else self.interpreter
        args = [self.bwrap, "--unshare-all", "--as-pid-1", "--die-with-parent", "--new-session",
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
        size = str(self.tmpfs_bytes)
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
                 "--seccomp", str(fds.seccomp),
                 "--info-fd", str(fds.info),  # tells us the sandbox's PID 1, so a kill hits it first
                 *(["--block-fd", str(fds.block)] if fds.block is not None else []),  # held until in its cgroup
                 "--", *(command or [python, "-I", "-S", script, spec_json])]
        return args
