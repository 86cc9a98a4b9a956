"""Project environments for real: uv builds in the build sandbox from a local wheel directory (no
registry at test time), runs see them read-only, and every claim of ENVIRONMENTS.md that PVE
relies on is checked from inside a run."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from entrypoints import bootstrap
from pve.events import Fanout
from pve.models import Candidate, FileEdit, RunMode, RunSpec, SessionStatus, VerifyRequest
from pve.settings import EnvironmentSettings, Settings
from sandbox.declarations import plan_install
from sandbox.environments import DependencyError, EnvironmentStore, installer_reason
from statemachine.analyze import analyze
from statemachine.reproduce import Lab, reproduce
from statemachine.runner import verify
from statemachine.validate import validate

pytestmark = pytest.mark.sandbox

SETUPTOOLS_BACKEND = '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'


@pytest.fixture
def shared(wheel_store):
    return wheel_store


def env_settings(shared, name: str, **kw) -> EnvironmentSettings:
    base, wheels = shared
    return EnvironmentSettings(root=base / name, network=False, find_links=str(wheels), **kw)


def services(tmp_path, shared, name="store", **kw):
    settings = replace(Settings.from_env({}), home=tmp_path / "home")
    settings = replace(settings, sandbox=replace(settings.sandbox, environments=env_settings(shared, name, **kw)))
    return bootstrap.services(settings)


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


LIBRARY = {  # a src-layout library, installed editable by setuptools, with a dependency and a console script
    "pyproject.toml": '[project]\nname = "paint"\nversion = "1.4.2"\ndependencies = ["colorlib==1.0"]\n'
                      '[project.scripts]\npaint-hello = "paint:hello"\n' + SETUPTOOLS_BACKEND,
    "src/paint/__init__.py": "import importlib.metadata\n\nimport colorlib\n\n__version__ = importlib.metadata.version('paint')\n\n\n"
                             "def hello():\n    print('paint ' + __version__)\n\n\n"
                             "def mix(colours):\n    return colorlib.favourite() + ' x' + str(len(colours) // len(colours))\n",
    "tests/test_paint.py": "import subprocess\nimport sys\n\nimport paint\n\n\n"
                           "def test_version_from_metadata():\n    assert paint.__version__ == '1.4.2'\n\n\n"
                           "def test_console_scripts_and_subprocess():\n"
                           "    assert subprocess.run(['paint-hello'], capture_output=True, text=True).stdout == 'paint 1.4.2\\n'\n"
                           "    assert subprocess.run(['colorlib-say'], capture_output=True, text=True).stdout == 'colorlib says red\\n'\n"
                           "    out = subprocess.run([sys.executable, '-c', 'import paint, colorlib; print(colorlib.favourite())'],\n"
                           "                         capture_output=True, text=True)\n"
                           "    assert out.stdout == 'red\\n', out.stderr\n\n\n"
                           "def test_mix_of_two():\n    assert paint.mix(['a', 'b']) == 'red x1'\n\n\n"
                           "def test_mix_of_nothing():\n    assert paint.mix([]) == 'red x0'\n",
}


def test_a_library_with_dependencies_is_built_once_and_verified_with_them(tmp_path, shared):
    project = write(tmp_path / "paint", LIBRARY)
    svc = services(tmp_path, shared, "library")
    req = VerifyRequest(path=project, test="pytest tests/test_paint.py::test_mix_of_nothing", cache=False)
    session = asyncio.run(verify(req, svc))
    assert session.status is SessionStatus.VERIFIED, session.message
    env = session.environment
    assert env is not None and not env.reused and env.kind == "project"
    assert "colorlib==1.0" in env.packages and any(p.startswith("-e ") for p in env.packages)
    assert any(p.startswith("pytest==") for p in env.packages)  # always there
    # the editable install, its metadata, console scripts and sys.executable children all worked
    assert set(session.baseline.record.outcomes.values()) >= {"passed"}
    assert session.baseline.record.outcomes["tests/test_paint.py::test_console_scripts_and_subprocess"] == "passed"
    assert session.baseline.record.outcomes["tests/test_paint.py::test_version_from_metadata"] == "passed"
    proof = Path(session.proof_path).read_text()
    assert f"key: {env.key}" in proof and "  colorlib==1.0" in proof
    # the same declaration again: found by key, not built
    again = asyncio.run(verify(req.model_copy(update={"session_id": None}), svc))
    assert again.environment.reused and again.environment.key == env.key
    assert again.timings_ms["environment"] < 1000


def test_requirements_files_and_a_candidate_that_edits_them(tmp_path, shared):
    project = write(tmp_path / "flat", {
        "requirements.txt": "-r requirements/base.txt\n", "requirements/base.txt": "colorlib==2.0\n",
        "shade.py": "import colorlib\n\n\ndef shade(n):\n    return colorlib.favourite()[:n] + 1\n",
        "tests/test_shade.py": "from shade import shade\n\n\ndef test_shade():\n    assert shade(3) == 'cri'\n"})
    svc = services(tmp_path, shared, "flat")
    req = VerifyRequest(path=project, test="tests/test_shade.py")
    staged = svc.sandbox.stage(project)
    try:
        py_files = sorted(p for p in staged.files if p.endswith(".py"))
        plan = plan_install(staged.files, staged.read_text)
        assert plan.files == ["requirements.txt", "requirements/base.txt"]
        info = asyncio.run(svc.sandbox.environment(staged, plan))
        assert "colorlib==2.0" in info.packages and not any(p.startswith("-e") for p in info.packages)
        reproduced = asyncio.run(reproduce(analyze(req, py_files, log_text=None, read=staged.read_text), req, py_files,
                                           Lab(svc.sandbox, staged, Fanout())))
        assert reproduced.ok and reproduced.analysis.exception.type == "TypeError"  # colorlib imported fine
        bump = Candidate(id=1, rule="by hand", rationale="", edits=[FileEdit(path="requirements/base.txt",
                                                                              new_text="colorlib==1.0\n")])
        checks = reproduced.checks.model_copy(update={"declarations": tuple(plan.files)})
        verdict = asyncio.run(validate(bump, svc.sandbox, staged, checks, Fanout()))
        assert not verdict.verified and "declares the dependencies" in verdict.reason
    finally:
        svc.sandbox.cleanup(staged)


def test_a_broken_requirement_is_its_own_outcome_and_remembered(tmp_path, shared):
    project = write(tmp_path / "broken", {"requirements.txt": "colorlib==1.0\nnosuchpkg==3.1\n",
                                          "app.py": "import colorlib\nprint(1 / 0)\n"})
    svc = services(tmp_path, shared, "broken")
    session = asyncio.run(verify(VerifyRequest(path=project, cmd="python app.py"), svc))
    assert session.status is SessionStatus.DEPENDENCIES
    assert session.message.startswith("could not install the dependencies: nosuchpkg: ")
    assert session.before is None and session.verdicts == []  # nothing ran
    assert "COULD NOT INSTALL THE DEPENDENCIES" in Path(session.proof_path).read_text()
    again = asyncio.run(verify(VerifyRequest(path=project, cmd="python app.py"), svc))
    assert again.message == session.message and again.timings_ms["environment"] < 500  # from the failure record


C_EXTENSION = {
    "pyproject.toml": '[project]\nname = "fastsum"\nversion = "0.1"\ndependencies = ["colorlib==1.0"]\n' + SETUPTOOLS_BACKEND,
    "setup.py": "import os\nfrom setuptools import Extension, setup\n\n"
                "# what a build saw, kept beside the sources so the test can read it back\n"
                "with open('fastsum/_buildenv.py', 'w') as f:\n"
                "    f.write('ENV = %r\\n' % sorted(os.environ))\n    f.write('HOME = %r\\n' % os.environ.get('HOME'))\n"
                "setup(ext_modules=[Extension('fastsum._speed', ['fastsum/_speed.c'])], packages=['fastsum'])\n",
    "fastsum/__init__.py": "from fastsum._speed import twice\n",
    "fastsum/_speed.c": "#include <Python.h>\n"
                        "static PyObject *twice(PyObject *self, PyObject *arg) {\n"
                        "    long v = PyLong_AsLong(arg); if (v == -1 && PyErr_Occurred()) return NULL;\n"
                        "    return PyLong_FromLong(2 * v);\n}\n"
                        "static PyMethodDef methods[] = {{\"twice\", twice, METH_O, NULL}, {NULL, NULL, 0, NULL}};\n"
                        "static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, \"_speed\", NULL, -1, methods};\n"
                        "PyMODINIT_FUNC PyInit__speed(void) { return PyModule_Create(&mod); }\n",
    "probe.py": "import os, socket, sys\nimport fastsum\nfrom fastsum import _buildenv\n"
                "assert fastsum.twice(21) == 42\n"
                "print('ENV', _buildenv.ENV)\nprint('HOME', _buildenv.HOME)\n"
                "try:\n    open(os.path.join(sys.prefix, 'planted.txt'), 'w')\n    print('WROTE ENV')\n"
                "except OSError as exc:\n    print('ENV READ-ONLY', type(exc).__name__)\n"
                "try:\n    socket.create_connection(('1.1.1.1', 53), timeout=2)\n    print('NETWORK')\n"
                "except OSError:\n    print('NO NETWORK')\n",
}


def test_a_c_extension_reaches_the_run_and_the_build_saw_no_secret(tmp_path, shared, monkeypatch):
    monkeypatch.setenv("PVE_TEST_SECRET", "hunter2")  # in PVE's own environment while it builds
    project = write(tmp_path / "fastsum", C_EXTENSION)
    svc = services(tmp_path, shared, "cext")
    staged = svc.sandbox.stage(project)
    try:
        info = asyncio.run(svc.sandbox.environment(staged, plan_install(staged.files, staged.read_text)))
        assert info is not None and any(p.startswith("-e ") for p in info.packages)
        assert staged.env is not None and staged.env.overlay is not None  # the .so the build made
        assert any(p.suffix == ".so" for p in staged.env.overlay.rglob("*"))
        run = asyncio.run(svc.sandbox.run(staged, RunSpec(mode=RunMode.SCRIPT, target="probe.py")))
        assert run.exit_code == 0 and run.nonce_ok, run.stderr
        out = run.stdout
        assert "PVE_TEST_SECRET" not in out and "hunter2" not in out
        assert "HOME /tmp\n" in out and "'VIRTUAL_ENV'" in out
        assert "ENV READ-ONLY" in out and "NO NETWORK" in out
    finally:
        svc.sandbox.cleanup(staged)


def test_concurrent_builds_of_one_key_build_once(tmp_path, shared):
    project = write(tmp_path / "conc", {"requirements.txt": "colorlib==1.0\n"})
    store = EnvironmentStore(shared[0] / "concurrent", env_settings(shared, "concurrent"),
                             builder_uid=61000 - 1 if os.geteuid() == 0 else None, bwrap=shutil.which("bwrap"))
    plan = plan_install(["requirements.txt"], lambda n: (project / n).read_text())
    results = []

    def build():
        results.append(store.prepare(plan, project, lambda n: (project / n).read_text()))

    threads = [threading.Thread(target=build) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({r.info.key for r in results}) == 1
    assert sorted(r.info.reused for r in results) == [False, True, True]  # one built, two waited and found it
    assert not list(store.root.glob("tmp-*"))  # nothing half-built left behind


def test_least_recently_used_environments_are_evicted_past_the_bound(tmp_path, shared):
    store = EnvironmentStore(shared[0] / "evict", env_settings(shared, "evict", store_bytes=1),
                             builder_uid=61000 - 1 if os.geteuid() == 0 else None, bwrap=shutil.which("bwrap"))
    def build(requirement: str):
        project = write(tmp_path / requirement, {"requirements.txt": requirement + "\n"})
        read = lambda n: (project / n).read_text()  # noqa: E731
        return store.prepare(plan_install(["requirements.txt"], read), project, read)

    first = build("colorlib==1.0")
    held = store.hold(first)  # a session is running with it
    second = build("colorlib==2.0")
    assert first.path.exists() and second.path.exists()  # in use: passed by, though past the bound
    store.release(held)
    third = build("colorlib")
    assert not first.path.exists() and not second.path.exists()  # least recently used went
    assert third.path.exists()  # the newest is kept even past the bound


def test_a_python_the_machine_does_not_have_is_said_not_downloaded(tmp_path, shared):
    project = write(tmp_path / "future", {"pyproject.toml": '[project]\nname = "f"\nversion = "1"\n'
                                                            'requires-python = ">=3.99"\ndependencies = ["colorlib"]\n'})
    svc = services(tmp_path, shared, "future")
    staged = svc.sandbox.stage(project)
    try:
        with pytest.raises(DependencyError, match=r"no Python on this machine satisfies requires-python >=3.99"):
            asyncio.run(svc.sandbox.environment(staged, plan_install(staged.files, staged.read_text)))
    finally:
        svc.sandbox.cleanup(staged)


@pytest.mark.parametrize("output, package, words", [
    ("  × No solution found when resolving dependencies:\n  ╰─▶ Because nosuchpkg was not found in the package registry "
     "and you require nosuchpkg==3.1, we can conclude that your requirements are unsatisfiable.\n",
     "nosuchpkg", "nosuchpkg was not found in the package registry"),
    ("  × Failed to build `psycopg2==2.9.9`\n  ├─▶ The build backend returned an error\n  ╰─▶ Call to "
     "`setuptools.build_meta.build_wheel` failed (exit status: 1)\n", "psycopg2", "Call to"),
    ("error: Failed to parse: `requirements.txt`\n  Caused by: Expected package name\n", "", "Failed to parse"),
    ("  × No solution found when resolving dependencies:\n  ╰─▶ Because only the following versions of astroid are "
     "available:\n          astroid<=4.1.dev0\n      and pylint==4.0.7 depends on astroid>=4.0.2,<=4.1.dev0\n",
     "astroid", "only the following versions of astroid"),
])
def test_the_installers_words_become_one_line(output, package, words):
    got_package, reason = installer_reason(output)
    assert got_package == package and words in reason and "\n" not in reason


def built(tmp_path, shared, name, files):
    """Stage ``files``, build their environment; (the environment's info, the staged project)."""
    project = write(tmp_path / name, files)
    svc = services(tmp_path, shared, name)
    staged = svc.sandbox.stage(project)
    info = asyncio.run(svc.sandbox.environment(staged, plan_install(staged.files, staged.read_text)))
    return svc, staged, info


PROBE = "import colorlib\nprint('FAVOURITE', colorlib.favourite())\n"


def test_uv_lock_is_synced_frozen(tmp_path, shared):
    files = {"pyproject.toml": '[project]\nname = "locked"\nversion = "0.1"\ndependencies = ["colorlib"]\n'
                               + SETUPTOOLS_BACKEND, "locked/__init__.py": "", "probe.py": PROBE}
    project = write(tmp_path / "lockgen", files)
    # The lock, made the way a maintainer makes it (here against the wheel folder), pinning 1.0
    # although 2.0 exists: what the lock says is what the environment gets.
    done = subprocess.run([shutil.which("uv", path=str(Path(sys.executable).parent)), "lock", "--no-index",
                           "--find-links", str(shared[1]), "--upgrade-package", "colorlib==1.0"], cwd=project,
                          capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                                                              "UV_PYTHON": "/usr/bin/python3"})
    assert done.returncode == 0, done.stderr
    files["uv.lock"] = (project / "uv.lock").read_text()
    assert 'name = "colorlib"\nversion = "1.0"' in files["uv.lock"]
    svc, staged, info = built(tmp_path, shared, "uvlock", files)
    try:
        assert info.kind == "uv.lock" and "colorlib==1.0" in info.packages
        run = asyncio.run(svc.sandbox.run(staged, RunSpec(mode=RunMode.SCRIPT, target="probe.py")))
        assert "FAVOURITE red" in run.stdout, run.stderr
    finally:
        svc.sandbox.cleanup(staged)


def test_poetry_lock_pins_constrain_the_project(tmp_path, shared):
    files = {"pyproject.toml": '[project]\nname = "poetic"\nversion = "0.1"\ndependencies = ["colorlib"]\n'
                               + SETUPTOOLS_BACKEND, "poetic/__init__.py": "",
             "poetry.lock": '[[package]]\nname = "colorlib"\nversion = "1.0"\n', "probe.py": PROBE}
    svc, staged, info = built(tmp_path, shared, "poetry", files)
    try:
        assert info.kind == "poetry.lock" and "colorlib==1.0" in info.packages  # not the newest, 2.0
    finally:
        svc.sandbox.cleanup(staged)


def test_a_dev_tool_that_pins_the_project_s_releases_is_installed_beside_its_source(tmp_path, shared):
    """astroid's development requirements hold pylint, which pins astroid's releases: the
    project's own source wins over that pin (and stays the project, not a release from the index)."""
    from tests.wheelhouse import write_wheel
    write_wheel(shared[1], "linthelper", "1.0", {"linthelper.py": "VERSION = '1.0'\n"}, requires=["tinytool<2"])
    write_wheel(shared[1], "tinytool", "1.5", {"tinytool/__init__.py": "WHERE = 'the index'\n"})
    files = {"pyproject.toml": '[project]\nname = "tinytool"\nversion = "3.0"\ndependencies = ["colorlib"]\n'
                               + SETUPTOOLS_BACKEND, "tinytool/__init__.py": "WHERE = 'the source'\n",
             "requirements-dev.txt": "linthelper\n",
             "probe.py": "import linthelper, tinytool\nprint('FROM', tinytool.WHERE, linthelper.VERSION)\n"}
    svc, staged, info = built(tmp_path, shared, "override", files)
    try:
        assert info.kind == "requirements" and "linthelper==1.0" in info.packages
        assert not any(p.startswith("tinytool==1.5") for p in info.packages)  # not the release the tool pins
        run = asyncio.run(svc.sandbox.run(staged, RunSpec(mode=RunMode.SCRIPT, target="probe.py")))
        assert "FROM the source 1.0" in run.stdout, run.stderr
    finally:
        svc.sandbox.cleanup(staged)


def test_a_virtualenv_the_caller_built_is_used_as_it_is(tmp_path, shared):
    """The GitHub Action's case: the job's test step made a virtualenv with the project's
    dependencies; PVE_ENV_FROM binds it read-only instead of building one (no declaration is
    even needed), and its packages are what the runs import."""
    venv = shared[0] / "job-venv"
    uv = shutil.which("uv", path=str(Path(sys.executable).parent))
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    subprocess.run([uv, "venv", "-q", "--python", "/usr/bin/python3", str(venv)], check=True, env=env)
    subprocess.run([uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"), "--no-index",
                    "--find-links", str(shared[1]), "colorlib==2.0", "pytest"], check=True, env=env)
    for folder, _dirs, files in os.walk(venv):
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), os.stat(os.path.join(folder, name)).st_mode | 0o444)
    project = write(tmp_path / "given", {"probe.py": PROBE})  # no declaration at all
    svc = services(tmp_path, shared, "given", given=venv)
    staged = svc.sandbox.stage(project)
    try:
        info = asyncio.run(svc.sandbox.environment(staged, plan_install(staged.files, staged.read_text)))
        assert info is not None and info.kind == "the caller's virtualenv (PVE_ENV_FROM)" and info.reused
        assert "colorlib==2.0" in info.packages and info.key.startswith("given-")
        run = asyncio.run(svc.sandbox.run(staged, RunSpec(mode=RunMode.SCRIPT, target="probe.py")))
        assert "FAVOURITE" in run.stdout, run.stderr
    finally:
        svc.sandbox.cleanup(staged)
    bad = services(tmp_path, shared, "given-bad", given=tmp_path)  # not a virtualenv
    staged = bad.sandbox.stage(project)
    try:
        with pytest.raises(DependencyError, match="is not a virtualenv"):
            asyncio.run(bad.sandbox.environment(staged, plan_install(staged.files, staged.read_text)))
    finally:
        bad.sandbox.cleanup(staged)


def test_pipfile_lock_pins_are_installed(tmp_path, shared):
    lock = json.dumps({"_meta": {}, "default": {"colorlib": {"version": "==2.0"}}, "develop": {}})
    svc, staged, info = built(tmp_path, shared, "pipfile", {"Pipfile": "", "Pipfile.lock": lock, "probe.py": PROBE})
    try:
        assert info.kind == "Pipfile.lock" and "colorlib==2.0" in info.packages
        run = asyncio.run(svc.sandbox.run(staged, RunSpec(mode=RunMode.SCRIPT, target="probe.py")))
        assert "FAVOURITE crimson" in run.stdout, run.stderr
    finally:
        svc.sandbox.cleanup(staged)


def test_the_repositorys_install_commands_run_in_the_build_and_their_files_reach_each_run(tmp_path, shared):
    project = write(tmp_path / "gen", {"ci/reqs.txt": "colorlib==1.0\n",
                                       "probe.py": "from _version import VERSION\nimport colorlib\n"
                                                   "print('GENERATED', VERSION, colorlib.favourite())\n"})
    svc = services(tmp_path, shared, "gen")
    staged = svc.sandbox.stage(project)
    try:
        plan = plan_install(staged.files, staged.read_text, config={
            "files": ["ci/reqs.txt"], "commands": ["python -c \"open('_version.py', 'w').write('VERSION = 7')\""]})
        info = asyncio.run(svc.sandbox.environment(staged, plan))
        assert info.kind == "pve.yml" and "colorlib==1.0" in info.packages
        run = asyncio.run(svc.sandbox.run(staged, RunSpec(mode=RunMode.SCRIPT, target="probe.py")))
        assert "GENERATED 7 red" in run.stdout, run.stderr
        assert not (project / "_version.py").exists()  # the user's folder is never written
    finally:
        svc.sandbox.cleanup(staged)


def test_a_build_cannot_reach_another_tenants_environment_or_its_own_finished_ones(tmp_path, shared):
    """The attack (a repository's install commands, as .github/pve.yml gives them, or any
    setup.py): plant a .pth in a private repository's environment so it runs in that
    repository's later verifications, and copy its source out. Each tenant has its own store;
    a build sees its own folder, the scratch project and its tenant's cache only; a finished
    environment is read-only and, when builds run as their own uid, not the builder's."""
    svc = services(tmp_path, shared, "tenants")
    victim = write(tmp_path / "victim", {"requirements.txt": "colorlib==1.0\n", "secret_credentials.py": "KEY = 'AKIA...'\n",
                                         "probe.py": "import colorlib\nprint('VICTIM RAN', colorlib.favourite())\n"})
    staged_v = svc.sandbox.stage(victim)
    staged_v.tenant = "installation-7-private"
    try:
        info_v = asyncio.run(svc.sandbox.environment(staged_v, plan_install(staged_v.files, staged_v.read_text)))
        assert info_v is not None
        attack = ("import glob, os, shutil\n"
                  "hits = []\n"
                  "for site in glob.glob('/envs/**/site-packages', recursive=True) + glob.glob('/envs/*/venv/lib/*/site-packages'):\n"
                  "    try:\n"
                  "        open(os.path.join(site, 'zz_owned.pth'), 'w').write('import os; print(\"OWNED\")\\n'); hits.append(site)\n"
                  "    except OSError:\n        pass\n"
                  "found = glob.glob('/envs/**/secret_credentials.py', recursive=True) + glob.glob('/work/**/secret_credentials.py', recursive=True)\n"
                  "open('loot.txt', 'w').write(repr([hits, found, sorted(os.listdir('/envs'))]))\n")
        attacker = write(tmp_path / "attacker", {"requirements.txt": "colorlib==2.0\n", "attack_build.py": attack,
                                                 "probe.py": "print(open('loot.txt').read())\n"})
        staged_a = svc.sandbox.stage(attacker)
        staged_a.tenant = "installation-9-public"
        try:
            plan = plan_install(staged_a.files, staged_a.read_text, config={"commands": ["python attack_build.py"]})
            asyncio.run(svc.sandbox.environment(staged_a, plan))
            loot = asyncio.run(svc.sandbox.run(staged_a, RunSpec(mode=RunMode.SCRIPT, target="probe.py"))).stdout
        finally:
            svc.sandbox.cleanup(staged_a)
        hits, found, visible = eval(loot.strip().splitlines()[-1])  # (its own environment runs its .pth: its business)
        # only its own (unfinished) venv took the .pth: no other environment was even visible
        assert all("/envs/tmp-" in h for h in hits) and found == [], (hits, found)
        assert sorted(v for v in visible if v != "cache")[0].startswith("tmp-") and len(visible) == 2, visible
        # the victim's runs are untouched, its environment sealed
        run = asyncio.run(svc.sandbox.run(staged_v, RunSpec(mode=RunMode.SCRIPT, target="probe.py")))
        assert "VICTIM RAN red" in run.stdout and "OWNED" not in run.stdout + run.stderr
        env = staged_v.env.path.parent
        assert env.parent.name == "installation-7-private"
        modes = [p.stat().st_mode for p in env.rglob("*") if not p.is_symlink()]
        assert modes and not any(m & 0o222 for m in modes)  # no write bit anywhere
        if os.geteuid() == 0:
            assert {p.lstat().st_uid for p in env.rglob("*")} == {0}  # not the builder's
    finally:
        svc.sandbox.cleanup(staged_v)


def test_a_public_and_a_private_repository_never_share_a_store():
    from pve.models import Origin
    from sandbox.environments import tenant_of

    public = tenant_of(Origin(repo="octo/a", sha="a" * 40, installation=7, private=False))
    private = tenant_of(Origin(repo="octo/b", sha="a" * 40, installation=7, private=True))
    other = tenant_of(Origin(repo="mallory/c", sha="a" * 40, installation=9, private=False))
    assert len({public, private, other, tenant_of(None)}) == 4
    assert tenant_of(Origin(repo="octo/b", sha="a" * 40)) .endswith("-private")  # unknown visibility: private
    fork = tenant_of(Origin(repo="octo/a", sha="a" * 40, installation=7, private=False, fork="mallory/a"))
    assert fork.startswith(public) and fork != public  # a fork's builds are never the repository's


def _simple_index(wheels: Path, root: Path) -> Path:
    """A PEP 503 index of ``wheels`` (the registry a mirror would be)."""
    import re as _re

    for wheel in wheels.glob("*.whl"):
        name = _re.sub(r"[-_.]+", "-", wheel.name.split("-")[0]).lower()
        page = root / "simple" / name
        page.mkdir(parents=True, exist_ok=True)
        shutil.copy(wheel, page / wheel.name)
        (page / "index.html").write_text("".join(f'<a href="{w.name}">{w.name}</a>\n' for w in page.glob("*.whl")))
    return root


def test_a_build_reaches_the_package_index_and_nothing_else(tmp_path, shared):
    """The attack from a repository's install commands: reach PVE's own port on 127.0.0.1 and
    the cloud metadata service, directly and through the build's proxy. The build has its own
    network namespace; its one way out, the index proxy, opens the configured index only (here a
    mirror on this host that the operator named), so the install itself still works."""
    import http.server
    import socket as _socket

    base, wheels = shared
    index_root = _simple_index(wheels, tmp_path / "index")
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(index_root), **k)  # noqa: E731
    index = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    pve_port = _socket.socket()
    pve_port.bind(("127.0.0.1", 0))
    pve_port.listen()
    threading.Thread(target=index.serve_forever, daemon=True).start()
    probe = ("import os, socket, urllib.request\n"
             "out = []\n"
             f"for host, port in (('127.0.0.1', {pve_port.getsockname()[1]}), ('169.254.169.254', 80), ('1.1.1.1', 443)):\n"
             "    try:\n        socket.create_connection((host, port), timeout=3).close(); out.append(f'direct {host} reached')\n"
             "    except OSError as e:\n        out.append(f'direct {host} {type(e).__name__}')\n"
             "proxy = os.environ.get('HTTP_PROXY')\n"
             "for url in ('http://169.254.169.254/latest/meta-data/', "
             f"'http://127.0.0.1:{pve_port.getsockname()[1]}/'):\n"
             "    try:\n        urllib.request.build_opener(urllib.request.ProxyHandler({'http': proxy})).open(url, timeout=5)\n"
             "        out.append(f'proxy {url} reached')\n"
             "    except Exception as e:\n        out.append(f'proxy {url} {getattr(e, \"code\", type(e).__name__)}')\n"
             "import ctypes, resource\n"
             "out.append('unshare ' + ('allowed' if ctypes.CDLL(None).unshare(0x10000000) == 0 else 'denied'))\n"
             "out.append(f'nproc {resource.getrlimit(resource.RLIMIT_NPROC)[0]}')\n"
             "open('_netprobe.py', 'w').write('RESULT = ' + repr(out))\n")
    project = write(tmp_path / "net", {"requirements.txt": "colorlib==1.0\n", "netprobe_build.py": probe,
                                       "probe.py": "from _netprobe import RESULT\nimport colorlib\nprint(RESULT, colorlib.favourite())\n"})
    settings = replace(Settings.from_env({}), home=tmp_path / "home")
    env = EnvironmentSettings(root=base / "netstore", network=True,
                              index_url=f"http://127.0.0.1:{index.server_address[1]}/simple")
    svc = bootstrap.services(replace(settings, sandbox=replace(settings.sandbox, environments=env)))
    staged = svc.sandbox.stage(project)
    try:
        plan = plan_install(staged.files, staged.read_text, config={"files": ["requirements.txt"],
                                                                     "commands": ["python netprobe_build.py"]})
        info = asyncio.run(svc.sandbox.environment(staged, plan))
        assert "colorlib==1.0" in info.packages  # installed from the index, through the proxy
        run = asyncio.run(svc.sandbox.run(staged, RunSpec(mode=RunMode.SCRIPT, target="probe.py")))
        assert "red" in run.stdout, run.stderr
        seen = run.stdout
        assert "reached" not in seen and seen.count("direct") == 3, seen
        assert "unshare denied" in seen and "nproc 512" in seen  # the runs' seccomp deny-list, and limits
        assert "proxy http://169.254.169.254/latest/meta-data/ 403" in seen and f"127.0.0.1:{pve_port.getsockname()[1]}/ 403" in seen
    finally:
        svc.sandbox.cleanup(staged)
        index.shutdown()
        pve_port.close()


def test_a_build_cannot_poison_the_cache_the_next_build_installs_from(tmp_path, shared):
    """The same tenant (one installation's public repositories, a fork's pull request among
    them): a build rewrites a cached package in place and plants a new one, then a later build
    of another repository installs that package from the cache. Only the prefetch (wheels, no
    code) writes the shared cache; a build works on a private copy that is thrown away."""
    svc = services(tmp_path, shared, "poison")
    poison = ("import glob, os\nhit = []\n"
              "for path in glob.glob('/envs/cache/**/colorlib/__init__.py', recursive=True):\n"
              "    for how in ('append', 'replace'):\n"
              "        try:\n"
              "            if how == 'append':\n                open(path, 'a').write('\\nprint(\"POISONED\")\\n')\n"
              "            else:\n"
              "                tmp = path + '.x'; open(tmp, 'w').write('print(\"POISONED\")\\n'); os.replace(tmp, path)\n"
              "            hit.append(how)\n"
              "        except OSError:\n            pass\n"
              "open('_hits.py', 'w').write(f'HITS = {hit!r}')\n")
    attacker = write(tmp_path / "attacker", {"requirements.txt": "colorlib==1.0\n", "poison.py": poison,
                                             "probe.py": "from _hits import HITS\nprint('HITS', HITS)\n"})
    victim = write(tmp_path / "victim", {"requirements.txt": "colorlib==1.0  # the victim's\n",
                                         "probe.py": "import colorlib\nprint('VICTIM', colorlib.favourite())\n"})
    staged_a, staged_v = svc.sandbox.stage(attacker), svc.sandbox.stage(victim)
    try:
        plan = plan_install(staged_a.files, staged_a.read_text, config={"files": ["requirements.txt"],
                                                                         "commands": ["python poison.py"]})
        asyncio.run(svc.sandbox.environment(staged_a, plan))
        hits = asyncio.run(svc.sandbox.run(staged_a, RunSpec(mode=RunMode.SCRIPT, target="probe.py"))).stdout
        assert "HITS" in hits  # the attack ran, in its own build
        asyncio.run(svc.sandbox.environment(staged_v, plan_install(staged_v.files, staged_v.read_text)))
        run = asyncio.run(svc.sandbox.run(staged_v, RunSpec(mode=RunMode.SCRIPT, target="probe.py")))
        assert "VICTIM red" in run.stdout and "POISONED" not in run.stdout + run.stderr, (hits, run.stdout, run.stderr)
    finally:
        svc.sandbox.cleanup(staged_a)
        svc.sandbox.cleanup(staged_v)
