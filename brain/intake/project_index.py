"""The project's own files, for mapping a log's paths back onto them: a CI runner's checkout,
another OS's paths, an installed copy (``…/site-packages/tablekit/table.py``) by the project's
import names, and where a ``pyproject.toml`` says its packages live.

Apart from the reading of logs because more than logs need it: a test-runner command line is
read against the same index, and the state machine builds one per project. Pure: names in,
names out; nothing of the project runs.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from pathlib import Path

from pve.layout import is_test_path, python_files

# Where a project keeps its importable packages (besides its root), by convention.
PACKAGE_FOLDERS = ("src", "lib", "python")
# Root files that are tooling, never what a user imports.
_NOT_MODULES = {"setup.py", "conftest.py", "noxfile.py", "fabfile.py", "tasks.py", "manage.py", "dodo.py",
                "versioneer.py", "_version.py", "__main__.py"}
# Path components after which a path is an installed copy: pip, Debian, eggs, zipapps, wheels.
_INSTALLED = re.compile(r"^(?:site-packages|dist-packages|.+\.(?:egg|pyz|zip|whl|par))$", re.I)


def import_names(files: Iterable[str], folders: Iterable[str] = ()) -> dict[str, str]:
    """The project's top-level import names and where each lives in the repository:
    ``{"tablekit": "src/tablekit", "six": "six.py"}``. Packages at the root or in a package
    folder (``src/`` and the like, or ``folders`` from the project's build configuration);
    test folders and tooling scripts are not import names a user's traceback runs through."""
    files = set(files)
    bases = ["", *PACKAGE_FOLDERS, *(f.strip("/") for f in folders)]
    names: dict[str, str] = {}
    for base in bases:
        prefix = base + "/" if base else ""
        for f in sorted(files):
            if not f.startswith(prefix):
                continue
            rest = f[len(prefix):].split("/")
            name = rest[0]
            if len(rest) == 2 and rest[1] == "__init__.py" and name.isidentifier() \
                    and name not in ("tests", "test", "testing", "docs", "examples", "benchmarks", "scripts"):
                names.setdefault(name, prefix + name)
            elif len(rest) == 1 and name.endswith(".py") and name not in _NOT_MODULES \
                    and not is_test_path(name) and name[:-3].isidentifier():
                names.setdefault(name[:-3], prefix + name)
    return names


class ProjectIndex:
    """The project's Python files, for mapping foreign paths back onto it: a CI runner's
    checkout (``/home/runner/work/…``), another OS's paths, and an installed copy of the project
    (``…/site-packages/tablekit/table.py``) by the project's import names."""

    def __init__(self, root: Path | None, files: Iterable[str] = (), folders: Iterable[str] = ()) -> None:
        self.root = root
        self.files: set[str] = set(files)
        if root is not None and not self.files:
            self.files = set(python_files(root))
        self._by_name: dict[str, list[str]] = {}
        for f in self.files:
            self._by_name.setdefault(f.rsplit("/", 1)[-1], []).append(f)
        self.packages = import_names(self.files, folders)

    def importable_folders(self) -> list[str]:
        """Folders to put on sys.path so the project imports as if installed (``src``)."""
        return sorted({p.rsplit("/", 1)[0] for p in self.packages.values() if "/" in p})

    def locate(self, raw: str) -> str | None:
        """Project-relative path for a path as written in a log, or None if not in the project."""
        if not raw or raw.startswith("<") or not raw.endswith((".py", ".pyw")):
            return None
        path = raw.replace("\\", "/")
        path = re.sub(r"^[A-Za-z]:/", "/", path)
        parts = [p for p in path.split("/") if p not in ("", ".")]
        if ".." in parts:
            return None
        installed = [k for k, p in enumerate(parts) if _INSTALLED.match(p)]
        if installed:
            return self._installed(parts[installed[-1] + 1:])
        if re.search(r"/lib/python3\.\d+/", path) or re.search(r"/Lib/(?!site-packages)", path):
            return None  # the standard library
        for k in range(len(parts)):
            suffix = "/".join(parts[k:])
            if suffix in self.files:
                return suffix
        if not path.startswith("/") and len(parts) == 1:
            same = self._by_name.get(parts[0], [])
            if len(same) == 1:
                return same[0]
        return None

    def module_node(self, name: str) -> str | None:
        """A dotted unittest name (``tests.test_calc.TestCalc.test_clamp``) or a file path as a
        pytest node id (``tests/test_calc.py::TestCalc::test_clamp``): the longest module prefix
        that is a file of the project, the rest as the class and test."""
        if name.endswith((".py", ".pyw")) or "/" in name:
            path = name.removeprefix("./")
            return path if path in self.files else self.locate(path)
        parts = name.split(".")
        for k in range(len(parts), 0, -1):
            module = "/".join(parts[:k])
            for candidate in (f"{module}.py", f"{module}/__init__.py"):
                hits = [f for f in self.files if f == candidate or f.endswith("/" + candidate)]
                if candidate in hits:
                    hits = [candidate]
                if len(hits) == 1:  # a Django app's tests may sit under the project's folder
                    return "::".join([hits[0], *parts[k:]])
        return None

    def _installed(self, parts: list[str]) -> str | None:
        """``tablekit/table.py`` inside an installed copy -> the repository's own file, when
        ``tablekit`` is one of the project's import names. Other packages stay unmapped."""
        while parts and _INSTALLED.match(parts[0]):
            parts = parts[1:]
        if not parts:
            return None
        head = parts[0][:-3] if len(parts) == 1 and parts[0].endswith(".py") else parts[0]
        where = self.packages.get(head)
        if where is None:
            return None
        rel = where if len(parts) == 1 else "/".join([where, *parts[1:]])
        return rel if rel in self.files else None


def package_folders(pyproject: str) -> list[str]:
    """Folders a ``pyproject.toml`` says hold the packages (beyond the conventional ``src/``):
    setuptools' ``package-dir`` and ``packages.find.where``, Poetry's ``packages[].from``,
    Hatch's wheel ``packages``. Read as data; nothing of the project runs."""
    try:
        tool = tomllib.loads(pyproject).get("tool", {})
    except tomllib.TOMLDecodeError:
        return []
    found: list[str] = []
    setuptools = tool.get("setuptools", {})
    root = setuptools.get("package-dir", {}).get("") if isinstance(setuptools.get("package-dir"), dict) else None
    if isinstance(root, str):
        found.append(root)
    find = setuptools.get("packages", {})
    if isinstance(find, dict) and isinstance(find.get("find", {}).get("where"), list):
        found += [w for w in find["find"]["where"] if isinstance(w, str)]
    for entry in tool.get("poetry", {}).get("packages", []) or []:
        if isinstance(entry, dict) and isinstance(entry.get("from"), str):
            found.append(entry["from"])
    wheel = tool.get("hatch", {}).get("build", {}).get("targets", {}).get("wheel", {})
    for path in wheel.get("packages", []) if isinstance(wheel, dict) else []:
        if isinstance(path, str) and "/" in path.strip("/"):
            found.append(path.strip("/").rsplit("/", 1)[0])
    return [f.strip("/") for f in found if f.strip("/") not in ("", ".")]
