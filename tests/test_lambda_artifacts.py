"""The Lambda zip functions' code (infra/functions.py): each function's folder holds the modules
its handler can import, the files they read, and the pinned distributions they import; built by
``sam build`` (aws-sam-cli, scripts/install.sh), it imports in a clean Python of the function's
runtime with nothing of this machine's site-packages, and fits Lambda's limits.

The tests marked ``sam`` run the script and ``sam build`` once per session (PyPI through pip's
cache, ~2-3 minutes on 2 cores): ``uv run pytest -m sam tests/test_lambda_artifacts.py``.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap
import time
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest

from .conftest import ROOT, write_tree


def _load_functions():
    spec = importlib.util.spec_from_file_location("pve_infra_functions", ROOT / "infra" / "functions.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


functions = _load_functions()
FUNCTIONS = functions.zip_functions()
LIMIT_UNZIPPED, LIMIT_ZIPPED = 250 * 2**20, 50 * 2**20  # Lambda's, in bytes (262,144,000 and 52,428,800)


# --------------------------------------------------------------------------- the script, without sam


def test_every_zip_function_of_the_template_is_built_from_its_own_folder():
    template = functions.load_template()
    declared = {k for k, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"}
    images = {k for k in declared if template["Resources"][k]["Properties"].get("PackageType") == "Image"}
    assert {f.logical_id for f in FUNCTIONS} == declared - images and "SandboxFunction" in images
    assert {"entrypoints.aws_lambda.handler", "entrypoints.aws_steps.controller", "entrypoints.aws_steps.validate",
            "entrypoints.aws_steps.notifier", "entrypoints.aws_console.handler"} <= {f.handler for f in FUNCTIONS}
    for f in FUNCTIONS:
        assert f.code_uri == f"build/{f.logical_id}", f"{f.logical_id}: CodeUri must be build/{f.logical_id}"
        assert f.runtime == "python3.12"


def test_the_functions_are_read_from_the_template_not_a_list():
    """A function added to the template (a console, a web view) gets its folder; an image does not."""
    template = functions.load_template()
    template["Resources"]["ExtraFunction"] = {"Type": "AWS::Serverless::Function", "Properties": {
        "CodeUri": "build/ExtraFunction", "Handler": "webhooks.signature.verify", "Runtime": "python3.12"}}
    template["Resources"]["OtherImage"] = {"Type": "AWS::Serverless::Function", "Properties": {
        "PackageType": "Image", "ImageUri": "x"}}
    found = {f.logical_id: f for f in functions.zip_functions(template)}
    assert "ExtraFunction" in found and "OtherImage" not in found and "SandboxFunction" not in found
    assert found["ExtraFunction"].module == "webhooks.signature"


def test_the_closure_follows_lazy_relative_and_from_imports_and_skips_type_checking(tmp_path):
    write_tree(tmp_path, {
        "app/__init__.py": "",
        "app/handler.py": textwrap.dedent("""\
            from typing import TYPE_CHECKING
            import yaml
            from app import eager
            from . import relative
            if TYPE_CHECKING:
                from app import typing_only
            def handle():
                from app.sub.lazy import thing
                import google.genai
            """),
        "app/eager.py": "import json\n",
        "app/relative.py": "",
        "app/typing_only.py": "import heavy\n",
        "app/unused.py": "",
        "app/sub/__init__.py": "from ..eager import *\n",
        "app/sub/lazy.py": "thing = 1\n",
    })
    found = functions.closure("app.handler", packages=("app",), root=tmp_path)
    assert found.modules == {"app", "app.handler", "app.eager", "app.relative", "app.sub", "app.sub.lazy"}
    assert set(found.third_party) == {"yaml", "google.genai"}  # json is the standard library's


def test_every_module_that_reads_a_file_beside_it_says_which():
    """A module naming ``__file__`` reads something beside it at run time (or says it does not):
    the folders must carry it, so RUNTIME_FILES names it, and what it names exists."""
    naming = set()
    for package in functions.our_packages():
        for path in (ROOT / package).rglob("*.py"):
            if "__file__" in path.read_text(encoding="utf-8"):
                rel = path.relative_to(ROOT).with_suffix("")
                naming.add(".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts))
    listed = set(functions.RUNTIME_FILES) | set(functions.NOT_RUNTIME_FILES)
    assert naming - listed == set(), "add them to RUNTIME_FILES (infra/functions.py) with the files they read"
    assert functions.runtime_files(set(functions.RUNTIME_FILES))  # every pattern matches something
    assert functions.runtime_files({"bot.manifest"}) == {ROOT / "app.yml": "bot/app.yml"}  # the wheel's force-include


def test_the_requirements_are_the_lock_s_pins_of_what_the_code_imports():
    lock = {functions.normalize(p["name"]): p["version"] for p in tomllib.loads((ROOT / "uv.lock").read_text())["package"]}
    export = functions.exported()
    for function in FUNCTIONS:
        artifact = functions.plan(function, export)
        pins = {}
        for line in artifact.requirements.splitlines():
            if line and not line[0].isspace() and not line.startswith("#"):
                name, _, version = line.split(" ")[0].partition("==")
                pins[functions.normalize(name.split("[")[0])] = version
        assert pins == {d: lock[d] for d in artifact.distributions}
        assert artifact.requirements.count("--hash=sha256:") >= len(pins)  # pip checks every file
        assert {"boto3", "pydantic", "pydantic-core"} <= set(pins)
        # in the lock, not imported by the functions: never packed
        assert not {"pytest", "uv", "uvicorn", "rich", "moto", "cfn-lint", "mypy"} & set(pins)
        # each function what its handler's module reaches: the web view's app and the console hold
        # no GitHub client, no model SDK; the engine's steps hold both, with githubkit's extras
        engine = function.handler.startswith("entrypoints.aws_steps.")
        assert ({"githubkit", "hishel", "openai", "groq", "google-genai"} <= set(pins)) is engine, function
        assert not engine or "githubkit[auth-app]==" in artifact.requirements
        assert ("mangum" in pins) is (function.handler == "entrypoints.aws_lambda.handler"), function
        assert not any(rel.split("/")[0] in functions.NEVER for rel in artifact.files.values())


# --------------------------------------------------------------------------- sam build


@dataclass
class Built:
    folders: dict[str, Path]  # sam's artifact folder, by logical id
    artifacts: dict[str, Any]  # what the script put in each function's folder (functions.Artifact)
    seconds: float  # the script and sam build

    @cached_property
    def sizes(self) -> dict[str, Any]:  # functions.Size
        return functions.sizes(self.folders)


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Built:
    """The script's folders, then sam build, once per session: what the deploy workflow runs
    (infra/functions.py sam), into a folder of its own. The folders' contents are kept as the
    script made them: the repository may change while sam runs."""
    build_dir = tmp_path_factory.mktemp("aws-sam") / "build"
    started = time.monotonic()
    artifacts = {a.function.logical_id: a for a in functions.build()}
    done = functions.sam_build(build_dir)
    assert done.returncode == 0, (done.stdout + done.stderr)[-8000:]
    return Built(functions.built_folders(build_dir), artifacts, time.monotonic() - started)


# Run by the function's python, isolated (-I: no user site, no PYTHON* variables; -S: no site, so
# no site-packages; -B: the folder stays as built): the folder first on sys.path, the standard
# library after it, and nothing else.
PROBE = textwrap.dedent("""\
    import importlib, json, os, sys, sysconfig
    folder, handler, modules = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
    sys.path[:] = [folder] + [p for p in sys.path if p]
    module, _, attribute = handler.rpartition(".")
    target = getattr(importlib.import_module(module), attribute)
    failed = {}
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:
            failed[name] = repr(exc)
    stdlib = {os.path.realpath(sysconfig.get_paths()[k]) for k in ("stdlib", "platstdlib")}
    inside = [os.path.realpath(folder)]
    outside = []
    for name, mod in list(sys.modules.items()):
        if name in ("__main__", "__mp_main__"):
            continue
        for where in filter(None, [getattr(mod, "__file__", None), *(getattr(mod, "__path__", None) or [])]):
            real = os.path.realpath(where)
            if not any(real == r or real.startswith(r + os.sep) for r in [*inside, *stdlib]):
                outside.append(f"{name}: {real}")
    print(json.dumps({"callable": callable(target), "failed": failed, "outside": outside,
                      "from_folder": sorted(n for n, m in sys.modules.items()
                                            if os.path.realpath(getattr(m, "__file__", None) or "/").startswith(inside[0] + os.sep))}))
    """)


@pytest.mark.sam
@pytest.mark.parametrize("function", FUNCTIONS, ids=[f.logical_id for f in FUNCTIONS])
def test_the_built_function_imports_in_a_clean_python_and_fits_lambda(built, function):
    folder = built.folders[function.logical_id]
    artifact = built.artifacts[function.logical_id]

    # nothing of the repository but what the handler reaches
    top = {p.name for p in folder.iterdir()}
    assert not top & set(functions.NEVER), sorted(top & set(functions.NEVER))
    ours = {p.relative_to(folder).as_posix() for package in functions.our_packages() if (folder / package).is_dir()
            for p in (folder / package).rglob("*") if p.is_file()}
    assert ours == {rel for rel in artifact.files.values()}
    assert not [rel for rel in ours if set(rel.split("/")) & set(functions.NEVER)]
    assert not (folder / "node_modules").exists() and not (folder / "pyproject.toml").exists()

    # Lambda's limits: the files unzipped, and the zip sam package uploads
    size = built.sizes[function.logical_id]
    assert size.unzipped < LIMIT_UNZIPPED and size.zipped < LIMIT_ZIPPED, size

    # the handler, then every module of ours it can reach, from the folder alone
    python = functions.find_python(function.runtime.removeprefix("python"))
    done = subprocess.run([python, "-I", "-S", "-B", "-c", PROBE, str(folder), function.handler,
                           ",".join(artifact.modules)], capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}, cwd=folder)
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["callable"] and report["failed"] == {} and report["outside"] == [], report
    imported = set(report["from_folder"])
    assert set(artifact.modules) <= imported and "pydantic" in imported


@pytest.mark.sam
def test_the_sizes_in_the_docs_are_measured_ones(built):
    """infra/README.md and docs/aws.md show each function's sizes: within 20% of a build now (a
    failure prints the new table: paste it there)."""
    measured = built.sizes
    for doc in (ROOT / "infra" / "README.md", ROOT / "docs" / "aws.md"):
        text = doc.read_text()
        assert "uv run --frozen python infra/functions.py sam" in text, doc
        for name, size in measured.items():
            row = next((line for line in text.splitlines() if line.startswith(f"| {name} |")), None)
            assert row, f"{doc.name} has no size row for {name}"
            shown = [float(cell.strip().split()[0]) * 2**20 for cell in row.strip("|").split("|")[1:3]]
            assert shown[0] == pytest.approx(size.unzipped, rel=0.2) and shown[1] == pytest.approx(size.zipped, rel=0.2), (
                doc.name, name, row, functions.sizes_table(measured))
    print(f"the script and sam build: {built.seconds:.0f} s\n{functions.sizes_table(measured)}")
