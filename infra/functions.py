"""The Lambda zip functions' code, one folder each: what ``sam build`` packs.

For every ``AWS::Serverless::Function`` of ``infra/template.yaml`` that is not an image, this
writes ``infra/build/<LogicalId>/`` (the function's ``CodeUri``) holding:

- the modules of our packages (``[tool.hatch.build.targets.wheel] packages`` in pyproject.toml)
  that its handler can import: the import closure from the handler's module, imports inside
  functions included (``if TYPE_CHECKING:`` blocks excluded: they never run), with the
  packages' ``__init__.py`` on the way;
- the files those modules read at run time (``RUNTIME_FILES``; the wheel's force-include, such as
  ``app.yml`` as ``bot/app.yml``, comes from pyproject.toml);
- ``requirements.txt``: the third-party distributions those modules import and their transitive
  dependencies (the extras asked for, the markers evaluated for the function's Lambda
  runtime), pinned with hashes from ``uv.lock`` (``uv export``'s lines, filtered).

Never the repository's tests, benchmarks, examples or node_modules: a folder holds what the
handler reaches and nothing else. ``sam build`` then installs the requirements beside the code.

    uv run --frozen python infra/functions.py build    # infra/build/<LogicalId>/ per zip function
    uv run --frozen python infra/functions.py sam      # build, then sam build (zip functions only)
    uv run --frozen python infra/functions.py show     # what each function holds

``sam`` is aws-sam-cli; its Python builder needs the runtime's python on PATH (``tools.py``).
"""

from __future__ import annotations

import argparse
import ast
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))  # a script's folder: its sibling modules
from sizes import Size, mib, size, sizes, sizes_table  # noqa: E402,F401 (the command's, and the tests')
from tools import find_python, find_sam  # noqa: E402

TEMPLATE = ROOT / "infra" / "template.yaml"
BUILD = ROOT / "infra" / "build"
SAM_BUILD = ROOT / ".aws-sam" / "build"
NEVER = ("tests", "benchmarks", "examples", "node_modules")  # repository folders no function holds

# Files our modules read at run time, beside them (``Path(__file__)``-relative), by the module
# that reads them: copied when that module is in a function's closure. Every module of our
# packages that names ``__file__`` is a key here or in NOT_RUNTIME_FILES
# (tests/test_lambda_artifacts.py checks it).
RUNTIME_FILES: dict[str, tuple[str, ...]] = {
    "sandbox.runtime": ("sandbox/inside/*.py", "sandbox/capture.py"),  # staged into every sandbox
    "sandbox.envbuild": ("sandbox/build_forward.py",),
    "sandbox.lambda_runner": ("sandbox/inside/*.py",),
    "sandbox.inside.harness": ("sandbox/inside/*.py",),
    "statemachine.proof.attestation": ("statemachine/proof/schemas/*.json",),
    "web.shell": ("web/static/*",),  # not node_modules/monaco-editor: without it the playground is a plain form
    "bot.manifest": ("bot/app.yml",),  # the repository's app.yml: the wheel's force-include (pyproject.toml)
}
NOT_RUNTIME_FILES = {"brain.intake.report": "names __file__ in a list of names, reads no file"}


# --------------------------------------------------------------------------- the project


def project() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def our_packages() -> tuple[str, ...]:
    return tuple(project()["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"])


def force_included() -> dict[str, str]:
    """The wheel's force-include: repository path -> path in the installed packages."""
    wheel = project()["tool"]["hatch"]["build"]["targets"]["wheel"]
    return dict(wheel.get("force-include", {}))


# --------------------------------------------------------------------------- the template


class _Tag:
    """A CloudFormation short form (!Ref, !Sub, ...): kept opaque."""

    def __init__(self, tag: str, value: Any) -> None:
        self.tag, self.value = tag, value


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> _Tag:
        if isinstance(node, yaml.ScalarNode):
            return _Tag(suffix, loader.construct_scalar(node))
        if isinstance(node, yaml.SequenceNode):
            return _Tag(suffix, loader.construct_sequence(node, deep=True))
        return _Tag(suffix, loader.construct_mapping(node, deep=True))  # type: ignore[arg-type]

    Loader.add_multi_constructor("!", tagged)
    return yaml.load(path.read_text(), Loader=Loader)  # a SafeLoader, with the CloudFormation tags


@dataclass(frozen=True)
class Function:
    logical_id: str
    handler: str  # module.attribute
    runtime: str  # python3.12
    architecture: str  # x86_64 | arm64
    code_uri: Any

    @property
    def module(self) -> str:
        return self.handler.rsplit(".", 1)[0]

    @property
    def attribute(self) -> str:
        return self.handler.rsplit(".", 1)[1]

    @property
    def python(self) -> str:
        """The interpreter sam's builder wants: python3.12 for python3.12."""
        return self.runtime


def zip_functions(template: dict[str, Any] | None = None) -> list[Function]:
    """Every AWS::Serverless::Function of the template that is not an image, in template order."""
    template = template if template is not None else load_template()
    defaults = (template.get("Globals") or {}).get("Function") or {}
    found = []
    for logical_id, resource in (template.get("Resources") or {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = {**defaults, **(resource.get("Properties") or {})}
        if props.get("PackageType", "Zip") == "Image":
            continue
        runtime = props.get("Runtime", "")
        if not (isinstance(runtime, str) and re.fullmatch(r"python3\.\d+", runtime)):
            raise SystemExit(f"{logical_id}: runtime {runtime!r} is not a Python runtime this script builds")
        handler = props.get("Handler")
        if not isinstance(handler, str) or "." not in handler:
            raise SystemExit(f"{logical_id}: handler {handler!r} is not module.function")
        (arch,) = props.get("Architectures") or ["x86_64"]
        found.append(Function(logical_id, handler, runtime, arch, props.get("CodeUri")))
    return found


# --------------------------------------------------------------------------- the import closure


@dataclass
class Closure:
    modules: set[str] = field(default_factory=set)  # ours, dotted
    files: set[Path] = field(default_factory=set)  # ours, the modules' sources
    third_party: dict[str, set[str]] = field(default_factory=dict)  # dotted name imported -> our modules importing it


def module_path(name: str, root: Path = ROOT) -> Path | None:
    base = root / name.replace(".", "/")
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """ast.walk, without the bodies of ``if TYPE_CHECKING:`` (their ``else`` runs)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))


def imports_of(name: str, path: Path) -> Iterator[str]:
    """The absolute names a module imports (``from a import b`` gives ``a`` and ``a.b``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in _nodes(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1])
                origin = f"{base}.{node.module}" if node.module else base
            else:
                origin = node.module or ""
            yield origin
            yield from (f"{origin}.{alias.name}" for alias in node.names if alias.name != "*")


def closure(module: str, packages: Iterable[str] | None = None, root: Path = ROOT) -> Closure:
    """Our modules ``module`` can import (``root``'s), and the third-party names they import."""
    ours = set(packages or our_packages())
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    found = Closure()
    todo = [module]
    while todo:
        name = todo.pop()
        if name in found.modules:
            continue
        path = module_path(name, root)
        if path is None:
            continue  # ``from pkg import attribute``: not a module
        found.modules.add(name)
        found.files.add(path)
        parts = name.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # the packages on the way
        for imported in imports_of(name, path):
            top = imported.split(".")[0]
            if top in ours:
                todo.append(imported)
            elif top and top not in stdlib:
                found.third_party.setdefault(imported, set()).add(name)
    if module not in found.modules:
        raise SystemExit(f"no module {module} under {root}")
    return found


def runtime_files(modules: set[str]) -> dict[Path, str]:
    """Source -> path in the function's folder, for the files these modules read at run time
    (a path the wheel force-includes comes from where pyproject.toml says)."""
    included = {target: source for source, target in force_included().items()}
    files: dict[Path, str] = {}
    for name, patterns in RUNTIME_FILES.items():
        if name not in modules:
            continue
        for pattern in patterns:
            matched = {ROOT / rel: rel for rel in sorted(glob.glob(pattern, root_dir=ROOT)) if (ROOT / rel).is_file()}
            if not matched and pattern in included:
                matched = {ROOT / included[pattern]: pattern}
            if not matched:
                raise SystemExit(f"{name} reads {pattern}, which matches nothing")
            files.update(matched)
    return files


# --------------------------------------------------------------------------- the distributions


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def distributions_of(names: Iterable[str]) -> dict[str, str]:
    """Imported name -> the distribution providing it, in the project's environment. A
    namespace shared by several distributions (``google``) is told apart by the files of each:
    ``google.genai`` is the one holding ``google/genai/``."""
    provided = metadata.packages_distributions()
    found, unknown = {}, []
    names = set(names)
    for name in sorted(names):
        top = name.split(".")[0]
        dists = sorted({normalize(d) for d in provided.get(top, [])})
        if len(dists) > 1:
            if name == top or any(n.startswith(name + ".") for n in names):
                continue  # the namespace itself, or a deeper name says more
            dists = [d for d in dists if _holds(d, name)] or dists
            dists = dists if len(dists) == 1 else [d for d in dists if _holds(d, name.rsplit(".", 1)[0])] or dists
        if len(dists) == 1:
            found[name if name == top or len(provided.get(top, [])) > 1 else top] = dists[0]
        else:
            unknown.append(f"{name} -> {dists or 'no distribution installed'}")
    if unknown:
        raise SystemExit("cannot tell which distribution provides: " + "; ".join(unknown) +
                         " (run in the project's environment: uv run --frozen python infra/functions.py ...)")
    return found


def _holds(dist: str, name: str) -> bool:
    """Whether the installed distribution holds module or package ``name``."""
    stem = name.replace(".", "/")
    return any(str(f) in (f"{stem}.py", f"{stem}/__init__.py") or str(f).startswith(f"{stem}/")
               for f in metadata.distribution(dist).files or ())


def lambda_environment(function: Function) -> dict[str, str]:
    """What markers see on the function's runtime (Amazon Linux, CPython)."""
    version = function.runtime.removeprefix("python")
    return {"python_version": version, "python_full_version": f"{version}.0", "implementation_name": "cpython",
            "platform_python_implementation": "CPython", "implementation_version": f"{version}.0",
            "os_name": "posix", "sys_platform": "linux", "platform_system": "Linux", "platform_release": "",
            "platform_version": "", "extra": "",
            "platform_machine": {"arm64": "aarch64"}.get(function.architecture, function.architecture)}


def lock_closure(roots: Iterable[str], environment: dict[str, str]) -> dict[str, set[str]]:
    """The distributions ``roots`` need, from uv.lock's graph, with the extras asked of each:
    the extras the project (or the requiring package) asks for, the dependencies whose markers
    hold in ``environment``."""
    from packaging.markers import Marker

    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    packages = {normalize(p["name"]): p for p in lock["package"]}
    name = normalize(project()["project"]["name"])
    asked = {normalize(d["name"]): d.get("extra", []) for d in packages[name].get("dependencies", [])}

    def holds(dep: dict[str, Any]) -> bool:
        return "marker" not in dep or Marker(dep["marker"]).evaluate(environment)

    seen: set[tuple[str, str]] = set()
    needed: dict[str, set[str]] = {}
    todo = [(normalize(r), extra) for r in roots for extra in ["", *asked.get(normalize(r), [])]]
    while todo:
        dist, extra = todo.pop()
        if (dist, extra) in seen:
            continue
        seen.add((dist, extra))
        if dist not in packages:
            raise SystemExit(f"{dist} is not in uv.lock: add it to pyproject.toml's dependencies")
        needed.setdefault(dist, set()).update({extra} - {""})
        package = packages[dist]
        deps = package.get("optional-dependencies", {}).get(extra, []) if extra else package.get("dependencies", [])
        for dep in filter(holds, deps):
            todo.extend((normalize(dep["name"]), e) for e in ["", *dep.get("extra", [])])
    return needed


def exported() -> dict[str, str]:
    """``uv export``'s requirement blocks (pins, markers, hashes), by distribution."""
    uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    text = subprocess.run([uv, "export", "--frozen", "--no-dev", "--no-emit-project", "--no-header",
                           "--no-annotate", "--format", "requirements-txt"],
                          cwd=ROOT, check=True, capture_output=True, text=True).stdout
    blocks: dict[str, str] = {}
    current = ""
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace():
            current = normalize(re.split(r"[=<>!~;\s\[]", line, maxsplit=1)[0])
            blocks[current] = line
        else:
            blocks[current] += "\n" + line
    return blocks


# --------------------------------------------------------------------------- one function's folder


@dataclass
class Artifact:
    function: Function
    modules: list[str]
    files: dict[Path, str]  # source -> path in the folder (modules and runtime files)
    imports: dict[str, str]  # third-party top-level name -> distribution
    distributions: list[str]  # with their transitive dependencies
    requirements: str

    @property
    def folder(self) -> Path:
        return BUILD / self.function.logical_id


def plan(function: Function, export: dict[str, str] | None = None) -> Artifact:
    found = closure(function.module)
    files = {path: path.relative_to(ROOT).as_posix() for path in found.files}
    files.update(runtime_files(found.modules))
    imports = distributions_of(found.third_party)
    needed = lock_closure(set(imports.values()), lambda_environment(function))
    export = export if export is not None else exported()
    missing = set(needed) - set(export)
    if missing:
        raise SystemExit(f"uv export has no {sorted(missing)}: is uv.lock up to date (uv lock)?")
    header = ("# The distributions this function's modules import and what they need, pinned from uv.lock.\n"
              "# Written by infra/functions.py build: do not edit.\n")
    # The extras stay on the pin (``hishel[async,httpx]==1.4.0``): pip's hash-checking mode
    # refuses a requirement with extras that no pinned line names.
    lines = [re.sub(r"^([A-Za-z0-9._-]+)", lambda m, d=d: m[1] + (f"[{','.join(sorted(needed[d]))}]" if needed[d] else ""),
                    export[d]) for d in sorted(needed)]
    requirements = header + "\n".join(lines) + "\n"
    return Artifact(function, sorted(found.modules), files, imports, sorted(needed), requirements)


def write(artifact: Artifact) -> Path:
    folder = artifact.folder
    if folder.exists():
        shutil.rmtree(folder)
    for source, rel in sorted(artifact.files.items(), key=lambda item: item[1]):
        if rel.split("/")[0] in NEVER:
            raise SystemExit(f"{artifact.function.logical_id} would hold {rel}")
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    (folder / "requirements.txt").write_text(artifact.requirements)
    return folder


def build(functions: list[Function] | None = None) -> list[Artifact]:
    """Every zip function's folder under infra/build/ (the others there removed)."""
    functions = functions if functions is not None else zip_functions()
    wrong = [f"{f.logical_id} (CodeUri: {f.code_uri})" for f in functions if f.code_uri != f"build/{f.logical_id}"]
    if wrong:
        raise SystemExit(f"point CodeUri at build/<LogicalId> in {TEMPLATE.relative_to(ROOT)}: {', '.join(wrong)}")
    export = exported()
    artifacts = [plan(f, export) for f in functions]
    BUILD.mkdir(parents=True, exist_ok=True)
    keep = {f.logical_id for f in functions}
    for stale in BUILD.iterdir():
        if stale.is_dir() and stale.name not in keep:
            shutil.rmtree(stale)
    for artifact in artifacts:
        write(artifact)
    return artifacts


# --------------------------------------------------------------------------- sam build


def sam_build(build_dir: Path = SAM_BUILD, functions: list[Function] | None = None, *,
              capture: bool = True) -> subprocess.CompletedProcess[str]:
    """``sam build --parallel`` of the zip functions (never in a container; the image functions
    excluded: their image is built and pushed on its own), with the runtime's python on PATH.
    Run ``build()`` first. Its pip uses pip's own cache (``~/.cache/pip``)."""
    functions = functions if functions is not None else zip_functions()
    zips = {f.logical_id for f in functions}
    images = [name for name, r in load_template()["Resources"].items()
              if r.get("Type") == "AWS::Serverless::Function" and name not in zips]
    with tempfile.TemporaryDirectory(prefix="pve-sam-") as tmp:
        for version in sorted({f.runtime.removeprefix("python") for f in functions}):
            os.symlink(find_python(version), Path(tmp) / f"python{version}")
        env = {**os.environ, "PATH": f"{tmp}{os.pathsep}{os.environ.get('PATH', '')}", "SAM_CLI_TELEMETRY": "0"}
        command = [find_sam(), "build", "--template-file", str(TEMPLATE), "--build-dir", str(build_dir),
                   "--parallel", *[a for name in images for a in ("--exclude", name)]]
        # sam keeps its build.toml under .aws-sam/ of the folder it runs in: beside the build
        cwd = ROOT if build_dir == SAM_BUILD else build_dir.parent
        cwd.mkdir(parents=True, exist_ok=True)
        return subprocess.run(command, cwd=cwd, env=env, capture_output=capture, text=True)


def built_folders(build_dir: Path = SAM_BUILD) -> dict[str, Path]:
    """Each zip function's artifact folder in a sam build, by logical id (its built template's CodeUri)."""
    template = load_template(build_dir / "template.yaml")
    zips = {f.logical_id for f in zip_functions(load_template())}
    return {name: build_dir / r["Properties"]["CodeUri"] for name, r in template["Resources"].items()
            if name in zips}


# --------------------------------------------------------------------------- the command


def show(artifacts: list[Artifact]) -> str:
    lines = []
    for a in artifacts:
        packages = sorted({m.split(".")[0] for m in a.modules})
        data = sorted(rel for rel in a.files.values() if not rel.endswith(".py") or "/inside/" in rel)
        lines += [f"{a.function.logical_id} ({a.function.handler}): {len(a.modules)} modules of {', '.join(packages)}",
                  f"  runtime files: {', '.join(data) or 'none'}",
                  f"  imports: {', '.join(f'{k} ({v})' for k, v in sorted(a.imports.items()))}",
                  f"  requirements ({len(a.distributions)}): {', '.join(a.distributions)}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("command", choices=("build", "sam", "show", "sizes"),
                        help="build: the folders; sam: the folders, then sam build and the sizes; show: what each "
                             "function would hold; sizes: of a sam build")
    parser.add_argument("--build-dir", type=Path, default=SAM_BUILD, help="sam's (default .aws-sam/build)")
    args = parser.parse_args(argv)
    build_dir = args.build_dir.resolve()
    if args.command == "show":
        print(show([plan(f) for f in zip_functions()]))
        return 0
    if args.command in ("build", "sam"):
        artifacts = build()
        print(show(artifacts))
        print(f"==> {len(artifacts)} folders under {BUILD.relative_to(ROOT)}/", flush=True)
    if args.command == "sam":
        started = time.monotonic()
        done = sam_build(build_dir, capture=False)
        if done.returncode:
            return done.returncode
        print(f"==> sam build: {time.monotonic() - started:.0f} s")
    if args.command in ("sam", "sizes"):
        print(sizes_table(sizes(built_folders(build_dir))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
