"""The layer table of ARCHITECTURE.md, checked on every import in the code, lazy ones (inside
functions) and ``TYPE_CHECKING`` ones included: no import runs back up, so no cycle between
top-level packages. Run alone: ``uv run pytest tests/test_layers.py -q``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# package -> the packages of ours it may import (ARCHITECTURE.md, "Top-level layout")
MAY_IMPORT: dict[str, set[str]] = {
    "pve": set(),
    "brain": {"pve"},
    "sandbox": {"pve"},
    "store": {"pve"},
    "bot": {"pve", "store"},
    "statemachine": {"pve", "brain", "sandbox", "store", "bot"},
    "webhooks": {"pve", "bot", "store", "statemachine"},
    "web": {"pve", "bot", "store", "statemachine"},
    "entrypoints": {"pve", "brain", "sandbox", "store", "bot", "statemachine", "webhooks", "web"},
}
OURS = set(MAY_IMPORT)


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, top-level package) of every absolute import in a file, wherever it sits."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def test_every_package_of_ours_is_in_the_table():
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} | {p.name for p in ROOT.iterdir()
                                                                      if p.is_dir() and any(p.glob("*.py"))}
    code = packages - {"tests", "benchmarks", "examples", "scripts", "infra", "node_modules", ".venv"}  # infra: deploy tooling
    assert code == OURS, f"add {code - OURS} to the layer table (or remove {OURS - code})"


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_no_import_runs_against_the_layer_table(package):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package}/ has no modules"
    checked = 0
    wrong = []
    for path in files:
        for line, target in imports_of(path):
            if target in OURS and target != package:
                checked += 1
                if target not in MAY_IMPORT[package]:
                    wrong.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert wrong == [], "imports against ARCHITECTURE.md's layer table:\n" + "\n".join(wrong)
    if MAY_IMPORT[package]:
        assert checked, f"{package}/ imports nothing of ours: is the scan reading its files?"


def test_lazy_and_type_checking_imports_are_seen(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from web import pages\n\n"
                   "def f():\n    import webhooks.app\n    from . import sibling\n")
    assert imports_of(src) == [(1, "typing"), (3, "web"), (6, "webhooks")]


# Inside a package: sub-package -> the sub-packages of the same package it may import ("" is the
# package's own top-level modules). Reading reports, the offline engine and the model brain stand
# apart; the shared modules at brain/'s top import none of them.
SUBPACKAGES: dict[str, dict[str, set[str]]] = {
    "brain": {"": set(), "intake": {""}, "offline": {""}, "models": {""}},
    "sandbox": {"": set(), "inside": set()},
}


def _part(package: str, rel: Path) -> str:
    return rel.parts[0] if len(rel.parts) > 1 else ""


@pytest.mark.parametrize("package", sorted(SUBPACKAGES))
def test_sub_packages_keep_apart(package):
    table = SUBPACKAGES[package]
    found = {p.name for p in (ROOT / package).iterdir() if (p / "__init__.py").exists()}
    assert found == set(table) - {""}, f"add {found - set(table)} to SUBPACKAGES[{package!r}]"
    wrong = []
    for path in sorted((ROOT / package).rglob("*.py")):
        mine = _part(package, path.relative_to(ROOT / package))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [f"{node.module}.{a.name}" for a in node.names]
                     if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else [])
            for name in names:
                parts = name.split(".")
                if parts[0] != package:
                    continue
                theirs = parts[1] if len(parts) > 2 and parts[1] in table else ""
                if theirs != mine and theirs not in table[mine]:
                    wrong.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {name}")
    assert wrong == [], f"imports across {package}/'s sub-packages:\n" + "\n".join(wrong)


def test_code_that_runs_inside_the_sandbox_imports_nothing_of_ours():
    """sandbox/inside/ is untrusted territory: it runs beside the code judged, by file name, and
    must not need (or reach) the host's packages; the host starts it by path, never imports it."""
    inside = sorted((ROOT / "sandbox" / "inside").glob("*.py"))
    assert len(inside) >= 4
    ours = [f"{p.name}:{line} imports {t}" for p in inside for line, t in imports_of(p) if t in OURS]
    assert ours == []
    host = [f"{p.relative_to(ROOT)}:{line}" for pkg in OURS for p in (ROOT / pkg).rglob("*.py")
            if "inside" not in p.parts
            for line, _ in [(n.lineno, 0) for n in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
                            if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("sandbox.inside")]]
    assert host == []
