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


def test_two_workers_extracting_one_sha_at_once_leave_one_whole_copy(tmp_path):
    """Two AWS step instances (or server workers) fetching the same commit at the same moment:
    each extracts into a folder of its own; one wins the rename, the other's is removed."""
    import threading

    archive = tarball([("top", None, "dir")] + [(f"top/pkg/m{i}.py", b"x = 1\n" * 200, "file") for i in range(300)])
    dest = tmp_path / "octo" / "stats" / "abc"
    dest.parent.mkdir(parents=True)
    outcomes: list[object] = []
    barrier = threading.Barrier(4)

    def work() -> None:
        barrier.wait()
        try:
            outcomes.append(checkout.extract(archive, dest))
        except OSError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 300 in outcomes
    assert all(o == 300 or isinstance(o, OSError) for o in outcomes)
    assert len(list((dest / "pkg").iterdir())) == 300
    assert [p.name for p in dest.parent.iterdir()] == ["abc"]  # no half-extracted folder left
