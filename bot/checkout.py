"""A repository at one commit, on disk: the tarball GitHub serves, extracted safely, cached by sha.

The archive is untrusted input. Only regular files and folders are extracted (no links, devices
or absolute paths), every name must stay inside the destination, and size and file count are
capped. Extraction goes to a temporary folder that is renamed into place only when complete,
so a crash never leaves a half checkout that looks finished. The sandbox copies what it runs;
nothing here ever executes.
"""

from __future__ import annotations

import io
import os
import secrets
import shutil
import tarfile
import time
from pathlib import Path, PurePosixPath

from bot.github import RepoAPI
from pve.errors import BadInput

MAX_ARCHIVE_BYTES = 200 << 20
MAX_FILES = 50_000
MAX_TOTAL_BYTES = 1 << 30
KEEP = 20  # checkouts kept (least recently used are removed)


def _safe_name(name: str) -> PurePosixPath | None:
    parts = PurePosixPath(name).parts[1:]  # GitHub's archives put everything under one top folder
    if not parts or any(p in ("", ".", "..") or "\x00" in p for p in parts) or name.startswith("/"):
        return None
    return PurePosixPath(*parts)


def extract(archive: bytes, dest: Path) -> int:
    """Extract a GitHub tarball's files into ``dest`` (which must not exist); returns the file count."""
    if len(archive) > MAX_ARCHIVE_BYTES:
        raise BadInput(f"the repository archive is {len(archive) >> 20} MB; PVE handles up to {MAX_ARCHIVE_BYTES >> 20} MB",
                       code="too-large", limit=f"archive over {MAX_ARCHIVE_BYTES >> 20} MB")
    # Unique per call: two workers (threads, or tasks extracting in threads) may fetch one sha at once.
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    tmp.mkdir(parents=True)
    files = total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:*") as tar:
            for member in tar:
                rel = _safe_name(member.name)
                if rel is None or not (member.isfile() or member.isdir()):
                    continue  # the top folder, links, devices, absolute or escaping names
                target = tmp / rel
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                files += 1
                total += member.size
                if files > MAX_FILES or total > MAX_TOTAL_BYTES:
                    raise BadInput(f"the repository is too large to verify (over {MAX_FILES} files or {MAX_TOTAL_BYTES >> 30} GB)",
                                   code="too-large", limit=f"over {MAX_FILES} files or {MAX_TOTAL_BYTES >> 30} GB")
                target.parent.mkdir(parents=True, exist_ok=True)
                src = tar.extractfile(member)
                assert src is not None
                with open(target, "wb") as out:
                    shutil.copyfileobj(src, out)
                target.chmod(0o755 if member.mode & 0o111 else 0o644)
    except tarfile.TarError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise BadInput(f"the repository archive is not a valid tarball: {exc}", code="bad-archive") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        os.replace(tmp, dest)
    except OSError:  # another worker's copy got there first: the caller finds it
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return files


async def checkout(api: RepoAPI, sha: str, home: Path) -> Path:
    """The repository at ``sha`` under ``home/checkouts`` (downloaded once per sha)."""
    root = home / "checkouts"
    dest = root / api.owner / api.name / sha
    if dest.is_dir():
        os.utime(dest)  # recently used
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    archive = await api.tarball(sha)
    if not dest.is_dir():  # another worker may have finished the same sha meanwhile
        try:
            extract(archive, dest)
        except OSError:
            if not dest.is_dir():
                raise
    prune(root)
    return dest


def prune(root: Path, keep: int = KEEP) -> None:
    """Remove the least recently used checkouts beyond ``keep``."""
    found = [p for p in root.glob("*/*/*") if p.is_dir() and not p.name.startswith(".")]
    found.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    cutoff = time.time() - 60  # never one that was just made or used
    for old in found[keep:]:
        if old.stat().st_mtime < cutoff:
            shutil.rmtree(old, ignore_errors=True)
