"""What a project declares it needs, read without running any of its code: the install plan.

In the order worth trying (../shared/ENVIRONMENTS.md): ``uv.lock``; ``pylock.toml``;
``poetry.lock`` / ``pdm.lock`` / ``Pipfile.lock`` (exact pins); ``requirements*.txt`` and
``requirements/`` (``-r``/``-c`` followed, for the key); a PEP 621 / Poetry / ``setup.cfg`` /
``setup.py`` project (the project itself editable, with its test-ish extras and dependency
groups). pytest is always added. A repository's ``.github/pve.yml`` ``install`` section replaces
the detection. A project that declares nothing to install needs no environment: it runs with the
standard library and PVE's pytest, as before.
"""

from __future__ import annotations

import configparser
import json
import re
import tomllib
from collections.abc import Callable, Iterable

from pve.models import InstallPlan

TESTISH = ("test", "tests", "testing", "dev", "develop", "ci")
# requirements.txt, requirements-dev.txt, requirements_test.txt, dev-requirements.txt, test.requirements.txt
_REQ_NAME = re.compile(r"^(?:requirements(?:[-_.][\w.-]+)?|[\w.-]+[-_.]requirements)\.(?:txt|in)$", re.I)
_NOT_FOR_TESTS = re.compile(r"doc|lint|release|deploy|mypy|typing|publish", re.I)
_INCLUDE = re.compile(r"^\s*(?:-r|--requirement|-c|--constraint)\s*=?\s*(\S+)", re.M)

Reader = Callable[[str], str]


def plan_install(files: Iterable[str], read: Reader, *, config: dict[str, object] | None = None) -> InstallPlan:
    """The install plan for a project whose (top-level and requirements/) files are ``files``.
    ``config``: the ``install`` section of ``.github/pve.yml``, when the repository gives one.
    The test dependencies ``tox.ini`` names (its ``[testenv]`` ``deps``) are installed too: a
    suite that imports them cannot be an oracle without them."""
    names = set(files)
    requires_python = _requires_python(names, read)
    if config:
        return _configured(config, names, read, requires_python)
    plan = _declared_plan(names, read, requires_python)
    _override_own(plan, _project(names, read))
    deps = _tox_deps(names, read)
    if deps:
        if plan.kind == "none":
            plan = InstallPlan(kind="tox.ini", packages=["pytest"], requires_python=requires_python)
        plan.packages = [*plan.packages, *(d for d in deps if d not in plan.packages)]
        plan.files = sorted({*plan.files, "tox.ini"})
    return plan


def declares(package: str, files: Iterable[str], read: Reader) -> bool:
    """Does the project require ``package`` anywhere (its metadata, a requirements file, tox's
    deps, a Pipfile)? Read as text: a requirement line or a quoted requirement string."""
    names = set(files)
    texts = [_safe(read, n) for n in ("pyproject.toml", "setup.cfg", "setup.py", "tox.ini", "Pipfile") if n in names]
    texts += [_safe(read, n) for n in _with_includes(_requirement_files(names), read, names)]
    word = re.escape(package)
    pattern = re.compile(rf"(?mi)^\s*{word}(?![\w.-])|['\"]{word}(?:\[[^\]]*\])?\s*(?:[<>=~!;'\"]|$)")
    return any(pattern.search(t) for t in texts)


def _override_own(plan: InstallPlan, project: _Project) -> None:
    """The project's own source wins over any dependency's pin of its releases (see
    ``InstallPlan.overrides``)."""
    if plan.editable and project.name:
        plan.overrides = [project.name]


def fallback_plans(plan: InstallPlan, files: Iterable[str], read: Reader, reason: str = "") -> list[tuple[InstallPlan, str]]:
    """What to build, in order, when ``plan`` does not build (a 2018 lock whose pins no longer
    build on today's interpreter, a requirement that conflicts with the project itself, a build
    backend that needs a git checkout): the project's own metadata without the lock, then its
    requirements unpinned with the project imported from its source. Each with a line saying
    what was given up. ``reason``: the installer's words; when the project's own build failed
    (its build backend, not a requirement), building it again from its metadata cannot help."""
    names = set(files)
    project = _project(names, read)
    out: list[tuple[InstallPlan, str]] = []
    own_build = bool(re.search(r"file:///work/src|build_editable|prepare_metadata_for_build", reason))
    if plan.kind not in ("project", "unpinned", "pve.yml", "none") and project.installable and not own_build:
        own = InstallPlan(kind="project", files=_declared(names, []), editable=True, extras=project.extras,
                          groups=project.groups, packages=["pytest", *project.poetry_requirements],
                          requires_python=plan.requires_python)
        _override_own(own, project)
        out.append((own, f"built from the project's own metadata instead of {plan.kind} (its pins or "
                         "requirements did not install)"))
    listed = [line.split("#", 1)[0].strip() for req in plan.requirements
              for line in _safe(read, req).splitlines()]  # (-r includes are files of their own there)
    loose = sorted({_name(r) for r in [*plan.packages, *project.dependencies, *project.poetry_requirements, *listed]
                    if _name(r)} - {""})
    unpinned = InstallPlan(kind="unpinned", files=sorted({*plan.files, *_declared(names, [])}),
                           packages=list(dict.fromkeys(["pytest", *loose])), requires_python=plan.requires_python)
    if plan.kind != "unpinned":
        out.append((unpinned, "the project's requirements installed unpinned, without building the project "
                              "(it is imported from its source)"))
    return out


def _name(requirement: str) -> str:
    """The distribution name of a requirement string (``black>=20.8b1; python_version<'3.12'``)."""
    m = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?", requirement)
    if not m or requirement.strip().startswith(("-", ".", "/")) or "://" in requirement:
        return ""
    marker = requirement.split(";", 1)[1] if ";" in requirement else ""
    if re.search(r"python_version\s*<\s*['\"]3\.(?:[0-9])['\"]|python_version\s*<\s*['\"]3['\"]", marker):
        return ""  # only for old Pythons
    return m.group(1) + (m.group(2) or "")


def _tox_deps(names: set[str], read: Reader) -> list[str]:
    """``deps`` of tox's ``[testenv]`` (requirement strings; ``-r`` files and ``{...}``
    substitutions are left out: requirement files are read on their own)."""
    if "tox.ini" not in names:
        return []
    cfg = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        cfg.read_string(_safe(read, "tox.ini"))
    except configparser.Error:
        return []
    if not cfg.has_option("testenv", "deps"):
        return []
    # Factor-conditional lines (``unit: pytest``, ``py27,py35: mock``): a dependency counts when
    # one of its factors is one whose commands run pytest (``unit: pytest tests``); with no such
    # conditional command, when its factors are not Python versions (pyparsing's tox.ini gave
    # ``unit: pytest`` as a requirement, which uv read as a path).
    pytest_factors: set[str] = set()
    for line in (cfg.get("testenv", "commands") if cfg.has_option("testenv", "commands") else "").splitlines():
        m = _FACTORED.match(line.strip())
        if m and re.search(r"\b(py\.?test)\b", m.group(2)):
            pytest_factors |= set(m.group(1).split(","))
    out = []
    for line in cfg.get("testenv", "deps").splitlines():
        line = line.split("#", 1)[0].strip()
        m = _FACTORED.match(line)
        if m:
            factors = set(m.group(1).split(","))
            wanted = factors & pytest_factors if pytest_factors else \
                {f for f in factors if not f.startswith("!") and not _PY_FACTOR.fullmatch(f)}
            if not wanted:
                continue
            line = m.group(2).strip()
        if line and not line.startswith(("-", "{", ".")) and "{" not in line:
            out.append(line)
    return out


_FACTORED = re.compile(r"^([!\w.-]+(?:,[!\w.-]+)*):\s+(.*)$")  # tox's "factor1,factor2: value"
_PY_FACTOR = re.compile(r"py\d*|pypy\d*|py3\d+t?")


def _declared_plan(names: set[str], read: Reader, requires_python: str | None) -> InstallPlan:
    project = _project(names, read)
    for lock, kind in (("uv.lock", "uv.lock"), ("pylock.toml", "pylock.toml")):
        if lock in names:
            return InstallPlan(kind=kind, files=_declared(names, [lock]), packages=["pytest"], editable=project.exists,
                               requires_python=requires_python, groups=project.groups, extras=project.extras)
    for lock, kind, pins in (("poetry.lock", "poetry.lock", _toml_pins), ("pdm.lock", "pdm.lock", _toml_pins),
                             ("Pipfile.lock", "Pipfile.lock", _pipfile_pins)):
        if lock in names:
            constraints = pins(_safe(read, lock))
            plan = InstallPlan(kind=kind, files=_declared(names, [lock]), constraints=constraints,
                               packages=["pytest"], requires_python=requires_python)
            if kind == "Pipfile.lock" or not project.exists:
                # Pipfile projects are rarely packages: the pins are the requirements.
                plan.packages = [*constraints, "pytest"]
                plan.constraints = []
            else:
                plan.editable, plan.extras, plan.groups = True, project.extras, project.groups
                plan.packages += project.poetry_requirements
            return plan
    requirements = _requirement_files(names)
    if requirements:
        return InstallPlan(kind="requirements", files=_declared(names, _with_includes(requirements, read, names)),
                           requirements=requirements, packages=["pytest"], editable=project.installable,
                           extras=project.extras, groups=project.groups, requires_python=requires_python)
    if project.installable:
        return InstallPlan(kind="project", files=_declared(names, []), editable=True, extras=project.extras,
                           groups=project.groups, packages=["pytest", *project.poetry_requirements],
                           requires_python=requires_python)
    return InstallPlan(kind="none", requires_python=requires_python)


def _declared(names: set[str], extra: list[str]) -> list[str]:
    """The declaration files whose content keys the environment."""
    base = [n for n in ("pyproject.toml", "setup.cfg", "setup.py") if n in names]
    return sorted(set(base) | set(extra))


def _safe(read: Reader, name: str) -> str:
    try:
        return read(name)
    except (FileNotFoundError, OSError):
        return ""


# --------------------------------------------------------------------------- the project itself


class _Project:
    exists = False  # pyproject.toml / setup.py / setup.cfg that builds the project
    installable = False  # ... and it declares something to install
    extras: list[str]
    groups: list[str]
    poetry_requirements: list[str]
    dependencies: list[str]  # what the project needs at run time, as declared
    name = ""  # its distribution name, where declared

    def __init__(self) -> None:
        self.extras, self.groups, self.poetry_requirements, self.dependencies = [], [], [], []


def _project(names: set[str], read: Reader) -> _Project:
    p = _Project()
    if "pyproject.toml" in names:
        try:
            data = tomllib.loads(_safe(read, "pyproject.toml"))
        except tomllib.TOMLDecodeError:
            data = {}
        project = data.get("project", {}) if isinstance(data.get("project"), dict) else {}
        poetry = data.get("tool", {}).get("poetry", {}) if isinstance(data.get("tool"), dict) else {}
        build = data.get("build-system", {})
        p.exists = bool(project or poetry or build)
        deps = project.get("dependencies") or []
        optional = project.get("optional-dependencies") or {}
        groups = data.get("dependency-groups") or {}
        p.extras = sorted(e for e in optional if _testish(e))
        p.groups = sorted(g for g in groups if _testish(g))
        named = project.get("name") or poetry.get("name")
        p.name = named if isinstance(named, str) else ""
        p.dependencies = [d for d in deps if isinstance(d, str)]
        p.dependencies += [d for e in p.extras for d in (optional.get(e) or []) if isinstance(d, str)]
        p.dependencies += [d for g in p.groups for d in (groups.get(g) or []) if isinstance(d, str)]
        if poetry:
            p.poetry_requirements = _poetry_requirements(poetry)
            p.dependencies += [n for n in (poetry.get("dependencies") or {}) if n.lower() != "python"]
        p.installable = bool(deps or p.extras or p.groups or p.poetry_requirements
                             or (poetry.get("dependencies") or {}).keys() - {"python"})
    if "setup.cfg" in names:
        cfg = configparser.ConfigParser(interpolation=None)
        try:
            cfg.read_string(_safe(read, "setup.cfg"))
        except configparser.Error:
            cfg = configparser.ConfigParser()
        if cfg.has_section("options") or cfg.has_section("metadata"):
            p.exists = True
            p.name = p.name or cfg.get("metadata", "name", fallback="").strip()
            if cfg.get("options", "install_requires", fallback="").strip():
                p.installable = True
                p.dependencies += [x.strip() for x in cfg.get("options", "install_requires").splitlines() if x.strip()]
            if cfg.has_section("options.extras_require"):
                p.extras = sorted(set(p.extras) | {e for e in cfg["options.extras_require"] if _testish(e)})
    if "setup.py" in names:
        p.exists = True
        text = _safe(read, "setup.py")
        literal = re.search(r"\bname\s*=\s*['\"]([A-Za-z0-9][\w.-]*)['\"]", text)
        p.name = p.name or (literal.group(1) if literal else "")
        if re.search(r"install_requires\s*=\s*\[\s*['\"]", text):
            p.installable = True
            listed = re.search(r"install_requires\s*=\s*\[(.*?)\]", text, re.S)
            p.dependencies += re.findall(r"['\"]([^'\"]+)['\"]", listed.group(1)) if listed else []
        block = re.search(r"extras_require\s*=\s*\{(.*?)\}", text, re.S)
        if block:
            p.extras = sorted(set(p.extras) | {e for e in re.findall(r"['\"]([\w.-]+)['\"]\s*:", block.group(1))
                                               if _testish(e)})
    p.installable = p.installable or bool(p.extras or p.groups)
    return p


def _testish(name: str) -> bool:
    return name.lower().replace("_", "-") in TESTISH or name.lower().startswith(("test", "dev"))


def _poetry_requirements(poetry: dict[str, object]) -> list[str]:
    """Poetry's dev/test groups (not part of the built package) as requirement strings."""
    out: list[str] = []
    raw_groups = poetry.get("group")
    groups: dict[str, object] = raw_groups if isinstance(raw_groups, dict) else {}
    sections = [poetry.get("dev-dependencies")] + [g.get("dependencies") for name, g in groups.items()
                                                  if isinstance(g, dict) and _testish(name)]
    for section in sections:
        if not isinstance(section, dict):
            continue
        for name, spec in section.items():
            if name.lower() == "python":
                continue
            version = spec.get("version", "*") if isinstance(spec, dict) else spec
            if isinstance(spec, dict) and ("path" in spec or "git" in spec or "url" in spec):
                continue
            out.append(name + _poetry_version(str(version)))
    return out


def _poetry_version(spec: str) -> str:
    """``^1.2`` -> ``>=1.2,<2.0``; ``~1.2`` -> ``>=1.2,<1.3``; ``*`` -> any; PEP 440 as is."""
    spec = spec.strip()
    if spec in ("", "*"):
        return ""
    m = re.fullmatch(r"([\^~])\s*(\d+(?:\.\d+)*)((?:a|b|rc|\.?dev|\.?post)\d*)?", spec)
    if not m:
        return spec if spec[0] in "<>=!~" else f"=={spec}"
    parts = [int(x) for x in m.group(2).split(".")]  # ("^20.08b1": the release 20.8, pre-release allowed)
    if m.group(1) == "^":
        k = next((i for i, x in enumerate(parts) if x), len(parts) - 1)
        upper = parts[: k + 1]
        upper[k] += 1
    else:
        upper = parts[:2] if len(parts) > 1 else parts[:1]
        upper[-1] += 1
    return f">={m.group(2)}{m.group(3) or ''},<{'.'.join(map(str, upper))}"


def _requires_python(names: set[str], read: Reader) -> str | None:
    if "pyproject.toml" in names:
        try:
            data = tomllib.loads(_safe(read, "pyproject.toml"))
        except tomllib.TOMLDecodeError:
            return None
        value = data.get("project", {}).get("requires-python") if isinstance(data.get("project"), dict) else None
        if isinstance(value, str):
            return value
        poetry_python = data.get("tool", {}).get("poetry", {}).get("dependencies", {}).get("python")
        if isinstance(poetry_python, str):
            return ",".join(_poetry_version(p) or "" for p in poetry_python.split(",")).strip(",") or None
    if "setup.cfg" in names:
        cfg = configparser.ConfigParser(interpolation=None)
        try:
            cfg.read_string(_safe(read, "setup.cfg"))
            value = cfg.get("options", "python_requires", fallback=None)
            return value.strip() if value else None
        except configparser.Error:
            return None
    return None


# --------------------------------------------------------------------------- locks and requirement files


def _toml_pins(text: str) -> list[str]:
    """``name==version`` for every package of a poetry.lock / pdm.lock."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return []
    out = []
    for pkg in data.get("package", []) or []:
        if isinstance(pkg, dict) and isinstance(pkg.get("name"), str) and isinstance(pkg.get("version"), str):
            source = pkg.get("source")
            if isinstance(source, dict) and source.get("type") in ("directory", "git", "url", "file"):
                continue
            out.append(f"{pkg['name']}=={pkg['version']}")
    return sorted(set(out))


def _pipfile_pins(text: str) -> list[str]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return []
    out = []
    for section in ("default", "develop"):
        for name, spec in (data.get(section) or {}).items():
            if isinstance(spec, dict) and isinstance(spec.get("version"), str):
                marker = spec.get("markers")
                out.append(f"{name}{spec['version']}" + (f"; {marker}" if isinstance(marker, str) else ""))
    return sorted(set(out))


def _requirement_files(names: set[str]) -> list[str]:
    top = sorted(n for n in names if "/" not in n and _REQ_NAME.match(n) and n.endswith(".txt")
                 and not _NOT_FOR_TESTS.search(n))
    folder = sorted(n for n in names if n.startswith("requirements/") and n.count("/") == 1 and n.endswith(".txt")
                    and not _NOT_FOR_TESTS.search(n.split("/", 1)[1]))
    return top + folder


def _with_includes(files: list[str], read: Reader, names: set[str]) -> list[str]:
    """The requirement files and every file they include (``-r``/``-c``), relative to each other."""
    seen: list[str] = []
    todo = list(files)
    while todo and len(seen) < 100:
        name = todo.pop(0)
        if name in seen or name not in names:
            continue
        seen.append(name)
        base = name.rsplit("/", 1)[0] + "/" if "/" in name else ""
        for ref in _INCLUDE.findall(_safe(read, name)):
            target = _normpath(base + ref)
            if target is not None:
                todo.append(target)
    return seen


def _normpath(path: str) -> str | None:
    out: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not out:
                return None
            out.pop()
        else:
            out.append(part)
    return "/".join(out) or None


# --------------------------------------------------------------------------- .github/pve.yml


def _configured(config: dict[str, object], names: set[str], read: Reader, requires_python: str | None) -> InstallPlan:
    """``install: {files, extras, groups, packages, commands, editable}`` from the repository."""
    def strings(key: str) -> list[str]:
        value = config.get(key) or []
        return [str(v) for v in value] if isinstance(value, list) else [str(value)]

    files = strings("files")
    project = _project(names, read)
    editable = config.get("editable")
    return InstallPlan(kind="pve.yml", files=_declared(names, _with_includes(files, read, names)),
                       requirements=files, extras=strings("extras"), groups=strings("groups"),
                       packages=[*strings("packages"), "pytest"], commands=strings("commands"),
                       editable=bool(project.exists if editable is None else editable),
                       requires_python=requires_python)
