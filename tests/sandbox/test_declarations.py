"""Reading what a project needs, in every declaration style, without running any of its code."""

from __future__ import annotations

import json

import pytest

from sandbox.declarations import _poetry_version, declares, fallback_plans, plan_install


def plan(files: dict[str, str], config=None):
    def read(name: str) -> str:
        if name not in files:
            raise FileNotFoundError(name)
        return files[name]
    return plan_install(files, read, config=config)


PEP621 = """[project]\nname = "tk"\nversion = "1"\nrequires-python = ">=3.10"\ndependencies = ["requests>=2"]
[project.optional-dependencies]\ntest = ["pytest-mock"]\ndocs = ["sphinx"]\n
[dependency-groups]\ndev = ["hypothesis"]\nlint = ["ruff"]\n"""


def test_a_pep621_project_is_installed_editable_with_its_test_extras_and_groups():
    p = plan({"pyproject.toml": PEP621})
    assert (p.kind, p.editable, p.extras, p.groups, p.packages) == ("project", True, ["test"], ["dev"], ["pytest"])
    assert p.files == ["pyproject.toml"] and p.requires_python == ">=3.10"


def test_a_project_that_declares_nothing_needs_no_environment():
    assert plan({"pyproject.toml": '[project]\nname = "stats"\nversion = "0.1"\n'}).kind == "none"
    assert plan({"app.py": "print(1)"}).kind == "none"


def test_uv_lock_wins_and_keys_on_the_lock():
    p = plan({"pyproject.toml": PEP621, "uv.lock": "version = 1\n", "requirements.txt": "x\n"})
    assert (p.kind, p.files, p.editable) == ("uv.lock", ["pyproject.toml", "uv.lock"], True)


def test_poetry_lock_pins_constrain_the_project_and_its_dev_groups():
    pyproject = ('[tool.poetry]\nname = "p"\nversion = "1"\n[tool.poetry.dependencies]\npython = "^3.9"\nattrs = "^22.1"\n'
                 '[tool.poetry.group.test.dependencies]\npytest-cov = "~4.1"\n[tool.poetry.group.docs.dependencies]\nmkdocs = "*"\n')
    lock = ('[[package]]\nname = "attrs"\nversion = "22.2.0"\n\n[[package]]\nname = "local"\nversion = "0"\n'
            '[package.source]\ntype = "directory"\nurl = "../local"\n')
    p = plan({"pyproject.toml": pyproject, "poetry.lock": lock})
    assert p.kind == "poetry.lock" and p.editable
    assert p.constraints == ["attrs==22.2.0"]
    assert p.packages == ["pytest", "pytest-cov>=4.1,<4.2"]
    assert p.requires_python == ">=3.9,<4"


def test_pipfile_lock_pins_are_the_requirements():
    lock = json.dumps({"default": {"requests": {"version": "==2.31.0"}},
                       "develop": {"pytest": {"version": "==8.0.0", "markers": "python_version >= '3.8'"}}})
    p = plan({"Pipfile": "", "Pipfile.lock": lock})
    assert p.kind == "Pipfile.lock" and not p.editable
    assert p.packages == ["pytest==8.0.0; python_version >= '3.8'", "requests==2.31.0", "pytest"]


def test_requirement_files_follow_includes_and_skip_docs():
    files = {"requirements.txt": "-r requirements/base.txt\nrequests\n", "requirements-docs.txt": "sphinx\n",
             "requirements/base.txt": "-c ../constraints.txt\nattrs\n", "requirements/test.txt": "-r base.txt\npytest\n",
             "constraints.txt": "attrs<23\n", "setup.py": "from setuptools import setup\nsetup(install_requires=['six'])\n"}
    p = plan(files)
    assert p.kind == "requirements"
    assert p.requirements == ["requirements.txt", "requirements/base.txt", "requirements/test.txt"]
    assert p.files == ["constraints.txt", "requirements.txt", "requirements/base.txt", "requirements/test.txt", "setup.py"]
    assert p.editable  # setup.py declares install_requires


@pytest.mark.parametrize("name, found", [("requirements-dev.txt", True), ("dev-requirements.txt", True),
                                         ("test.requirements.txt", True), ("requirements_test.txt", True),
                                         ("docs-requirements.txt", False), ("requirements.in", False),
                                         ("myrequirements.txt", False)])
def test_requirement_file_names(name, found):
    assert (plan({name: "x\n"}).kind == "requirements") is found


def test_setup_cfg_extras_and_python_requires():
    cfg = "[metadata]\nname = x\n[options]\npython_requires = >=3.8\ninstall_requires =\n    six\n" \
          "[options.extras_require]\ntesting = pytest-xdist\ndocs = sphinx\n"
    p = plan({"setup.cfg": cfg})
    assert (p.kind, p.extras, p.requires_python) == ("project", ["testing"], ">=3.8")


def test_the_repositorys_own_install_section_replaces_detection():
    p = plan({"pyproject.toml": PEP621, "ci/reqs.txt": "-r more.txt\nx\n", "ci/more.txt": "y\n"},
             config={"files": ["ci/reqs.txt"], "packages": ["numpy"], "commands": ["make generated"], "editable": False})
    assert p.kind == "pve.yml" and not p.editable
    assert p.files == ["ci/more.txt", "ci/reqs.txt", "pyproject.toml"]
    assert (p.packages, p.commands) == (["numpy", "pytest"], ["make generated"])


@pytest.mark.parametrize("spec, want", [("^20.08b1", ">=20.08b1,<21"), ("^1.2.3", ">=1.2.3,<2"), ("^0.2.3", ">=0.2.3,<0.3"), ("~1.2", ">=1.2,<1.3"),
                                        ("*", ""), (">=1,<2", ">=1,<2"), ("1.4", "==1.4")])
def test_poetry_version_constraints(spec, want):
    assert _poetry_version(spec) == want


def test_broken_declarations_are_read_as_nothing_not_a_crash():
    assert plan({"pyproject.toml": "this = = broken"}).kind == "none"
    assert plan({"pyproject.toml": PEP621, "poetry.lock": "broken = ="}).constraints == []


def test_tox_deps_are_test_dependencies():
    files = {"setup.py": "from setuptools import setup\nsetup(name='x')\n",
             "tox.ini": "[tox]\nenvlist = py311\n\n[testenv]\ndeps =\n    pytest-mock>=3  # the suite's fixtures\n"
                        "    -rrequirements-test.txt\n    {[base]deps}\n    hypothesis\ncommands = pytest\n"}
    plan = plan_install(files, files.__getitem__)
    assert plan.packages[-2:] == ["pytest-mock>=3", "hypothesis"] and "tox.ini" in plan.files
    alone = {"tox.ini": files["tox.ini"]}
    assert plan_install(alone, alone.__getitem__).kind == "tox.ini"
    assert plan_install({"tox.ini": "[tox]\nenvlist = py\n"}, {"tox.ini": "[tox]\nenvlist = py\n"}.__getitem__).kind == "none"


def test_tox_deps_for_some_factors_only():
    """pyparsing's tox.ini (3.2): ``unit: pytest`` is a dependency of the ``unit`` environments,
    which run pytest; it was read as a requirement named "unit: pytest" (uv: a path)."""
    pyparsing = ("[testenv]\ndeps =\n    unit: pytest\n    #unit: matplotlib\n    doctest: sphinx\n    doctest: myst-parser\n"
                 "extras = unit: diagrams\ncommands =\n    unit: pytest tests examples/tiny/tests {posargs}\n"
                 "    doctest: sphinx-build -b doctest docs docs/_build/doctest\n")
    files = {"tox.ini": pyparsing}
    assert plan_install(files, files.__getitem__).packages == ["pytest"]
    # no factor-conditional command: every factor's dependencies but a Python version's
    plain = {"tox.ini": "[testenv]\ndeps =\n    py27: mock\n    coverage\n    test,lint: hypothesis\ncommands = pytest\n"}
    assert plan_install(plain, plain.__getitem__).packages[-2:] == ["coverage", "hypothesis"]
    assert "mock" not in plan_install(plain, plain.__getitem__).packages


def test_what_does_not_build_as_declared_falls_back_to_the_metadata_then_to_unpinned_requirements():
    """isort's 2020 poetry.lock and dateutil's 2018 setup.py no longer build on today's Python."""
    files = {"pyproject.toml": '[tool.poetry]\nname = "isort"\nversion = "5"\n[tool.poetry.dependencies]\n'
                               'python = "^3.6"\ntoml = {version = "^0.10", optional = true}\n'
                               '[tool.poetry.dev-dependencies]\nblack = {version = "^20.08b1", allow-prereleases = true}\n'
                               '[build-system]\nrequires = ["poetry>=0.12"]\nbuild-backend = "poetry.masonry.api"\n',
             "poetry.lock": '[[package]]\nname = "black"\nversion = "20.8b1"\n'}
    read = files.__getitem__
    locked = plan(files)
    assert locked.kind == "poetry.lock" and "black>=20.08b1,<21" in locked.packages
    steps = fallback_plans(locked, files, read, "No solution found when resolving dependencies")
    assert [(p.kind, p.editable) for p, _ in steps] == [("project", True), ("unpinned", False)]
    assert "instead of poetry.lock" in steps[0][1] and "imported from its source" in steps[1][1]
    assert steps[1][0].packages == ["pytest", "black", "toml"] and steps[1][0].constraints == []
    # the project's own build failed: building it again from its metadata cannot help
    own = fallback_plans(locked, files, read, "Failed to build `isort @ file:///work/src`")
    assert [p.kind for p, _ in own] == ["unpinned"]
    setup = {"setup.py": "setup(install_requires=['six >=1.5'])\n", "requirements-dev.txt": "freezegun\nmock ; python_version < '3.0'\n"}
    steps = fallback_plans(plan(setup), setup, setup.__getitem__, "build_editable failed")
    assert [p.kind for p, _ in steps] == ["unpinned"] and steps[0][0].packages == ["pytest", "freezegun", "six"]


def test_the_project_s_own_source_wins_over_a_dev_tool_s_pin_of_its_releases():
    """astroid's development requirements hold pylint, which pins astroid's releases: without
    the override, no resolution holds both pylint and astroid's own source."""
    files = {"pyproject.toml": '[project]\nname = "astroid"\nversion = "4.2.0b3"\ndependencies = ["typing-extensions"]\n',
             "requirements_full.txt": "-r requirements_dev.txt\nattrs\n", "requirements_dev.txt": "black\npylint>=4.0.7\n"}
    p = plan(files)
    assert (p.kind, p.editable, p.overrides) == ("requirements", True, ["astroid"])
    assert plan({"requirements.txt": "requests\n"}).overrides == []  # nothing of its own to install: nothing to override
    assert declares("pylint", files, files.__getitem__) and declares("attrs", files, files.__getitem__)
    assert not declares("flake8", files, files.__getitem__) and not declares("pylint-plugin", files, files.__getitem__)
