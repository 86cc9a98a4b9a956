from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@pytest.fixture
def examples() -> Path:
    return EXAMPLES


@pytest.fixture
def pve_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "pve-home"
    monkeypatch.setenv("PVE_HOME", str(home))
    return home
