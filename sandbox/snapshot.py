"""Project snapshots: staged on the host (every run starts from one), and packed into one
archive for an engine whose runs happen elsewhere (the AWS sandbox function fetches it).

A snapshot is ``<root>/s-<key>/orig``: regular files, hashed, world-readable, and symbolic
links kept as links (inside a sandbox they can only point at sandbox paths).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import secrets
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path

from pve.errors import BadInput
from pve.layout import walk
from sandbox.backend import StagedProject

MAX_STAGE_FILES = 20_000
MAX_STAGE_BYTES = 200 << 20


@contextlib.contextmanager
def _new(root: Path) -> Iterator[tuple[str, Path]]:
    """A new snapshot folder (key, folder): made readable when filled, removed if filling fails."""
    key = secrets.token_hex(16)
    dest = root / f"s-{key}"
    (dest / "orig").mkdir(parents=True)
    try:
        yield key, dest
        _readable(dest)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise


def stage(root: Path, source: Path, *, single_file: bool = False) -> StagedProject:
    """Snapshot the project (or one file) under ``root``; hash every file."""
    files: dict[str, str] = {}
    total = 0
    with _new(root) as (key, dest):
        orig = dest / "orig"
        if single_file:
            data = source.read_bytes()
            (orig / source.name).write_bytes(data)
            files[source.name] = hashlib.sha256(data).hexdigest()
        else:
            for path in walk(source):
                rel = path.relative_to(source).as_posix()
                target = orig / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                if path.is_symlink():
                    os.symlink(os.readlink(path), target)
                    continue
                data = path.read_bytes()
                total += len(data)
                if len(files) >= MAX_STAGE_FILES or total > MAX_STAGE_BYTES:
                    raise BadInput(f"{source} is too large to verify (over {MAX_STAGE_FILES} files or "
                                   f"{MAX_STAGE_BYTES >> 20} MiB after skipping .git, venvs and caches)",
                                   code="too-large", limit=f"over {MAX_STAGE_FILES} files or {MAX_STAGE_BYTES >> 20} MiB")
                target.write_bytes(data)
                files[rel] = hashlib.sha256(data).hexdigest()
    return StagedProject(key=key, root=dest, source=source, files=files)


def pack(staged: StagedProject) -> bytes:
    """The snapshot's files as one gzipped tar (regular files only, in a stable order)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=6) as tar:
        for rel in sorted(staged.files):
            data = (staged.root / "orig" / rel).read_bytes()
            info = tarfile.TarInfo(rel)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def unpack(root: Path, archive: bytes, expected: dict[str, str] | None = None) -> StagedProject:
    """A snapshot made from ``pack``'s archive under ``root``. Only regular files inside the
    snapshot are written (tarfile's ``data`` filter); with ``expected``, the files and their
    hashes must be exactly those (an archive changed in transit is refused)."""
    files: dict[str, str] = {}
    with _new(root) as (key, dest):
        orig = dest / "orig"
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                tarfile.data_filter(member, str(orig))  # raises on absolute or escaping paths
                data = tar.extractfile(member)
                assert data is not None
                content = data.read()
                target = orig / member.name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
                files[member.name] = hashlib.sha256(content).hexdigest()
        if expected is not None and files != expected:
            missing = sorted(set(expected) ^ set(files)) or sorted(k for k in files if files[k] != expected.get(k))
            raise ValueError(f"the snapshot archive does not hold the staged files ({', '.join(missing[:3])} differ)")
    return StagedProject(key=key, root=dest, source=dest / "orig", files=files)


def _readable(dest: Path) -> None:
    # Sandboxed runs start as another uid: the snapshot is world-readable, never writable.
    for folder, _dirs, names in os.walk(dest):
        os.chmod(folder, 0o755)
        for name in names:
            p = os.path.join(folder, name)
            if not os.path.islink(p):
                os.chmod(p, 0o644)
