"""The sandbox runtime (pytest and its dependencies, bound read-only at /pve) is staged once and
found again on later starts without re-reading package metadata."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from sandbox import runtime


@pytest.fixture
def root(monkeypatch):
    # the sandbox users must be able to reach it: under /tmp, not pytest's private tmp_path
    path = Path(tempfile.mkdtemp(prefix="pve-test-runtime-", dir="/tmp"))
    os.chmod(path, 0o755)
    monkeypatch.setenv("PVE_SANDBOX_ROOT", str(path / "root"))
    yield path / "root"
    shutil.rmtree(path, ignore_errors=True)


def test_runtime_is_found_from_its_index_until_something_is_installed(root, monkeypatch):
    interp = runtime.find_interpreter()
    runtime.stage_runtime.cache_clear()
    first = runtime.stage_runtime(interp)
    assert (first / ".complete").exists() and (first / "site" / "pytest").is_dir()
    assert [p.name for p in root.glob("runtime-index-*")] != []

    # a later start: the closure is not resolved again
    runtime.stage_runtime.cache_clear()

    def no_metadata():
        raise AssertionError("package metadata was read although nothing changed")

    monkeypatch.setattr(runtime, "_runtime_distributions", no_metadata)
    assert runtime.stage_runtime(interp) == first

    # "installing a package" changes the fingerprint: the metadata is read again
    runtime.stage_runtime.cache_clear()
    monkeypatch.setattr(runtime, "_install_fingerprint", lambda _i: "changed")
    with pytest.raises(AssertionError, match="metadata was read"):
        runtime.stage_runtime(interp)
    runtime.stage_runtime.cache_clear()
