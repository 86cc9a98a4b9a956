"""Build the issue benchmark's case list: ``python benchmarks/issues/build.py build``

Real, closed GitHub issues whose reports carry a traceback, each at the parent of the
maintainers' fix and judged by the tests the fix added or changed. The hand-made part is only
the choice: ``selection.json`` names, per case, the repository, the issue number, the
maintainers' fix commit (found in the repository's history: a message with ``#N`` or a merged
pull request that references the issue) and the packages its tests need. Everything else is
fetched or computed by this script:

* the report (the issue's title and body as its reporter wrote them) from
  ``https://api.github.com/repos/O/R/issues/N`` when that is reachable, else from the committed
  cache ``reports/<owner+name>-<N>.json``: what the search corpus of stored issue threads
  returned for the issue, byte for byte (its ``excerpt``); the body is cut out of the excerpt by
  ``body_of`` below (from the description's header to the next entry of the thread), never
  edited. A body without a traceback does not qualify.
* the parent commit, the source and test files the fix changed (``git diff`` in the mirror);
* the judge tests: the fix's test files are run, in a plain virtualenv (``uv venv`` +
  ``uv pip install``), on the parent's source and on the fix; a test that fails (or errors) on
  the parent and passes on the fix is a judge test (``check``; results kept in ``checks/``).

    python benchmarks/issues/build.py mine OWNER/NAME [--since 2019-01-01]   # candidate fix commits
    python benchmarks/issues/build.py check NAME [--force]                   # judge tests of one case
    python benchmarks/issues/build.py build [--check] [--force]              # cases.json

Repositories are read from git mirrors (``--mirrors``, default ``/work/.mirror``; one
``owner+name/repo`` git directory each, as the search tool's ``fetch`` or ``git clone --mirror``
make them). Nothing here needs PVE: it runs with any Python >= 3.11 and ``uv`` on PATH.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
SELECTION = HERE / "selection.json"
REPORTS = HERE / "reports"
CHECKS = HERE / "checks"
CASES = HERE / "cases.json"
PYTHON = "/usr/bin/python3.11"  # the interpreter PVE's sandbox runs projects with
TEST_TIMEOUT = 600
PYTEST = "pytest>=8.2,<9"  # the range PVE stages into its sandbox (its pyproject.toml)

# A traceback in any of the shapes people paste: CPython's header, a frame line, pytest's
# "E   Error" lines or its "file.py:12: Error" locator, IPython's arrows.
TRACEBACK = re.compile(
    r"Traceback \(most recent call last\)"
    r"|^\s*File \"[^\"]+\", line \d+"
    r"|^E\s+\w+(\.\w+)*(Error|Exception|Warning|Exit|Interrupt)\b"
    r"|^\S+\.py:\d+: \w+(Error|Exception)\b"
    r"|^-+> \d+ "
    r"|^>\s{3,}\S"  # pytest's marker of the failing line
    r"|^(\w+\.)*[A-Z]\w*(Error|Exception): \S",  # a shortened traceback: its exception line
    re.M,
)
NEXT_ENTRY = re.compile(r"\n\n[^\n]{1,80} · (?:comment|review|review thread|description) · \d{4}-\d{2}-\d{2}\n")
DESCRIPTION = re.compile(r"^([^\n]{1,80}) · description · (\d{4}-\d{2}-\d{2})\n", re.M)


# --------------------------------------------------------------------------- git


def mirror(mirrors: Path, repo: str) -> Path:
    path = mirrors / repo.replace("/", "+") / "repo"
    if not path.exists():
        raise SystemExit(f"no mirror of {repo} at {path} (git clone --mirror https://github.com/{repo} {path})")
    return path


def git(gd: Path, *args: str) -> str:
    return subprocess.run(["git", f"--git-dir={gd}", *args], check=True, capture_output=True, text=True).stdout


def is_test(path: str) -> bool:
    parts = path.split("/")
    name = parts[-1]
    return (any(p in ("tests", "test", "testing", "testsuite", "pytest_tests") for p in parts[:-1])
            or name.startswith("test") or name.endswith("_test.py") or name == "conftest.py")


def changed(gd: Path, parent: str, fix: str) -> tuple[list[str], list[str]]:
    """(source files, test files) the fix changed: Python source outside the tests (docs and
    packaging aside), and every file under the tests (data files too: a functional test's
    expected output belongs to the judge)."""
    src, tests = [], []
    for line in git(gd, "diff", "--name-status", "--no-renames", parent, fix).splitlines():
        status, path = line.split("\t", 1)
        if is_test(path) or (not path.endswith(".py") and any(
                p in ("tests", "test", "testing", "testsuite") for p in path.split("/")[:-1])):
            if status != "D":
                tests.append(path)
        elif path.endswith(".py") and not path.startswith(("docs/", "doc/", "benchmarks/")) and \
                path.rsplit("/", 1)[-1] not in ("setup.py", "noxfile.py", "conf.py"):
            src.append(path)
    return src, tests


def test_modules(tests: list[str]) -> list[str]:
    """The fix's test files that pytest runs as modules."""
    return [t for t in tests if t.endswith(".py") and not t.endswith(("conftest.py", "__init__.py"))
            and (Path(t).name.startswith("test") or Path(t).name.endswith("_test.py"))]


def unpack(gd: Path, commit: str, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", f"--git-dir={gd}", "archive", commit], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def overlay(gd: Path, commit: str, paths: list[str], dest: Path) -> None:
    """Write ``paths`` as they are at ``commit`` into ``dest`` (a path the commit lacks is removed)."""
    for path in paths:
        target = dest / path
        try:
            content = subprocess.run(["git", f"--git-dir={gd}", "show", f"{commit}:{path}"], check=True,
                                     capture_output=True).stdout
        except subprocess.CalledProcessError:
            target.unlink(missing_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


# --------------------------------------------------------------------------- reports


def body_of(excerpt: str) -> tuple[str, bool] | None:
    """The reporter's description cut out of a stored thread excerpt, and whether the excerpt
    ends inside it (then it may be truncated). None: the excerpt does not hold the description."""
    m = DESCRIPTION.search(excerpt)
    if m is None:
        return None
    rest = excerpt[m.end():]
    nxt = NEXT_ENTRY.search(rest)
    if nxt is None:
        return rest, True
    return rest[:nxt.start()], False


def from_api(repo: str, number: int) -> dict | None:
    url = f"https://api.github.com/repos/{repo}/issues/{number}"
    headers = {"Accept": "application/vnd.github+json", "User-Agent": "pve-issue-benchmark"}
    if os.environ.get("GITHUB_TOKEN"):
        headers["Authorization"] = f"Bearer {os.environ['GITHUB_TOKEN']}"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as resp:
            data = json.load(resp)
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return {"repo": repo, "number": number, "url": data.get("html_url", ""), "title": data.get("title") or "",
            "body": data.get("body") or "", "state": data.get("state"), "author": (data.get("user") or {}).get("login"),
            "created_at": data.get("created_at"), "source": "api.github.com", "may_be_truncated": False}


def cache_path(repo: str, number: int) -> Path:
    return REPORTS / f"{repo.replace('/', '+')}-{number}.json"


def report(repo: str, number: int, *, offline: bool = False) -> dict:
    """The issue's report: from GitHub's API when reachable (and then cached), else the cache."""
    path = cache_path(repo, number)
    cached = json.loads(path.read_text()) if path.exists() else None
    if not offline and (cached is None or cached.get("source") != "api.github.com"):
        live = from_api(repo, number)
        if live is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(live, indent=1, ensure_ascii=False) + "\n")
            cached = live
    if cached is None:
        raise SystemExit(f"{repo}#{number}: no report (api.github.com unreachable and no {path.name})")
    if cached.get("source") == "api.github.com":
        return cached
    cut = body_of(cached["excerpt"])
    if cut is None:
        raise SystemExit(f"{path.name}: the stored excerpt does not hold the issue's description")
    body, open_ended = cut
    return {"repo": repo, "number": number, "url": cached["url"], "title": cached["title"], "body": body,
            "state": cached.get("state"), "author": DESCRIPTION.search(cached["excerpt"]).group(1),
            "created_at": DESCRIPTION.search(cached["excerpt"]).group(2), "source": cached["source"],
            "may_be_truncated": open_ended}


def traceback_shape(body: str) -> str | None:
    """How the traceback in a report looks; None when there is none."""
    if not TRACEBACK.search(body):
        return None
    if re.search(r"^-+> \d+ ", body, re.M):
        return "ipython"
    if "Traceback (most recent call last)" in body:
        if re.search(r"^\s*>>> ", body, re.M):
            return "repl"
        if re.search(r"^\s*File \"[^\"]+\", line \d+", body, re.M):
            return "plain"
        return "shortened"
    if re.search(r"^E\s+\w", body, re.M) or re.search(r"^>\s{3,}\S", body, re.M) or re.search(r"^\S+\.py:\d+: \w+(Error|Exception)\b", body, re.M):
        return "pytest"
    if re.search(r"^\s*File \"[^\"]+\", line \d+", body, re.M):
        return "frames only"
    return "shortened"


def complete(body: str) -> bool:
    """A traceback that ends in its exception line (Name: message or a bare Name)."""
    return bool(re.search(r"^\s*(E\s+)?([A-Za-z_][\w.]*)(Error|Exception|Exit|Interrupt|Warning|Iteration)\b[^\n]*$",
                          body, re.M))


# --------------------------------------------------------------------------- judge tests

PLUGIN = '''
import json, os
_OUT = {}
def pytest_runtest_logreport(report):
    prev = _OUT.get(report.nodeid)
    if report.when == "call":
        outcome = report.outcome if not hasattr(report, "wasxfail") else ("xfailed" if report.skipped else "xpassed")
    elif report.failed:
        outcome = "error"
    elif report.skipped:
        outcome = "skipped"
    else:
        return
    if prev in ("error", "failed") and outcome == "passed":
        return
    _OUT[report.nodeid] = outcome
def pytest_collectreport(report):
    if report.failed:
        _OUT[report.nodeid or "<collection>"] = "error"
def pytest_sessionfinish(session):
    with open(os.environ["IB_OUTCOMES"], "w") as f:
        json.dump(_OUT, f)
'''


def venv(tree: Path, deps: list[str], python: str, editable: bool | None = True, version: str = "0.0.0") -> Path:
    """A virtualenv for ``tree``: the project installed (editable; ``None``: not installed, its
    folder goes on PYTHONPATH, for build backends of old days that no longer build), pytest as
    PVE stages it, and ``deps``."""
    env = tree.parent / (tree.name + "-venv")
    subprocess.run(["uv", "venv", "-q", "--python", python, str(env)], check=True, capture_output=True)
    spec = [] if editable is None else ["-e", str(tree)] if editable else [str(tree)]
    # an unpacked tree has no .git: setuptools-scm and friends are told the version
    environ = dict(os.environ, SETUPTOOLS_SCM_PRETEND_VERSION=version, PDM_BUILD_SCM_VERSION=version,
                   UV_DYNAMIC_VERSIONING_BYPASS=version)
    proc = subprocess.run(["uv", "pip", "install", "-q", "--python", str(env / "bin" / "python"), *spec, PYTEST, *deps],
                          capture_output=True, text=True, env=environ)
    if proc.returncode != 0:
        raise RuntimeError(f"install failed in {tree.name}: {proc.stderr[-1500:]}")
    return env


def run_tests(tree: Path, env: Path, tests: list[str], pytest_args: list[str], timeout: int = TEST_TIMEOUT,
              on_path: bool = False) -> tuple[dict[str, str], str]:
    """Outcome per test id of ``pytest TESTS`` in ``tree`` with ``env``'s interpreter."""
    plugin_dir = tree.parent / "ib-plugin"
    plugin_dir.mkdir(exist_ok=True)
    (plugin_dir / "ib_outcomes.py").write_text(PLUGIN)
    out = tree.parent / f"{tree.name}-outcomes.json"
    out.unlink(missing_ok=True)
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "UV_"))}
    path = [str(plugin_dir)] + ([str(tree / "src") if (tree / "src").is_dir() else str(tree)] if on_path else [])
    environ.update(IB_OUTCOMES=str(out), PYTHONPATH=os.pathsep.join(path), PYTHONDONTWRITEBYTECODE="1")
    cmd = [str(env / "bin" / "python"), "-m", "pytest", "-p", "ib_outcomes", "-p", "no:cacheprovider",
           "-o", "addopts=", "-q", *pytest_args, *tests]
    try:
        proc = subprocess.run(cmd, cwd=tree, capture_output=True, text=True, timeout=timeout, env=environ)
        log = proc.stdout[-4000:] + proc.stderr[-2000:]
    except subprocess.TimeoutExpired:
        return {}, f"timed out after {timeout} s"
    outcomes = json.loads(out.read_text()) if out.exists() else {}
    return outcomes, log


def tag_version(gd: Path, commit: str) -> str:
    """The newest release tag before ``commit`` as a version number (for setuptools-scm)."""
    try:
        tag = git(gd, "describe", "--tags", "--abbrev=0", commit).strip()
    except subprocess.CalledProcessError:
        return "0.0.0"
    m = re.search(r"\d+(\.\d+)*", tag)
    return m.group(0) if m else "0.0.0"


def check_case(sel: dict, mirrors: Path, tmp: Path) -> dict:
    gd = mirror(mirrors, sel["repo"])
    fix = git(gd, "rev-parse", sel["fix"] + "^{commit}").strip()
    parent = git(gd, "rev-parse", fix + "^1").strip()
    src, tests = changed(gd, parent, fix)
    tests = sel.get("test_files") or tests
    run = sel.get("test_targets") or test_modules(tests)
    deps, python, args = sel.get("deps", []), sel.get("python", PYTHON), sel.get("pytest_args", [])
    before_tree = unpack(gd, parent, tmp / "parent")
    overlay(gd, fix, tests, before_tree)  # the parent's source with the fix's tests
    after_tree = unpack(gd, fix, tmp / "fix")
    outcomes = {}
    logs = {}
    version = tag_version(gd, parent)
    for label, tree in (("parent", before_tree), ("fix", after_tree)):
        editable = sel.get("editable", True)
        env = venv(tree, deps, python, editable=editable, version=version)
        outcomes[label], logs[label] = run_tests(tree, env, run, args, on_path=editable is None)
    judge = sorted(t for t, o in outcomes["parent"].items()
                   if o in ("failed", "error") and outcomes["fix"].get(t) == "passed" and "::" in t)
    return {"repo": sel["repo"], "issue": sel["issue"], "fix": fix, "parent": parent, "source_files": src,
            "test_files": tests, "test_targets": run, "judge_tests": judge,
            "counts": {label: _count(o) for label, o in outcomes.items()},
            "log_tail": {k: v[-1500:] for k, v in logs.items()} if not judge else {}}


def _count(outcomes: dict[str, str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for o in outcomes.values():
        counts[o] = counts.get(o, 0) + 1
    return counts


# --------------------------------------------------------------------------- commands


def name_of(sel: dict) -> str:
    return f"{sel['repo']}#{sel['issue']}"


def load_selection() -> list[dict]:
    return json.loads(SELECTION.read_text()) if SELECTION.exists() else []


def check_path(sel: dict) -> Path:
    return CHECKS / f"{sel['repo'].replace('/', '+')}-{sel['issue']}.json"


def cmd_check(args: argparse.Namespace) -> None:
    todo = [s for s in load_selection() if not args.only or any(o in name_of(s) for o in args.only)]
    for sel in todo:
        path = check_path(sel)
        if path.exists() and not args.force:
            result = json.loads(path.read_text())
            if result.get("selection") == sel:
                print(f"{name_of(sel):40} cached: {len(result['judge_tests'])} judge tests")
                continue
        with tempfile.TemporaryDirectory(prefix="ib-check-") as tmp:
            try:
                result = check_case(sel, Path(args.mirrors), Path(tmp))
            except Exception as exc:  # one broken case must not stop the others
                print(f"{name_of(sel):40} ERROR {type(exc).__name__}: {str(exc)[:400]}")
                continue
        result["selection"] = sel
        CHECKS.mkdir(exist_ok=True)
        path.write_text(json.dumps(result, indent=1) + "\n")
        print(f"{name_of(sel):40} {result['fix'][:10]} judge={len(result['judge_tests'])} "
              f"parent={result['counts']['parent']} fix={result['counts']['fix']}", flush=True)
        if not result["judge_tests"]:
            print("   " + result["log_tail"].get("parent", "")[-600:].replace("\n", "\n   "))


def cmd_build(args: argparse.Namespace) -> None:
    if args.check:
        cmd_check(argparse.Namespace(only=None, force=args.force, mirrors=args.mirrors))
    cases, rejected = [], []
    for sel in load_selection():
        name = name_of(sel)
        rep = report(sel["repo"], sel["issue"], offline=args.offline)
        shape = traceback_shape(rep["body"])
        path = check_path(sel)
        chk = json.loads(path.read_text()) if path.exists() else None
        why = ("no traceback in the report's body" if shape is None else
               "not checked (build.py check)" if chk is None else
               "no test of the fix fails at the parent and passes at the fix" if not chk["judge_tests"] else "")
        if why:
            rejected.append({"name": name, "why": why})
            continue
        cases.append({
            "name": name,
            "repo": sel["repo"],
            "issue": sel["issue"],
            "url": rep["url"] or f"https://github.com/{sel['repo']}/issues/{sel['issue']}",
            "title": rep["title"],
            "body": rep["body"],
            "report_source": rep["source"],
            "report_may_be_truncated": rep["may_be_truncated"],
            "traceback_shape": shape,
            "traceback_complete": complete(rep["body"]),
            "fix": chk["fix"],
            "parent": chk["parent"],
            "fix_reference": sel.get("reference", ""),
            "source_files": chk["source_files"],
            "test_files": chk["test_files"],
            "test_targets": chk.get("test_targets", chk["test_files"]),
            "editable": sel.get("editable", True),
            "judge_tests": chk["judge_tests"],
            "deps": sel.get("deps", []),
            "pytest_args": sel.get("pytest_args", []),
            # hand-judged (selection.json): what the report holds, and whether a person could
            # reproduce the failure from it alone (and why not)
            "shape": sel.get("shape", ""),
            "reproducible": sel.get("reproducible", True),
            "not_reproducible": sel.get("not_reproducible", ""),
        })
    CASES.write_text(json.dumps(cases, indent=1, ensure_ascii=False) + "\n")
    projects = sorted({c["repo"] for c in cases})
    print(f"{len(cases)} cases from {len(projects)} projects -> {CASES}")
    for r in rejected:
        print(f"  rejected {r['name']}: {r['why']}")


def cmd_mine(args: argparse.Namespace) -> None:
    """Commits that name an issue (#N in the message, not only a squash merge's own pull request
    number) and change both a test file and a few lines of source: candidates for selection."""
    gd = mirror(Path(args.mirrors), args.repo)
    log = git(gd, "log", "--first-parent", f"--since={args.since}", "--format=%H%x1f%ad%x1f%P%x1f%B%x1e",
              "--date=short", "HEAD")
    for rec in log.split("\x1e"):
        rec = rec.strip()
        if not rec:
            continue
        h, date, parents, msg = rec.split("\x1f", 3)
        lines = msg.strip().splitlines()
        subject = lines[0] if lines else ""
        text = re.sub(r"\(#\d+\)\s*$", "", subject) + "\n" + "\n".join(lines[1:])
        text = re.sub(r"Merge pull request #\d+", "", text)
        refs = sorted({int(a or b) for a, b in re.findall(r"(?<![\w/])#(\d+)|/issues/(\d+)", text)})
        if not refs or not parents:
            continue
        src, tests = changed(gd, parents.split()[0], h)
        if src and tests:
            print(f"{h[:10]} {date} issues={refs} {subject[:80]!r} src={','.join(src)} tests={','.join(tests)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mirrors", default="/work/.mirror")
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("mine", help="candidate fix commits of a repository")
    m.add_argument("repo")
    m.add_argument("--since", default="2019-01-01")
    c = sub.add_parser("check", help="find the judge tests of selected cases (runs their tests twice)")
    c.add_argument("--only", nargs="*")
    c.add_argument("--force", action="store_true")
    b = sub.add_parser("build", help="write cases.json")
    b.add_argument("--check", action="store_true", help="first check cases that have no check yet")
    b.add_argument("--force", action="store_true", help="with --check: check every case again")
    b.add_argument("--offline", action="store_true", help="do not try api.github.com; read the cache")
    args = parser.parse_args()
    {"mine": cmd_mine, "check": cmd_check, "build": cmd_build}[args.command](args)


if __name__ == "__main__":
    main()
