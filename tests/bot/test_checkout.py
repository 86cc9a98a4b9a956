"""Repository tarballs are untrusted: only regular files inside the destination, within limits."""

from __future__ import annotations

import io
import tarfile

import pytest

from bot import checkout
from pve.errors import BadInput


def tarball(members: list[tuple[str, bytes | None, str]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data, kind in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(data or b"")
                info.mode = 0o755 if name.endswith(".sh") else 0o644
                tar.addfile(info, io.BytesIO(data or b""))
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, (data or b"").decode()
                tar.addfile(info)
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
    return buf.getvalue()


def test_extract_strips_the_top_folder_and_keeps_only_safe_regular_files(tmp_path):
    archive = tarball([
        ("octo-demo-abc1234", None, "dir"),
        ("octo-demo-abc1234/pkg/mod.py", b"x = 1\n", "file"),
        ("octo-demo-abc1234/run.sh", b"#!/bin/sh\n", "file"),
        ("octo-demo-abc1234/link", b"/etc/passwd", "symlink"),
        ("octo-demo-abc1234/../../escape.py", b"bad", "file"),
        ("/abs.py", b"bad", "file"),
    ])
    dest = tmp_path / "co"
    assert checkout.extract(archive, dest) == 2
    assert (dest / "pkg" / "mod.py").read_text() == "x = 1\n"
    assert (dest / "run.sh").stat().st_mode & 0o111
    assert not (dest / "link").exists() and not (tmp_path / "escape.py").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["co"]  # no temporary folder left


def test_limits_and_garbage_are_clear_errors_and_leave_nothing(tmp_path, monkeypatch):
    with pytest.raises(BadInput, match="not a valid tarball"):
        checkout.extract(b"this is not a tarball", tmp_path / "a")
    monkeypatch.setattr(checkout, "MAX_FILES", 2)
    many = tarball([(f"top/f{i}.py", b"", "file") for i in range(3)])
    with pytest.raises(BadInput, match="too large"):
        checkout.extract(many, tmp_path / "b")
    assert list(tmp_path.iterdir()) == []
