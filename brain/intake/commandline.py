"""Test-runner command lines as people type them and CI logs print them, turned into what the
sandbox runs: pytest's (any option, with or without values) and unittest's (``python -m
unittest …``, ``discover``), which pytest runs too (it collects unittest TestCases), so every
reproduction reports per-test outcomes for the regression baseline.

What cannot run in the sandbox is dropped with a line saying so: options of plugins the sandbox
does not have (pytest-xdist, pytest-cov, …), in the command and in the project's ``addopts``.
Pure: argv and the project's file list in; nothing is executed.
"""

from __future__ import annotations

import configparser
import fnmatch
import re
import shlex
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field

from brain.intake.project_index import ProjectIndex

PYTEST_PREFIXES = (["pytest"], ["py.test"], ["python", "-m", "pytest"], ["python3", "-m", "pytest"],
                   ["python", "-m", "py.test"])
UNITTEST_PREFIXES = (["python", "-m", "unittest"], ["python3", "-m", "unittest"])

# pytest's own options that take a value (pytest 8): the next word is that value, not a test.
_VALUE_OPTIONS = frozenset({
    "-k", "-m", "-p", "-o", "-c", "-r", "-W", "--maxfail", "--tb", "--rootdir", "--deselect", "--ignore",
    "--ignore-glob", "--confcutdir", "--basetemp", "--durations", "--durations-min", "--junitxml", "--junit-xml",
    "--junit-prefix", "--log-level", "--log-format", "--log-date-format", "--log-cli-level", "--log-cli-format",
    "--log-cli-date-format", "--log-file", "--log-file-mode", "--log-file-level", "--log-file-format",
    "--log-file-date-format", "--log-auto-indent", "--log-disable", "--import-mode", "--capture", "--show-capture",
    "--override-ini", "--doctest-glob", "--doctest-report", "--color", "--code-highlight", "--pastebin", "--assert",
    "--verbosity", "--config-file", "--inifile", "--report-log", "--xfail-tb", "--strict-config",
})
# Options of plugins the sandbox does not have: (option -> (plugin, takes a value)).
_PLUGIN_OPTIONS: dict[str, tuple[str, bool]] = {
    "-n": ("pytest-xdist", True), "--numprocesses": ("pytest-xdist", True), "--dist": ("pytest-xdist", True),
    "--maxprocesses": ("pytest-xdist", True), "--max-worker-restart": ("pytest-xdist", True),
    "--looponfail": ("pytest-xdist", False), "-f": ("pytest-xdist", False), "--tx": ("pytest-xdist", True),
    "--cov": ("pytest-cov", False), "--cov-report": ("pytest-cov", True), "--cov-config": ("pytest-cov", True),
    "--cov-fail-under": ("pytest-cov", True), "--cov-append": ("pytest-cov", False),
    "--cov-branch": ("pytest-cov", False), "--no-cov": ("pytest-cov", False), "--cov-context": ("pytest-cov", True),
    "--no-cov-on-fail": ("pytest-cov", False),
    "--timeout": ("pytest-timeout", True), "--timeout-method": ("pytest-timeout", True),
    "--reruns": ("pytest-rerunfailures", True), "--reruns-delay": ("pytest-rerunfailures", True),
    "--only-rerun": ("pytest-rerunfailures", True),
    "--randomly-seed": ("pytest-randomly", True), "--randomly-dont-reorganize": ("pytest-randomly", False),
    "--random-order": ("pytest-random-order", False), "--random-order-bucket": ("pytest-random-order", True),
    "--random-order-seed": ("pytest-random-order", True),
    "--html": ("pytest-html", True), "--self-contained-html": ("pytest-html", False),
    "--benchmark-skip": ("pytest-benchmark", False), "--benchmark-disable": ("pytest-benchmark", False),
    "--benchmark-only": ("pytest-benchmark", False), "--benchmark-autosave": ("pytest-benchmark", False),
    "--asyncio-mode": ("pytest-asyncio", True), "--ds": ("pytest-django", True), "--dc": ("pytest-django", True),
    "--reuse-db": ("pytest-django", False), "--create-db": ("pytest-django", False),
    "--nomigrations": ("pytest-django", False), "--no-migrations": ("pytest-django", False),
    "--forked": ("pytest-forked", False), "--count": ("pytest-repeat", True),
    "--mypy": ("pytest-mypy", False), "--flake8": ("pytest-flake8", False), "--black": ("pytest-black", False),
    "--snapshot-update": ("syrupy", False), "--hypothesis-show-statistics": ("hypothesis", False),
    "--hypothesis-profile": ("hypothesis", True), "--hypothesis-seed": ("hypothesis", True),
    "--mpl": ("pytest-mpl", False), "--doctest-plus": ("pytest-doctestplus", False),
    "--emoji": ("pytest-emoji", False), "--sugar": ("pytest-sugar", False), "--instafail": ("pytest-instafail", False),
}
# Options that change where pytest writes or how the harness reads it: PVE sets its own.
_HARNESS_OWNS = frozenset({"--rootdir", "--color", "--junitxml", "--junit-xml", "--basetemp", "--pastebin",
                           "--report-log", "--resultlog", "--debug", "--pdb", "--trace", "--pdbcls", "-l",
                           "--showlocals", "--setup-plan", "--setup-only", "--collect-only", "--co", "--lf",
                           "--last-failed", "--ff", "--failed-first", "--nf", "--new-first", "--sw", "--stepwise",
                           "--cache-clear", "--cache-show"})
_PLUGIN_MODULES = {"xdist": "pytest-xdist", "pytest_cov": "pytest-cov", "cov": "pytest-cov",
                   "randomly": "pytest-randomly", "timeout": "pytest-timeout", "rerunfailures": "pytest-rerunfailures",
                   "django": "pytest-django", "asyncio": "pytest-asyncio", "pytest_asyncio": "pytest-asyncio",
                   "mock": "pytest-mock", "pytest_mock": "pytest-mock", "benchmark": "pytest-benchmark"}


class CommandError(ValueError):
    """The command cannot be run as written; the message says why, in words for a user."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class PytestCommand:
    """A pytest invocation, mapped onto the project."""

    targets: list[str] = field(default_factory=list)  # project files, folders, node ids ("" none given)
    options: list[str] = field(default_factory=list)  # what the sandbox passes on, in order
    missing: list[str] = field(default_factory=list)  # targets not in the project
    notes: list[str] = field(default_factory=list)  # what was dropped, and why


def split(text: str) -> list[str]:
    try:
        argv = shlex.split(text)
    except ValueError as exc:
        raise CommandError(str(exc), code="unparsable-command") from None
    while argv and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", argv[0]):  # FOO=1 pytest …
        argv = argv[1:]
    if not argv:
        raise CommandError("the command is empty", code="empty-command")
    return _rejoin_parameters(argv)


def _rejoin_parameters(argv: list[str]) -> list[str]:
    """A node id as pytest prints it, parameters with spaces unquoted
    (``test_x[a BETWEEN .03 AND .06]``), is one word, not five."""
    out: list[str] = []
    for word in argv:
        if out and "::" in out[-1] and out[-1].count("[") > out[-1].count("]"):
            out[-1] += " " + word
        else:
            out.append(word)
    return out


def strip_prefix(argv: list[str], prefixes: tuple[list[str], ...]) -> list[str] | None:
    """The arguments after a runner's prefix (``python3.12 -m pytest`` counts), or None."""
    words = list(argv)
    if words and re.fullmatch(r"(?:.*/)?python(?:3(?:\.\d+)?)?(?:\.exe)?", words[0]):
        words[0] = "python"
    elif words and re.fullmatch(r"(?:.*/)?(?:pytest|py\.test)(?:\.exe)?", words[0]):
        words[0] = "pytest"
    for prefix in prefixes:
        if words[: len(prefix)] == prefix:
            return words[len(prefix):]
    return None


def parse_pytest(args: list[str], index: ProjectIndex) -> PytestCommand:
    """pytest's arguments (after ``pytest``): which are targets, which options, what to drop."""
    out = PytestCommand()
    i = 0
    while i < len(args):
        word = args[i]
        i += 1
        if word == "--":
            for rest in args[i:]:
                _target(rest, index, out)
            break
        if not word.startswith("-") or word == "-":
            _target(word, index, out)
            continue
        name, eq, value = word.partition("=") if word.startswith("--") else (word, "", "")
        if not word.startswith("--") and len(word) > 2 and word[:2] in _VALUE_OPTIONS | {"-n"}:
            name, value, eq = word[:2], word[2:], "="  # -kexpr, -n4, -pno:cacheprovider
        takes = name in _VALUE_OPTIONS or _PLUGIN_OPTIONS.get(name, ("", False))[1]
        if takes and not eq:
            if i >= len(args):
                raise CommandError(f"pytest option {name} needs a value", code="option-needs-value")
            value = args[i]
            i += 1
        elif not eq and name not in _VALUE_OPTIONS and name not in _PLUGIN_OPTIONS and name.startswith("--") \
                and i < len(args) and not args[i].startswith("-") and not _is_target(args[i], index):
            # An option PVE does not know (a conftest's own, say) followed by a word that is no
            # test: that word is its value.
            value, eq = args[i], "="
            i += 1
        _option(name, value if (takes or eq) else None, index, out, written=word if eq else None)
    return out


def _option(name: str, value: str | None, index: ProjectIndex, out: PytestCommand, written: str | None = None) -> None:
    shown = written or (name if value is None else f"{name} {value}")
    if name in _PLUGIN_OPTIONS:
        out.notes.append(f"dropped {shown}: {_PLUGIN_OPTIONS[name][0]} is not installed in the sandbox")
        return
    if name == "-p" and value is not None:
        module = value.removeprefix("no:")
        if not value.startswith("no:") and not _project_module(module, index):
            plugin = _PLUGIN_MODULES.get(module, f"the plugin {module}")
            out.notes.append(f"dropped -p {value}: {plugin} is not installed in the sandbox")
            return
    if name in _HARNESS_OWNS:
        out.notes.append(f"dropped {shown}: the sandbox sets its own")
        return
    if name in ("--ignore", "--deselect", "--ignore-glob", "--confcutdir", "-c", "--config-file", "--inifile") \
            and value is not None and value.startswith("/"):
        path, sep, rest = value.partition("::")
        rel = index.locate(path) if path.endswith(".py") else _folder(path, index)
        if rel is None:
            out.notes.append(f"dropped {shown}: not a path in the project")
            return
        value = rel + sep + rest
        written = None  # rewritten: pass the mapped value on
    if written and value is not None and written.endswith(value):
        out.options.append(written)  # as written: -ra, --tb=short
    else:
        out.options += [name] if value is None else [name, value]


def _project_module(module: str, index: ProjectIndex) -> bool:
    base = module.replace(".", "/")
    return f"{base}.py" in index.files or f"{base}/__init__.py" in index.files


def _is_target(word: str, index: ProjectIndex) -> bool:
    path = word.split("::", 1)[0]
    return bool(_file(path, index) or _folder(path, index))


def _target(word: str, index: ProjectIndex, out: PytestCommand) -> None:
    path, sep, rest = word.partition("::")
    rel = _file(path, index) if path.endswith((".py", ".pyw")) else _folder(path, index)
    if rel is None:
        out.missing.append(word)
        return
    out.targets.append(rel + sep + rest if rel else "")


def _file(path: str, index: ProjectIndex) -> str | None:
    path = path.removeprefix("./")
    if path in index.files:
        return path
    return index.locate(path) if path.endswith((".py", ".pyw")) else None


def _folder(path: str, index: ProjectIndex) -> str | None:
    """A folder of the project ("" for its root), as written on this machine or a CI runner."""
    clean = path.replace("\\", "/").strip("/")
    clean = clean[2:] if clean.startswith("./") else clean
    if clean in ("", "."):
        return ""
    parts = [p for p in clean.split("/") if p not in ("", ".")]
    if ".." in parts:
        return None
    for k in range(len(parts)):  # /home/runner/work/repo/repo/tests -> tests
        folder = "/".join(parts[k:])
        if any(f.startswith(folder + "/") for f in index.files):
            return folder
    return None


# --------------------------------------------------------------------------- unittest


def parse_unittest(args: list[str], index: ProjectIndex) -> PytestCommand:
    """``python -m unittest`` arguments as a pytest invocation: names (``pkg.test_mod``,
    ``pkg.test_mod.Class.test``, ``tests/test_x.py``) become node ids; ``discover`` its folder
    and pattern. unittest's verbosity and buffering options mean nothing to the verdict."""
    out = PytestCommand(notes=["unittest's tests run under pytest in the sandbox (it runs unittest TestCases "
                               "and reports each test's outcome)"])
    words = list(args)
    if words[:1] == ["discover"] or not [w for w in words if not w.startswith("-")]:
        words = words[1:] if words[:1] == ["discover"] else words
        start, pattern, top = ".", "test*.py", None
        positional: list[str] = []
        i = 0
        while i < len(words):
            w = words[i]
            i += 1
            if w in ("-s", "--start-directory", "-p", "--pattern", "-t", "--top-level-directory") and i < len(words):
                value = words[i]
                i += 1
                if w in ("-s", "--start-directory"):
                    start = value
                elif w in ("-p", "--pattern"):
                    pattern = value
                else:
                    top = value
            elif w in ("-k",) and i < len(words):
                out.options += ["-k", words[i]]
                i += 1
            elif not w.startswith("-"):
                positional.append(w)
        # discover's positional form: [start [pattern [top]]]
        start = positional[0] if positional else start
        pattern = positional[1] if len(positional) > 1 else pattern
        del top  # pytest finds the top by its rootdir rules: the project root here
        folder = _folder(start, index)
        if folder is None:
            out.missing.append(start)
        else:
            out.targets.append(folder)
        out.options += ["-o", f"python_files={pattern}"]
        return out
    i = 0
    while i < len(words):
        w = words[i]
        i += 1
        if w == "-k" and i < len(words):
            out.options += ["-k", words[i]]
            i += 1
        elif w.startswith("-"):
            continue  # -v, -q, -b, -c, -f, --locals, --durations N is pytest's too but harmless to drop
        else:
            node = index.module_node(w)
            if node is None:
                out.missing.append(w)
            else:
                out.targets.append(node)
    return out


# --------------------------------------------------------------------------- the project's addopts


def addopts_override(read: Callable[[str], str], files: set[str], index: ProjectIndex) -> tuple[list[str], list[str]]:
    """When the project's pytest ``addopts`` name plugins the sandbox lacks, pytest would stop
    with a usage error before any test: pass ``-o addopts=<the rest>`` instead. Returns the
    options to add to every pytest run, and what was dropped."""
    raw = ini_value(read, files, "addopts")
    if raw is None:
        return [], []
    try:
        words = shlex.split(raw)
    except ValueError:
        return [], []
    parsed = parse_pytest(words, index)
    if not parsed.notes:
        return [], []
    kept = shlex.join(parsed.options + [t for t in parsed.targets if t])
    return ["-o", f"addopts={kept}"], [n.replace("dropped ", "dropped from the project's addopts: ", 1)
                                        for n in parsed.notes]


def ini_value(read: Callable[[str], str], files: set[str], key: str) -> str | None:
    """A pytest ini setting as pytest finds it: pytest.ini, pyproject.toml, tox.ini, setup.cfg
    (at the root; the first file that has a pytest section wins, as in pytest)."""
    for name in ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg"):
        if name not in files:
            continue
        try:
            text = read(name)
        except (FileNotFoundError, OSError):
            continue
        if name == "pyproject.toml":
            try:
                section = tomllib.loads(text).get("tool", {}).get("pytest", {}).get("ini_options")
            except tomllib.TOMLDecodeError:
                continue
            if section is None:
                continue
            value = section.get(key)
            return " ".join(value) if isinstance(value, list) else (value if isinstance(value, str) else None)
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read_string(text)
        except configparser.Error:
            continue
        header = {"setup.cfg": "tool:pytest"}.get(name, "pytest")
        if name in ("pytest.ini", ".pytest.ini") or parser.has_section(header):
            return parser.get(header, key, fallback=None) if parser.has_section(header) else None
    return None


def collect_too(read: Callable[[str], str], files: set[str], test_files: list[str]) -> list[str]:
    """``-o python_files=…`` when the reproduction's test files are not names pytest collects by
    itself (``test.py``, ``tests.py``, ``check_x.py``): the regression suite runs them too."""
    patterns = (ini_value(read, files, "python_files") or "test_*.py *_test.py").split()
    missing = sorted({f.rsplit("/", 1)[-1] for f in test_files
                      if not any(fnmatch.fnmatch(f.rsplit("/", 1)[-1], p) or fnmatch.fnmatch(f, p) for p in patterns)})
    return ["-o", "python_files=" + " ".join([*patterns, *missing])] if missing else []
