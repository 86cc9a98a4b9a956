"""How one project environment is built: the uv commands for an install plan, the build
sandbox around each of them, the interpreter it runs on, and the installer's words when it fails.
Running them, step by step, is ``sandbox/builder.py``; the store that keys, keeps and evicts
environments is ``sandbox/environments.py``."""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from pve.errors import PVEError, SandboxUnavailable
from pve.models import InstallPlan
from pve.settings import EnvironmentSettings
from sandbox.runtime import Interpreter, find_interpreter, system_binds

BUILD_PATH = "/envs"  # where a build sees its own folder and its tenant's cache (nothing else of the store)
SRC_PATH = "/work/src"  # the project, at the same path in builds and runs
CONSTRAINTS = ".pve-constraints.txt"  # a lock file's pins, written into the scratch copy
OVERRIDES = ".pve-overrides.txt"  # requirements that win over what any dependency pins


class DependencyError(PVEError):
    """The project's dependencies could not be installed: its own outcome, not bad input."""

    exit_code = 1

    def __init__(self, package: str, reason: str, log: str = "") -> None:
        where = f"{package}: " if package else ""
        self.message = f"could not install the dependencies: {where}{reason}"
        super().__init__(self.message, code="dependencies")
        self.package, self.reason, self.log = package, reason, log


@dataclass(frozen=True)
class BuildStep:
    argv: list[str]
    network: bool = False  # fetches packages
    shell: bool = False  # a repository's own command (``sh -c``), with the venv active


def prefetch_command(plan: InstallPlan, target: str, interpreter: Interpreter,
                     settings: EnvironmentSettings) -> BuildStep | None:
    """The one step that writes the tenant's shared uv cache: the declared requirements as
    wheels only (``--no-build``: no sdist is built, the project is not installed, so no code of
    the repository or of a dependency runs), into a throwaway folder. Every other step works on
    a private copy of the cache that is thrown away, so a build cannot poison what the next one
    installs. None: nothing to fetch this way (a uv.lock is synced by its own step)."""
    if plan.kind == "uv.lock":
        return None
    argv = ["uv", "pip", "install", "--no-build", "--target", target, "--python", interpreter.executable]
    if settings.find_links:
        argv.append("--no-index")
    if plan.kind == "pylock.toml":
        argv += ["-r", "pylock.toml"]
    for req in plan.requirements:
        argv += ["-r", req]
    if plan.constraints:
        argv += ["-c", CONSTRAINTS]
    for group in plan.groups:
        argv += ["--group", group]
    extra = [p for p in plan.packages if p != "pytest"] + ["pytest"]
    return BuildStep([*argv, *extra], settings.network and not settings.find_links)


def install_commands(plan: InstallPlan, venv: str, settings: EnvironmentSettings) -> list[BuildStep]:
    """The commands that build ``plan`` into ``venv`` (inside the build sandbox)."""
    network = settings.network and not settings.find_links
    python = f"{venv}/bin/python"
    no_index = ["--no-index"] if settings.find_links else []  # a wheel folder instead of an index
    if plan.kind == "uv.lock":
        sync = ["uv", "sync", "--frozen", "--all-extras", "--all-groups", "--python", python, *no_index]
        if not plan.editable:
            sync.append("--no-install-project")
        return [BuildStep(["env", f"UV_PROJECT_ENVIRONMENT={venv}", *sync], network),
                BuildStep(["uv", "pip", "install", "--python", python, *no_index, *plan.packages], network)]
    install = ["uv", "pip", "install", "--python", python, *no_index]
    if plan.kind == "pylock.toml":
        install += ["-r", "pylock.toml"]
    for req in plan.requirements:
        install += ["-r", req]
    if plan.constraints:
        install += ["-c", CONSTRAINTS]
    if plan.overrides:
        install += ["--override", OVERRIDES]
    if plan.editable:
        install += ["-e", "." + (f"[{','.join(plan.extras)}]" if plan.extras else "")]
    for group in plan.groups:
        install += ["--group", group]
    steps = [BuildStep([*install, *plan.packages], network)]
    steps += [BuildStep(["sh", "-c", command], settings.network, shell=True) for command in plan.commands]
    return steps


# --------------------------------------------------------------------------- the installer's words


def installer_reason(output: str) -> tuple[str, str]:
    """(package, one line) from uv's error output: what a user needs to act on."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", output)
    lines = [line.strip(" │×╰─▶").strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    package = ""
    for pattern in (r"only the following versions of (?P<pkg>[A-Za-z0-9][\w.\-]*)",
                    r"Because (?:there is no version of |only |all versions of )?(?P<pkg>[A-Za-z0-9][\w.\-]*)",
                    r"Failed to (?:build|download|fetch|prepare)\S* `(?P<pkg>[^`=<>~! ]+)",
                    r"No (?:matching distribution|solution) .*? for (?P<pkg>[A-Za-z0-9][\w.\-]*)"):
        m = re.search(pattern, text)
        if m:
            package = m.group("pkg")
            break
    because = next((line for line in lines if line.lower().startswith("because")), None)
    errors = [line.removeprefix("error:").strip() for line in lines if line.lower().startswith("error:")]
    causes = [re.sub(r"^(?:caused by|cause):\s*", "", line, flags=re.I) for line in lines
              if re.match(r"^(?:caused by|cause):", line, re.I) or line.startswith("Call to")]
    if because:
        reason = because  # the resolver's own explanation says it all
    elif errors or causes:
        reason = ": ".join(x for x in (errors[0] if errors else "", causes[-1] if causes else "") if x)
    else:
        reason = lines[-1] if lines else "the installer failed without a message"
    return package, reason[:300]


# --------------------------------------------------------------------------- interpreters


def choose_interpreter(requires_python: str | None, configured: str | None = None) -> Interpreter:
    """The interpreter the environment runs on: the configured one, else the newest one on
    this machine that satisfies ``requires-python`` and the sandbox users can reach. No
    interpreter is ever downloaded."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    candidates: list[Interpreter] = []
    for option in [configured] if configured else _machine_pythons():
        with contextlib.suppress(SandboxUnavailable):
            candidates.append(find_interpreter(option))
    if not candidates:
        raise SandboxUnavailable("no Python interpreter that the sandbox users can reach",
                                 hint="install Debian's python3, or set PVE_SANDBOX_PYTHON")
    if not requires_python:
        return candidates[0]
    try:
        spec = SpecifierSet(requires_python)
    except InvalidSpecifier:
        return candidates[0]
    fitting = [c for c in candidates if spec.contains(c.version, prereleases=True)]
    if not fitting:
        have = ", ".join(sorted({c.version for c in candidates}))
        raise DependencyError("", f"no Python on this machine satisfies requires-python {requires_python} "
                                  f"(have {have}; PVE never downloads interpreters: install one, or set PVE_SANDBOX_PYTHON)")
    return fitting[0]


def _machine_pythons() -> list[str]:
    found: dict[str, str] = {}
    for folder in ("/usr/local/bin", "/usr/bin"):
        with contextlib.suppress(OSError):
            for name in sorted(os.listdir(folder), reverse=True):
                if re.fullmatch(r"python3(\.\d+)?", name):
                    real = os.path.realpath(os.path.join(folder, name))
                    found.setdefault(real, os.path.join(folder, name))
    ordered = sorted(found.values(), key=lambda p: [int(x) for x in re.findall(r"\d+", os.path.basename(p))] or [0],
                     reverse=True)
    return ordered or ["/usr/bin/python3"]


# --------------------------------------------------------------------------- the build sandbox


PROXY_PORT = 3128  # the forwarder's port on the build sandbox's own loopback
FORWARD = Path(__file__).with_name("build_forward.py")


@dataclass(frozen=True)
class BuildSandbox:
    """What every step of one environment's build runs in, whatever the step: bwrap, the uv and
    the forwarder staged where the builder uid can read them, the build's own folder (``work``)
    and scratch copy of the project (``src``), the interpreter it builds for, and the store's
    settings."""

    bwrap: str
    uv: Path
    forward: Path
    work: Path
    src: Path
    interpreter: Interpreter
    settings: EnvironmentSettings


def build_command(argv: list[str], box: BuildSandbox, *, cache: Path, proxy: Path | None,
                  venv: str | None = None, compile_bytecode: bool = True) -> list[str]:
    """bwrap around one build command: unprivileged, empty environment, no home, the network
    only when fetching. It sees its own build folder (``work``), the scratch project and its
    tenant's uv cache, and nothing else of the store: no other environment, no failed build's
    log, no other tenant's anything (a build once wrote a .pth into another repository's
    environment through the store bound whole). ``proxy``: the host's index proxy
    (sandbox/index_proxy.py) when the command fetches packages; the build never has the host's
    network (it reached PVE's own port and 169.254.169.254), only its own loopback, where
    ``build_forward.py`` relays to that proxy."""
    uv, forward, work, src, interpreter, settings = box.uv, box.forward, box.work, box.src, box.interpreter, box.settings
    network = proxy is not None
    args = [box.bwrap, "--unshare-all", "--die-with-parent", "--new-session", *system_binds(interpreter)]
    for etc in ("/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/ssl", "/etc/ca-certificates",
                "/etc/passwd", "/etc/group"):
        if os.path.exists(etc):
            args += ["--ro-bind", etc, etc]
    if proxy is not None:
        args += ["--bind", str(proxy), "/pve-build/proxy.sock", "--ro-bind", str(forward), "/pve-build/forward.py"]
    args += ["--ro-bind", str(uv), "/pve-build/uv",
             "--dir", BUILD_PATH, "--bind", str(work), f"{BUILD_PATH}/{work.name}",
             "--bind", str(cache), f"{BUILD_PATH}/cache", "--bind", str(src), SRC_PATH,
             "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    if settings.find_links and os.path.isdir(settings.find_links):
        # At its own path (after /tmp's tmpfs, which would hide it): a lock file made
        # against this folder names it so.
        args += ["--ro-bind", settings.find_links, settings.find_links]
    args += ["--chdir", SRC_PATH, "--clearenv",
             "--setenv", "PATH", "/pve-build:/usr/local/bin:/usr/bin:/bin", "--setenv", "HOME", "/tmp",
             "--setenv", "TMPDIR", "/tmp", "--setenv", "LANG", "C.UTF-8",
             # copies, not hardlinks: the cache's packages are sealed (PVE's, read-only), so no
             # build can rewrite what another installs, and a hardlink to them is refused
             "--setenv", "UV_CACHE_DIR", f"{BUILD_PATH}/cache", "--setenv", "UV_LINK_MODE", "copy",
             # the prefetch compiles nothing: compiling starts the target's interpreter
             "--setenv", "UV_COMPILE_BYTECODE", "1" if compile_bytecode else "0", "--setenv", "UV_PYTHON_DOWNLOADS", "never",
             "--setenv", "UV_NO_PROGRESS", "1", "--setenv", "UV_PYTHON", interpreter.executable]
    cert = next((c for c in ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")
                 if os.path.exists(c)), None)
    if cert:
        args += ["--setenv", "SSL_CERT_FILE", cert]
    if settings.index_url:
        args += ["--setenv", "UV_INDEX_URL", settings.index_url]
    if settings.find_links:
        args += ["--setenv", "UV_FIND_LINKS", settings.find_links]
    if not network and not settings.find_links:
        args += ["--setenv", "UV_OFFLINE", "1"]  # the cache only
    if network:
        url = f"http://127.0.0.1:{PROXY_PORT}"
        for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
            args += ["--setenv", name, url]
    if venv is not None:  # .github/pve.yml's own commands: with the venv active
        args += ["--setenv", "VIRTUAL_ENV", venv, "--setenv", "PATH", f"{venv}/bin:/pve-build:/usr/bin:/bin"]
    command = ["/pve-build/uv", *argv[1:]] if argv[0] == "uv" else argv
    if network:
        command = [interpreter.executable, "-I", "-S", "/pve-build/forward.py", "/pve-build/proxy.sock",
                   str(PROXY_PORT), "--", *command]
    return [*args, "--", *command]
