"""What the sandbox sees besides the project: an interpreter, the harness and pytest.

The sandbox runs as an unprivileged uid, and bwrap opens every bind source as that uid. So
everything bound in must be reachable by it: an interpreter whose whole path is
world-traversable (PVE's own may live under a private home, e.g. pyenv in /root), and a
staging root that PVE creates, owns and makes traversable but not listable (0711).

The runtime folder holds ``harness.py``, ``site/`` (pytest and its dependencies, copied from
PVE's own environment, so no download is needed) and a minimal ``etc/passwd``. Its name carries
a hash of its contents, so a new PVE version stages a new runtime beside the old one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from pve.errors import SandboxUnavailable

RUNTIME_DISTRIBUTIONS = ("pytest",)  # and their requirements, resolved below
_LAYOUT = "3: with .dist-info, tracers.py"  # what a runtime folder holds; a change stages a new one
INSIDE = Path(__file__).with_name("inside")  # untrusted territory: what runs beside the code judged
HARNESS = INSIDE / "harness.py"
# What runs inside besides pytest: name in the runtime -> source here (stdlib only, all of them)
RUNTIME_FILES = {"harness.py": HARNESS, "screen.py": HARNESS.with_name("screen_server.py"),
                 "capture.py": Path(__file__).with_name("capture.py"),
                 "direct.py": HARNESS.with_name("direct.py"), "reach.py": HARNESS.with_name("reach.py"),
                 "tracers.py": HARNESS.with_name("tracers.py")}


@dataclass(frozen=True)
class Interpreter:
    executable: str
    prefix: str  # sys.base_prefix inside the sandbox (bound read-only if outside /usr)
    version: str  # "3.11.2"


def world_traversable(path: Path) -> bool:
    """Can any uid reach ``path``? (every parent o+x, the file itself o+r)."""
    try:
        path = path.resolve()
        for parent in reversed(path.parents):
            if not os.stat(parent).st_mode & stat.S_IXOTH:
                return False
        return bool(os.stat(path).st_mode & stat.S_IROTH)
    except OSError:
        return False


def system_binds(interpreter: Interpreter) -> list[str]:
    """bwrap arguments for what every sandbox (run or build) sees of the system: ``/usr``
    read-only, the merged-/usr links (or folders) beside it, and the interpreter's prefix when
    it lives elsewhere."""
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        p = Path("/" + name)
        if p.is_symlink():
            args += ["--symlink", os.readlink(p), str(p)]
        elif p.is_dir():
            args += ["--ro-bind", str(p), str(p)]
    if interpreter.prefix != "/usr" and not interpreter.prefix.startswith("/usr/"):
        args += ["--ro-bind", interpreter.prefix, interpreter.prefix]
    return args


@cache
def find_interpreter(configured: str | None = None) -> Interpreter:
    """The Python the sandbox runs: configured, else PVE's own if reachable, else /usr/bin/python3."""
    options = [configured] if configured else [sys.executable, "/usr/bin/python3"]
    for option in options:
        exe = shutil.which(option) if option and not os.path.isabs(option) else option
        if not exe or not os.path.exists(exe):
            continue
        real = Path(exe).resolve()
        if not world_traversable(real):
            continue
        probed = _probe(real)
        if probed is None:
            continue
        prefix, version, ok = probed
        if not ok or not world_traversable(Path(prefix)):
            continue
        return Interpreter(executable=str(real), prefix=prefix, version=version)
    raise SandboxUnavailable(
        "no Python interpreter that the sandbox user can reach "
        f"(tried {', '.join(str(o) for o in options)})",
        hint="install Debian's python3 (apt-get install python3) or set PVE_SANDBOX_PYTHON "
             "to an interpreter outside private home folders",
    )


def _probe(real: Path) -> list[Any] | None:
    """[base prefix, version, >= 3.9] of an interpreter, asked once per binary (a new process per
    ``pve verify`` would pay ~15 ms for it each time): remembered in the staging root, which only
    we can write, under the binary's identity (path, size, mtime)."""
    st = real.stat()
    key = f"{real}:{st.st_size}:{st.st_mtime_ns}"
    memo = staging_root() / "interpreters.json"
    try:
        known = json.loads(memo.read_text())
    except (OSError, ValueError):
        known = {}
    if isinstance(known, dict) and isinstance(known.get(key), list):
        return list(known[key])
    probe = subprocess.run(
        [str(real), "-I", "-S", "-c",
         "import sys,json; print(json.dumps([sys.base_prefix, '%d.%d.%d' % sys.version_info[:3], sys.version_info >= (3, 9)]))"],
        capture_output=True, text=True, env={}, timeout=30,
    )
    if probe.returncode != 0:
        return None
    answer = json.loads(probe.stdout)
    known = {k: v for k, v in known.items() if not k.startswith(f"{real}:")} if isinstance(known, dict) else {}
    known[key] = answer
    tmp = memo.with_name(f".interpreters.{os.getpid()}.tmp")
    with contextlib.suppress(OSError):
        tmp.write_text(json.dumps(known))
        os.replace(tmp, memo)
    return list(answer)


def staging_root() -> Path:
    """A folder owned by us, mode 0711, where runtime and staged projects live."""
    base = Path(os.environ.get("PVE_SANDBOX_ROOT") or Path(tempfile.gettempdir()) / f"pve-sandbox-{os.geteuid()}")
    try:
        base.mkdir(mode=0o711, exist_ok=True)
        st = os.lstat(base)
    except OSError as exc:
        raise SandboxUnavailable(f"cannot create the sandbox staging folder {base}: {exc}") from None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
        raise SandboxUnavailable(f"{base} exists but is not a folder owned by us; refusing to use it")
    os.chmod(base, 0o711)
    if not world_traversable(base.parent) and os.geteuid() == 0:
        raise SandboxUnavailable(f"the sandbox users cannot reach {base}", hint="set PVE_SANDBOX_ROOT to a folder under /tmp or /var/tmp")
    return base


def _requirements(dist: metadata.Distribution) -> list[str]:
    from packaging.requirements import Requirement

    names = []
    for raw in dist.requires or []:
        req = Requirement(raw)
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            names.append(req.name)
    return names


def _top_level_paths(dist: metadata.Distribution) -> set[Path]:
    paths: set[Path] = set()
    for f in dist.files or []:
        parts = Path(str(f)).parts
        if not parts or parts[0] in ("..", "__pycache__") or parts[0].endswith((".dist-info", ".data")):
            continue
        paths.add(Path(str(dist.locate_file(parts[0]))))
    return paths


def _metadata_paths(dist: metadata.Distribution) -> set[Path]:
    """The distribution's ``.dist-info`` folder: pytest in the sandbox must behave as an installed
    pytest (``importlib.metadata.version('pluggy')`` under ``-v``, entry points of plugins)."""
    return {Path(str(dist.locate_file(Path(str(f)).parts[0]))) for f in dist.files or []
            if Path(str(f)).parts and Path(str(f)).parts[0].endswith(".dist-info")}


def _runtime_distributions() -> list[metadata.Distribution]:
    seen: set[str] = set()
    todo = list(RUNTIME_DISTRIBUTIONS)
    dists = []
    while todo:
        name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
        if name in seen:
            continue
        seen.add(name)
        dist = metadata.distribution(name)
        dists.append(dist)
        todo.extend(_requirements(dist))
    return dists


@dataclass(frozen=True)
class Library:
    """What a snippet's ``import name`` finds in the sandbox."""

    module: str
    available: bool
    source: str  # "standard library" | the distribution that provides it | ""
    version: str  # the distribution's version, or the interpreter's for the standard library


def provided_libraries(modules: list[str], interpreter: Interpreter) -> list[Library]:
    """For top-level module names, what a sandboxed snippet can import: the interpreter's
    standard library and the runtime's distributions (pytest and its requirements); the sandbox
    runs ``python -I -S``, so nothing else is on its path (a project's declared environment is
    built per project, not for snippets). Read from metadata on the host: nothing is imported."""
    found = _runtime_modules()
    stdlib = set(sys.stdlib_module_names)
    out = []
    for module in modules:
        if module in stdlib:
            out.append(Library(module, True, "standard library", interpreter.version))
        elif module in found:
            name, version = found[module]
            out.append(Library(module, True, name, version))
        else:
            out.append(Library(module, False, "", ""))
    return out


@cache
def _runtime_modules() -> dict[str, tuple[str, str]]:
    """Top-level module name -> (distribution, version) for what the runtime stages."""
    out: dict[str, tuple[str, str]] = {}
    for dist in _runtime_distributions():
        for path in _top_level_paths(dist):
            name = path.name.removesuffix(".py") if path.suffix == ".py" else path.name
            if name.isidentifier():
                out.setdefault(name, (str(dist.metadata["Name"]), dist.version))
    return out


def _runtime_key(dists: list[metadata.Distribution]) -> str:
    """Versions and harness source: cheap to compute on every start (no RECORD files read)."""
    digest = hashlib.sha256(_LAYOUT.encode())
    digest.update("\n".join(sorted(f"{d.metadata['Name']}=={d.version}" for d in dists)).encode())
    for source in RUNTIME_FILES.values():
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


def _install_fingerprint(interpreter: Interpreter) -> str:
    """Changes whenever a package is installed, upgraded or removed (each adds or removes a
    ``.dist-info`` folder, which changes its site folder's mtime) or the harness changes."""
    digest = hashlib.sha256(f"{_LAYOUT}:{interpreter.executable}:{interpreter.version}".encode())
    for entry in sys.path:
        if entry.endswith(("site-packages", "dist-packages")) and os.path.isdir(entry):
            digest.update(f"{entry}:{os.stat(entry).st_mtime_ns}".encode())
    for source in RUNTIME_FILES.values():
        st = os.stat(source)
        digest.update(f"{st.st_mtime_ns}:{st.st_size}".encode())
    return digest.hexdigest()[:16]


@cache
def stage_runtime(interpreter: Interpreter) -> Path:
    """Create (once per content hash) the read-only runtime folder bound at /pve."""
    root = staging_root()
    # Resolving the runtime's dependency closure reads package metadata (~17 ms); a start with
    # nothing installed or removed since reuses the answer from an index file instead.
    index = root / f"runtime-index-{_install_fingerprint(interpreter)}"
    try:
        known = root / index.read_text().strip()
        if known.name.startswith("runtime-") and (known / ".complete").exists():
            return known
    except OSError:
        pass
    dists = _runtime_distributions()
    key = hashlib.sha256(f"{_runtime_key(dists)}:{interpreter.executable}:{interpreter.version}".encode()).hexdigest()[:16]
    target = root / f"runtime-{key}"
    if (target / ".complete").exists():
        _write_index(index, target)
        return target
    sources = sorted(set().union(*(_top_level_paths(d) | _metadata_paths(d) for d in dists)))
    tmp = Path(tempfile.mkdtemp(prefix="runtime-tmp-", dir=root))
    site = tmp / "site"
    site.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for src in sources:
        if src.is_dir():
            shutil.copytree(src, site / src.name, ignore=ignore)
        elif src.exists():
            shutil.copy2(src, site / src.name)
    for name, source in RUNTIME_FILES.items():
        shutil.copy2(source, tmp / name)
    (tmp / "etc").mkdir()
    (tmp / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/false\npve:x:1000:1000:pve sandbox:/tmp:/bin/false\n"
                                        "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
    (tmp / "etc" / "group").write_text("root:x:0:\npve:x:1000:\nnogroup:x:65534:\n")
    (tmp / "etc" / "hosts").write_text("127.0.0.1 localhost\n::1 localhost\n")
    # Byte-compile with the sandbox's own interpreter: the runtime is read-only inside, and
    # compiling pytest from source costs ~300 ms a run.
    subprocess.run([interpreter.executable, "-I", "-m", "compileall", "-q", "-j", "0", str(site)],
                   capture_output=True, env={}, timeout=300, check=False)
    (tmp / ".complete").write_text(key)
    for folder, _dirs, files in os.walk(tmp):
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)
    try:
        os.rename(tmp, target)
    except OSError:  # another process staged it first
        shutil.rmtree(tmp, ignore_errors=True)
    _write_index(index, target)
    return target


def _write_index(index: Path, target: Path) -> None:
    tmp = index.with_name(f".{index.name}.{os.getpid()}")
    with contextlib.suppress(OSError):
        tmp.write_text(target.name)
        os.replace(tmp, index)
