"""What a project folder holds: which folders are not the project (VCS data, virtualenvs,
caches), which files are tests, and the walk every reader of a project uses (the log parser's
file index and the sandbox's staging), so both agree on what "the project" is."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

IGNORED_DIRS = frozenset({
    ".git", ".hg", ".svn", ".venv", "venv", ".tox", ".nox", "node_modules", "__pycache__",
    ".mypy_cache", ".pytest_cache", ".ruff_cache", "site-packages",
})
PYTHON_SUFFIXES = (".py", ".pyw")


def is_ignored_dir(name: str) -> bool:
    return name in IGNORED_DIRS or name.endswith(".egg-info")


def is_test_path(path: str) -> bool:
    """pytest's default discovery names, plus test folders and conftest."""
    parts = path.replace("\\", "/").split("/")
    name = parts[-1]
    if name == "conftest.py" or name.startswith("test_") or name.endswith("_test.py"):
        return True
    return any(p in ("tests", "test", "testing") for p in parts[:-1])


def walk(root: Path) -> Iterator[Path]:
    """Regular files and symlinks under ``root``, sorted per folder, never entering ignored
    folders or following a link. Unreadable folders are skipped."""
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(folder.iterdir())
        except OSError:
            continue
        for entry in entries:
            if entry.is_symlink():
                yield entry
            elif entry.is_dir():
                if not is_ignored_dir(entry.name):
                    stack.append(entry)
            elif entry.is_file():
                yield entry


def python_files(root: Path, limit: int = 50_000) -> Iterator[str]:
    """The project's Python files (no links), as POSIX paths relative to ``root``."""
    root = root.resolve()
    for count, path in enumerate((p for p in walk(root) if not p.is_symlink() and p.suffix in PYTHON_SUFFIXES), 1):
        if count > limit:
            return
        yield path.relative_to(root).as_posix()
