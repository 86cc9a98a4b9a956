from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@pytest.fixture
def examples() -> Path:
    return EXAMPLES


def write_tree(root: Path, files: dict[str, str]) -> Path:
    """A project folder holding ``files`` (relative path -> text)."""
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


@pytest.fixture
def services(tmp_path):
    """The runtime as ``pve verify`` builds it (real sandboxes), with its data under tmp_path."""
    from dataclasses import replace

    from entrypoints import bootstrap
    from pve.settings import Settings

    return bootstrap.services(replace(Settings.from_env({}), home=tmp_path / "home"))


@pytest.fixture
def pve_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "pve-home"
    monkeypatch.setenv("PVE_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def wheel_store():
    """A local wheel directory and room for environment stores, where the sandbox and build
    users can reach them (tests/wheelhouse.py): environment builds never reach a registry."""
    import os
    import secrets
    import shutil

    from sandbox.runtime import staging_root
    from tests.wheelhouse import wheelhouse

    base = staging_root() / f"envtest-{secrets.token_hex(4)}"
    wheels = wheelhouse(base / "wheels")
    for folder, _dirs, files in os.walk(base):
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)
    yield base, wheels
    shutil.rmtree(base, ignore_errors=True)
