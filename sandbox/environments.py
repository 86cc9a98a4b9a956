"""Project environments: built once per key with uv in a build sandbox, mounted read-only into
every run (../shared/ENVIRONMENTS.md has the measured facts this follows).

The key hashes the install plan, the declaration files' contents, uv's and the interpreter's
versions; never the source tree, so one environment serves every commit until a declaration
changes. Builds run as an unprivileged uid in bubblewrap with an empty environment, no home and
no host secrets, the scratch project at ``/work/src`` (the path every run uses, so editable
installs point at it), network only when fetching is needed, a time box and a size cap. The
store keeps environments, failed builds (with their log, for a while) and uv's cache under one
folder bound as one mount, so installs hardlink from the cache. A half-built environment is
never visible: it is built aside and renamed into place; concurrent builds of one key wait for
the first. Least recently used environments are evicted when the store passes its bound.
The commands a build runs are ``envbuild.py``; running them, as the builder, is ``builder.py``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pve.errors import SandboxUnavailable
from pve.models import EnvironmentInfo, InstallPlan, Origin
from pve.settings import EnvironmentSettings
from sandbox.builder import LOG_TAIL, Build, link_or_copy, overlay, seal, tree_bytes
from sandbox.envbuild import (
    BUILD_PATH,
    CONSTRAINTS,
    FORWARD,
    OVERRIDES,
    SRC_PATH,
    BuildSandbox,
    DependencyError,
    choose_interpreter,
    install_commands,
    installer_reason,
    prefetch_command,
)
from sandbox.runtime import Interpreter, find_interpreter, world_traversable

__all__ = ["RUN_PATH", "DependencyError", "Environment", "EnvironmentStore", "installer_reason"]

FORMAT = "pve-env/3"  # bump when the layout of a built environment, or how a plan is built, changes
RUN_PATH = "/pve-env"  # where a run sees the environment (read-only)

Reader = Callable[[str], str]


def tenant_of(origin: Origin | None) -> str:
    """The store a session's environments are built in and found from: one per GitHub
    installation and visibility (a public and a private repository never share an environment
    or a build cache, nor do two installations), and "local" for this machine's own runs.
    Unknown visibility is private (zero trust)."""
    if origin is None:
        return "local"
    who = f"installation-{origin.installation}" if origin.installation is not None else \
        "repo-" + hashlib.sha256(origin.repo.lower().encode()).hexdigest()[:16]
    tenant = f"{who}-{'private' if origin.private else 'public'}"
    if origin.fork:
        # A fork's declarations (and the code its build runs) are its author's: the repository's
        # own sessions never reuse what a fork's build made (a build's output is keyed on the
        # declarations alone, so a fork that kept them and changed what setup.py reads would
        # otherwise hand the base its build).
        tenant += "-fork-" + hashlib.sha256(origin.fork.lower().encode()).hexdigest()[:12]
    return tenant


@dataclass(frozen=True)
class Environment:
    """A built environment: the venv, the files the build wrote into the project, its base
    interpreter (which the run sandbox must bind), and what the session and proof record."""

    path: Path  # the venv on the host
    overlay: Path | None  # files the build added to or changed in the project
    interpreter: Interpreter
    info: EnvironmentInfo


@dataclass
class EnvironmentStore:
    """Builds and finds environments under ``root``; safe across processes."""

    root: Path
    settings: EnvironmentSettings = field(default_factory=EnvironmentSettings)
    builder_uid: int | None = None  # None: build as ourselves (PVE not started as root)
    bwrap: str = "bwrap"

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        for sub in ("cache", "locks", "failed"):
            (self.root / sub).mkdir(exist_ok=True)
        if self.builder_uid is not None:
            for path in (self.root, self.root / "cache", self.root / "failed"):
                os.chown(path, self.builder_uid, self.builder_uid)
        os.chmod(self.root, 0o755)
        self.uv = _stage_uv(self.root)
        # the build's forwarder to the index proxy, where the builder uid can read it (PVE's
        # own sources may live in a private home)
        self.forward = self.root / "build_forward.py"
        shutil.copyfile(FORWARD, self.forward)
        os.chmod(self.forward, 0o644)

    # ------------------------------------------------------------------ the key

    def key(self, plan: InstallPlan, read: Reader, interpreter: Interpreter) -> str:
        digest = hashlib.sha256()
        digest.update(f"{FORMAT}\n{self.uv_version()}\n{interpreter.executable} {interpreter.version}\n".encode())
        digest.update(plan.model_dump_json().encode())
        digest.update(json.dumps([self.settings.index_url, self.settings.find_links]).encode())
        for name in plan.files:
            try:
                text = read(name)
            except FileNotFoundError:
                text = "\0missing"
            digest.update(f"\n{name}\n{len(text)}\n".encode() + text.encode("utf-8", "replace"))
        return digest.hexdigest()[:32]

    def uv_version(self) -> str:
        return _uv_version(str(self.uv))

    # ------------------------------------------------------------------ prepare

    def prepare(self, plan: InstallPlan, project: Path, read: Reader, *, python: str | None = None) -> Environment:
        """The environment for ``plan``: found by key, or built now from the snapshot
        ``project`` (copied, never touched). Raises DependencyError when it cannot be built."""
        if self.settings.given is not None:
            return self._given(self.settings.given)
        interpreter = choose_interpreter(plan.requires_python, python)
        key = self.key(plan, read, interpreter)
        found = self._ready(key, interpreter, reused=True)
        if found is not None:
            return found
        self._failed_before(key)
        with _locked(self.root / "locks" / f"{key}.lock"):
            found = self._ready(key, interpreter, reused=True)  # built while we waited
            if found is not None:
                return found
            self._failed_before(key)
            t0 = time.monotonic()
            try:
                self._build(key, plan, project, interpreter, t0)
            except DependencyError as exc:
                self._remember_failure(key, exc)
                raise
            env = self._ready(key, interpreter, reused=False)
            assert env is not None
            self.evict(keep=key)
            return self._ready(key, interpreter, reused=False) or env

    def _ready(self, key: str, interpreter: Interpreter, *, reused: bool) -> Environment | None:
        folder = self.root / f"env-{key}"
        if not (folder / ".complete").exists():
            return None
        with contextlib.suppress(OSError):
            os.utime(folder / ".complete")  # last use, for eviction
        meta = self._meta(key)
        overlay = folder / "overlay"
        return Environment(path=folder / "venv", overlay=overlay if overlay.is_dir() and any(overlay.iterdir()) else None,
                           interpreter=interpreter,
                           info=EnvironmentInfo(key=key, kind=meta.get("kind", ""), python=meta.get("python", ""),
                                                packages=meta.get("packages", []), reused=reused,
                                                build_ms=0.0 if reused else meta.get("build_ms", 0.0),
                                                size_bytes=meta.get("size_bytes", 0)))

    def _given(self, venv: Path) -> Environment:
        """The caller's own virtualenv (``PVE_ENV_FROM``), bound read-only like a built one: the
        GitHub Action reuses the one the job's test step made instead of building it again."""
        venv = venv.resolve()
        if not (venv / "pyvenv.cfg").is_file() or not (venv / "bin" / "python").exists():
            raise DependencyError("", f"{venv} is not a virtualenv (no pyvenv.cfg and bin/python): give the folder "
                                      "the job's test step created (python -m venv, uv venv, virtualenv)")
        if not world_traversable(venv / "pyvenv.cfg"):
            raise DependencyError("", f"{venv} is not readable by the sandbox users")
        base = (venv / "bin" / "python").resolve()
        if base.is_relative_to(venv):
            # its interpreter is checked by running it here, outside any sandbox: only one the
            # machine installed (a virtualenv links to it), never a file inside the folder given
            raise DependencyError("", f"{venv}'s bin/python is a file of its own, not a link to an installed "
                                      "interpreter: it is not run")
        try:
            interpreter = find_interpreter(str(venv / "bin" / "python"))
        except SandboxUnavailable as exc:
            raise DependencyError("", f"the virtualenv's interpreter cannot run in the sandbox: {exc}") from None
        packages = sorted({"==".join(d.name[:-len(".dist-info")].rsplit("-", 1))
                           for d in venv.glob("lib/python*/site-packages/*.dist-info")})
        key = "given-" + hashlib.sha256(f"{venv}\n{interpreter.version}\n{packages}".encode()).hexdigest()[:24]
        return Environment(path=venv, overlay=None, interpreter=interpreter,
                           info=EnvironmentInfo(key=key, kind="the caller's virtualenv (PVE_ENV_FROM)",
                                                python=f"{interpreter.version} ({interpreter.executable})",
                                                packages=packages, reused=True, build_ms=0.0, size_bytes=0))

    def _meta(self, key: str) -> dict:
        try:
            return json.loads((self.root / f"env-{key}" / "meta.json").read_text())
        except (OSError, ValueError):
            return {}

    # ------------------------------------------------------------------ failures

    def _failed_before(self, key: str) -> None:
        path = self.root / "failed" / f"{key}.json"
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            return
        if time.time() - record.get("at", 0) > self.settings.failed_ttl_s:
            with contextlib.suppress(OSError):
                path.unlink()
            return
        raise DependencyError(record.get("package", ""), record.get("reason", "the build failed"), record.get("log", ""))

    def _remember_failure(self, key: str, exc: DependencyError) -> None:
        _write_json(self.root / "failed" / f"{key}.json",
                    {"package": exc.package, "reason": exc.reason, "log": exc.log[-LOG_TAIL:], "at": time.time()})

    # ------------------------------------------------------------------ building

    def _build(self, key: str, plan: InstallPlan, project: Path, interpreter: Interpreter, t0: float) -> None:
        work = self.root / f"tmp-{secrets.token_hex(8)}"
        src = self.root / f"tmp-{secrets.token_hex(8)}-src"
        try:
            work.mkdir()
            shutil.copytree(project, src, symlinks=True)
            if plan.constraints:
                (src / CONSTRAINTS).write_text("\n".join(plan.constraints) + "\n")
            if plan.overrides:
                # the project's own source, editable, by its path: a bare name lets the override
                # replace the editable install with a release from the index, a plain URL with a
                # copy of the source
                (src / OVERRIDES).write_text(f"-e file://{SRC_PATH}\n")
            if self.builder_uid is not None:
                # The builder owns its scratch copy and the folder it builds into; never chown
                # a built venv (its files share inodes with the uv cache).
                for folder, dirs, files in os.walk(src):
                    for name in [*dirs, *files]:
                        os.lchown(os.path.join(folder, name), self.builder_uid, self.builder_uid)
                os.chown(src, self.builder_uid, self.builder_uid)
                os.chown(work, self.builder_uid, self.builder_uid)
            venv = f"{BUILD_PATH}/{work.name}/venv"
            build = Build(BuildSandbox(self.bwrap, self.uv, self.forward, work, src, interpreter, self.settings),
                          self.root, self.builder_uid, deadline=time.monotonic() + self.settings.build_seconds)
            shared = self.root / "cache"
            prefetch = prefetch_command(plan, f"{BUILD_PATH}/{work.name}/prefetch", interpreter, self.settings)
            if prefetch is not None:  # the shared cache's one writer: wheels only, no code runs
                try:
                    build.step(prefetch.argv, network=prefetch.network, cache=shared, compile_bytecode=False)
                except DependencyError:
                    build.log.append("(prefetch incomplete: what it could not fetch as wheels, the build fetches itself)")
                if self.builder_uid is not None:  # (not root: builds are PVE's own uid, which owns everything)
                    seal(shared / "archive-v0", True, files_only=True)
            # Every step that may run code (the project's build, a dependency's setup.py, the
            # repository's commands) works on a private copy of the cache (hardlinks to sealed
            # files), thrown away after the build.
            private = self.root / f"{work.name}-cache"
            shutil.copytree(shared, private, symlinks=True, copy_function=link_or_copy)
            if self.builder_uid is not None:
                for folder, _dirs, files in os.walk(private):
                    os.chown(folder, self.builder_uid, self.builder_uid)
                    for name in files:
                        path = os.path.join(folder, name)
                        if f"{os.sep}archive-v0{os.sep}" not in path:
                            os.lchown(path, self.builder_uid, self.builder_uid)
            build.step(["uv", "venv", "--relocatable", "--python", interpreter.executable, venv], network=False,
                       cache=private)
            for step in install_commands(plan, venv, self.settings):
                build.step(step.argv, network=step.network, venv=venv if step.shell else None, cache=private)
            frozen = build.step(["uv", "pip", "freeze", "--python", f"{venv}/bin/python"], network=False, cache=private)
            shutil.rmtree(work / "prefetch", ignore_errors=True)
            size = tree_bytes(work / "venv")
            if size > self.settings.max_bytes:
                raise DependencyError("", f"the environment is {size >> 20} MiB, over the {self.settings.max_bytes >> 20} MiB "
                                          "cap (PVE_ENV_MAX_MB)", "\n".join(build.log))
            overlay(project, src, work / "overlay")
            _write_json(work / "meta.json", {
                "format": FORMAT, "kind": plan.kind, "plan": plan.model_dump(),
                "python": f"{interpreter.version} ({interpreter.executable})",
                "packages": sorted(line.strip() for line in frozen.splitlines() if line.strip()),
                "size_bytes": size, "built_at": time.time(), "build_ms": (time.monotonic() - t0) * 1000})
            (work / ".complete").write_text(key)
            seal(work, self.builder_uid is not None)
            os.rename(work, self.root / f"env-{key}")
        finally:
            shutil.rmtree(src, ignore_errors=True)
            _remove(self.root / f"{work.name}-cache")
            if work.exists():
                shutil.rmtree(work, ignore_errors=True)

    # ------------------------------------------------------------------ eviction

    def evict(self, keep: str | None = None) -> list[str]:
        """Least recently used environments go until the store fits its bound."""
        envs = []
        for folder in self.root.glob("env-*"):
            try:
                used = (folder / ".complete").stat().st_mtime
                size = json.loads((folder / "meta.json").read_text()).get("size_bytes", 0)
            except (OSError, ValueError):
                continue
            envs.append((used, folder, size))
        total = sum(size for _, _, size in envs)
        gone: list[str] = []
        for _used, folder, size in sorted(envs, key=lambda e: e[0]):
            if total <= self.settings.store_bytes:
                break
            key = folder.name.removeprefix("env-")
            if key == keep:
                continue
            with _locked(self.root / "locks" / f"{key}.lock", wait=False) as held:
                if not held:
                    continue  # being built or used right now
                doomed = self.root / f"gone-{secrets.token_hex(6)}"
                os.rename(folder, doomed)  # invisible at once, then removed
                _remove(doomed)
            total -= size
            gone.append(key)
        return gone

    def hold(self, env: Environment) -> int | None:
        """A shared lock on ``env`` while a session runs with it (eviction passes it by); None
        when it was evicted before the lock was taken. Give the fd to ``release``."""
        fd = os.open(self.root / "locks" / f"{env.info.key}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_SH)
        if env.info.key.startswith("given-"):  # the caller's own: never evicted, nothing to check
            return fd
        if not (env.path.parent / ".complete").exists():
            os.close(fd)
            return None
        return fd

    @staticmethod
    def release(fd: int) -> None:
        os.close(fd)


def _remove(folder: Path) -> None:
    """A sealed environment's folders have no write bits: give them back first (not needed as
    root, which PVE need not be)."""
    for dirpath, dirs, _files in os.walk(folder):
        for name in [dirpath, *(os.path.join(dirpath, d) for d in dirs)]:
            with contextlib.suppress(OSError):
                if not os.path.islink(name):
                    os.chmod(name, 0o755)
    shutil.rmtree(folder, ignore_errors=True)


def _stage_uv(root: Path) -> Path:
    """A copy of PVE's own uv the builder uid can run (PVE's may live in a private home)."""
    source = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if source is None:
        raise SandboxUnavailable("uv is not installed; it builds the projects' environments",
                                 hint="reinstall PVE: ./scripts/install.sh")
    version = _uv_version(source)
    target = root / f"uv-{re.sub(r'[^0-9A-Za-z.]+', '-', version)}"
    if not target.exists():
        tmp = root / f".uv-{secrets.token_hex(4)}"
        shutil.copy2(os.path.realpath(source), tmp)
        os.chmod(tmp, 0o755)
        os.replace(tmp, target)
    if not world_traversable(target):
        raise SandboxUnavailable(f"the build users cannot reach {target}")
    return target


_UV_VERSIONS: dict[str, str] = {}


def _uv_version(path: str) -> str:
    if path not in _UV_VERSIONS:
        done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30, env={})
        _UV_VERSIONS[path] = done.stdout.strip() or "uv (unknown version)"
    return _UV_VERSIONS[path]


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    tmp.write_text(json.dumps(data, indent=1))
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


@contextlib.contextmanager
def _locked(path: Path, *, shared: bool = False, wait: bool = True) -> Iterator[bool]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        flags = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | (0 if wait else fcntl.LOCK_NB)
        try:
            fcntl.flock(fd, flags)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # releases the lock
