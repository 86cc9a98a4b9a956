"""What the builder does: one environment's build as it runs. Each step runs as the builder uid
in its build sandbox (``envbuild.build_command``) under the seccomp deny-list, rlimits sized for
compilers, and one deadline for the whole build, its output kept in the build's log; and the
file work around the steps: the private copy of the uv cache, the files the build wrote into
the project, the size of what it made, and the seal that makes it read-only.

Apart from ``environments.py`` (the store: keys, finding, failures, eviction) because running
untrusted build code is its own concern; the store only says what to build and where to put it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import resource
import secrets
import shutil
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.envbuild import (
    CONSTRAINTS,
    OVERRIDES,
    BuildSandbox,
    DependencyError,
    build_command,
    installer_reason,
)
from sandbox.index_proxy import IndexProxy
from sandbox.seccomp import build_filter

LOG_TAIL = 4000  # characters of a step's output (and of a failed build's log) kept


@dataclass
class Build:
    """One environment's build in progress: the sandbox its steps run in, the uid they run as
    (None: PVE's own, not started as root), where a step's proxy socket goes, the deadline of
    the whole build and its log so far."""

    box: BuildSandbox
    root: Path  # the store's folder: a networked step's proxy socket goes in a folder under it
    uid: int | None
    deadline: float
    log: list[str] = field(default_factory=list)

    def step(self, argv: list[str], *, network: bool, cache: Path, venv: str | None = None,
             compile_bytecode: bool = True) -> str:
        """Run one build command; its standard output, or DependencyError with the installer's words."""
        settings, log = self.box.settings, self.log
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise DependencyError("", f"the build took longer than {settings.build_seconds:g} s "
                                      "(PVE_ENV_BUILD_SECONDS)", "\n".join(log))
        uid = self.uid
        log.append("$ " + " ".join(argv))
        with contextlib.ExitStack() as stack:
            proxy = None
            if network:  # the package index only, through PVE's proxy (sandbox/index_proxy.py)
                folder = Path(stack.enter_context(_scratch_dir(self.root)))
                proxy = stack.enter_context(IndexProxy(folder / "proxy.sock", settings.index_url))
            cmd = build_command(argv, self.box, cache=cache, proxy=proxy.path if proxy else None,
                                venv=venv, compile_bytecode=compile_bytecode)
            # the runs' seccomp deny-list, and limits sized for compilers rather than tests
            seccomp_fd = os.memfd_create("pve-build-seccomp", 0)
            stack.callback(os.close, seccomp_fd)
            os.write(seccomp_fd, build_filter())
            os.lseek(seccomp_fd, 0, os.SEEK_SET)
            cmd[1:1] = ["--seccomp", str(seccomp_fd)]
            limits = functools.partial(_build_limits, int(left) + 1, settings.max_bytes)
            try:
                done = subprocess.run(cmd, capture_output=True, text=True, timeout=left, env={}, user=uid, group=uid,
                                      extra_groups=[] if uid is not None else None, pass_fds=(seccomp_fd,),
                                      preexec_fn=limits)
            except subprocess.TimeoutExpired:
                raise DependencyError("", f"the build took longer than {settings.build_seconds:g} s "
                                          "(PVE_ENV_BUILD_SECONDS; source builds count)", "\n".join(log)) from None
            if proxy is not None and proxy.refused:
                log.append("the index proxy refused: " + ", ".join(sorted(set(proxy.refused))[:10]))
        log.append((done.stdout + done.stderr)[-LOG_TAIL:])
        if done.returncode != 0:
            package, reason = installer_reason(done.stderr or done.stdout)
            raise DependencyError(package, reason, "\n".join(log))
        return done.stdout


def _build_limits(cpu_s: int, file_bytes: int) -> None:
    """In the build's bwrap before exec: CPU for the build's time box, no file larger than an
    environment may be, processes and descriptors bounded (a fork bomb in a setup.py). Nothing
    is imported here: this runs between fork and exec."""
    for limit, value in ((resource.RLIMIT_CPU, cpu_s), (resource.RLIMIT_FSIZE, file_bytes),
                         (resource.RLIMIT_NPROC, 512), (resource.RLIMIT_NOFILE, 4096),
                         (resource.RLIMIT_AS, 8 << 30), (resource.RLIMIT_CORE, 0)):
        _soft, hard = resource.getrlimit(limit)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)  # never above what we hold
        resource.setrlimit(limit, (value, value))


@contextlib.contextmanager
def _scratch_dir(root: Path) -> Iterator[str]:
    """A folder for one build step's proxy socket, reachable by the builder uid."""
    folder = root / f"proxy-{secrets.token_hex(6)}"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    try:
        yield str(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# --------------------------------------------------------------------------- the build's files


def link_or_copy(src: str, dst: str) -> None:
    """A private cache's entries: the unpacked packages (``archive-v0``, nearly all of its bytes)
    hardlinked to the shared cache's sealed files; the rest (indexes, metadata, locks, which uv
    rewrites) copies of its own."""
    if f"{os.sep}archive-v0{os.sep}" in src:
        os.link(src, dst)
    else:
        shutil.copy2(src, dst)


def seal(folder: Path, chown: bool, *, files_only: bool = False) -> None:
    """A finished environment, read-only to everything: every file and folder PVE's own (when
    builds run as a uid of their own) and without write bits. Its files share inodes with the uv
    cache, so the cache entries it uses become PVE's and read-only too: a later build (the
    builder uid) can add to the cache but not rewrite what an environment runs."""
    uid, gid = os.getuid(), os.getgid()
    for dirpath, dirs, files in os.walk(folder, topdown=False):
        for name in [*files, *dirs]:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                if chown:
                    os.lchown(path, uid, gid)
                continue
            if files_only and stat.S_ISDIR(st.st_mode):
                continue  # the cache's folders stay the builder's: its prefetch adds entries
            if chown and st.st_uid != uid:
                os.chown(path, uid, gid)
            if files_only:
                # the cache's files: PVE's, so the builder cannot write them (no group or other
                # write bit) nor hardlink them; uv copies them, and its copies are its own to edit
                continue
            if st.st_mode & 0o222:
                os.chmod(path, stat.S_IMODE(st.st_mode) & ~0o222)
    if files_only:
        return
    if chown:
        os.chown(folder, uid, gid)
    os.chmod(folder, 0o555)


def overlay(original: Path, built: Path, into: Path) -> None:
    """The files a build added to or changed in the project (a C extension's ``.so``, a
    generated ``_version.py``): each run copies them over its fresh ``/work`` copy."""
    into.mkdir()
    for folder, dirs, files in os.walk(built):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            path = Path(folder) / name
            rel = path.relative_to(built)
            if path.is_symlink() or name.endswith(".pyc") or rel.as_posix() in (CONSTRAINTS, OVERRIDES):
                continue
            before = original / rel
            if before.is_file() and not before.is_symlink() and _same(before, path):
                continue
            target = into / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            os.chmod(target, 0o755 if os.stat(path).st_mode & stat.S_IXUSR else 0o644)
    for folder, _dirs, _files in os.walk(into):
        os.chmod(folder, 0o755)


def _same(a: Path, b: Path) -> bool:
    sa, sb = a.stat(), b.stat()
    return sa.st_size == sb.st_size and a.read_bytes() == b.read_bytes()


def tree_bytes(path: Path) -> int:
    """Disk use, counting each inode once (hardlinks into the uv cache are shared)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                st = os.lstat(os.path.join(folder, name))
                if (st.st_dev, st.st_ino) not in seen:
                    seen.add((st.st_dev, st.st_ino))
                    total += st.st_blocks * 512
    return total
