"""The deploy path: every action pinned by commit, the deploy role (infra/deploy-role.yaml) trusting
exactly the subject the deploy job's OIDC token carries, and the stack deployed with the sandbox
image the workflow built and pushed, named by its digest."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .conftest import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
DEPLOY = ROOT / ".github" / "workflows" / "deploy.yml"
ROLE = ROOT / "infra" / "deploy-role.yaml"
PINNED = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}$")


def uses_lines(path: Path) -> list[tuple[int, str, str]]:
    """Every ``uses:`` of a workflow or action file: (line, the reference, the comment after it)."""
    found = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        m = re.match(r"^\s*(?:-\s+)?uses:\s*(\S+)\s*(?:#\s*(.*))?$", line)
        if m:
            found.append((n, m.group(1).strip("'\""), (m.group(2) or "").strip()))
    return found


def pin_problems(path: Path) -> list[str]:
    problems = []
    for n, ref, comment in uses_lines(path):
        if ref.startswith("./"):
            continue  # this repository's own action or reusable workflow, at the same commit
        if not PINNED.match(ref):
            problems.append(f"{path.name}:{n}: {ref} is not pinned by a full commit SHA")
        elif not re.match(r"v\d+(\.\d+)*\b", comment):
            problems.append(f"{path.name}:{n}: {ref} does not say its version in a comment (# v1.2.3)")
    return problems


def test_every_action_is_pinned_by_a_full_commit_sha():
    files = [*WORKFLOWS, ROOT / "action.yml"]
    assert sum(len(uses_lines(f)) for f in files) >= 8  # the parse found them
    assert [p for f in files for p in pin_problems(f)] == []


@pytest.mark.parametrize("line, problem", [
    ("      - uses: actions/checkout@v4\n", "not pinned"),
    ("      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af68\n", "not pinned"),  # 39 hex
    ("      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683\n", "does not say its version"),
    ("      - uses: docker://alpine:3\n", "not pinned"),
])
def test_the_pin_check_can_fail(tmp_path, line, problem):
    broken = tmp_path / "ci.yml"
    broken.write_text((ROOT / ".github" / "workflows" / "ci.yml").read_text() + line)
    assert any(problem in p for p in pin_problems(broken)), pin_problems(broken)


def _deploy_job() -> dict:
    jobs = yaml.safe_load(DEPLOY.read_text())["jobs"]
    assuming = [j for j in jobs.values() if any("aws-actions/configure-aws-credentials@" in s.get("uses", "")
                                                 for s in j.get("steps", []))]
    assert len(assuming) == 1, "one job assumes the deploy role"
    return assuming[0]


def _trust() -> dict:
    from samtranslator.yaml_helper import yaml_parse

    role = yaml_parse(ROLE.read_text())["Resources"]["DeployRole"]["Properties"]
    [statement] = role["AssumeRolePolicyDocument"]["Statement"]
    return statement


def test_the_deploy_role_trusts_exactly_the_deploy_job_s_subject():
    """GitHub's token for a job with ``environment: X`` has the subject
    ``repo:OWNER/REPO:environment:X``, whatever the branch: the role's condition must name it."""
    job = _deploy_job()
    environment = job["environment"]
    environment = environment["name"] if isinstance(environment, dict) else environment
    assert environment == "production"
    assert job["permissions"]["id-token"] == "write"  # only this job may ask for a token
    assert "id-token" not in (yaml.safe_load(DEPLOY.read_text()).get("permissions") or {})
    statement = _trust()
    assert statement["Effect"] == "Allow" and statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert set(statement["Condition"]) == {"StringEquals"}  # exact: no StringLike wildcards
    equals = statement["Condition"]["StringEquals"]
    assert equals["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    assert equals["token.actions.githubusercontent.com:sub"] == {"Fn::Sub": f"repo:${{Repository}}:environment:{environment}"}


def test_the_deploy_role_s_provider_is_github_s():
    from samtranslator.yaml_helper import yaml_parse

    template = yaml_parse(ROLE.read_text())
    props = template["Resources"]["GitHubProvider"]["Properties"]
    assert props == {"Url": "https://token.actions.githubusercontent.com", "ClientIdList": ["sts.amazonaws.com"]}
    federated = _trust()["Principal"]["Federated"]
    assert federated == {"Fn::If": ["CreateProvider", {"Fn::GetAtt": ["GitHubProvider", "Arn"]}, {"Ref": "OidcProviderArn"}]}


def test_the_deploy_role_passes_cfn_lint(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    out = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), str(ROLE)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_deploy_role_s_permissions_are_scoped():
    """Nothing but reads, the ECR login and the Region-bound network statement on ``*``; no
    ``service:*`` action anywhere; roles it creates can be passed to Lambda and Step Functions only."""
    from samtranslator.yaml_helper import yaml_parse

    statements = yaml_parse(ROLE.read_text())["Resources"]["DeployRole"]["Properties"]["Policies"][0][
        "PolicyDocument"]["Statement"]
    for s in statements:
        actions = [s["Action"]] if isinstance(s["Action"], str) else s["Action"]
        assert all(not a.endswith(":*") and a != "*" for a in actions), s["Sid"]
        if s["Resource"] == "*":
            assert s["Sid"] in ("TemplateChecks", "EcrLogin", "SandboxNetwork"), s["Sid"]
            if s["Sid"] == "SandboxNetwork":
                assert s["Condition"] == {"StringEquals": {"aws:RequestedRegion": {"Ref": "AWS::Region"}}}
    [passing] = [s for s in statements if s["Action"] == "iam:PassRole"]
    assert passing["Condition"]["StringEquals"]["iam:PassedToService"] == ["lambda.amazonaws.com", "states.amazonaws.com"]


def _steps() -> list[dict]:
    return _deploy_job()["steps"]


def test_the_workflow_builds_and_pushes_the_sandbox_image_and_deploys_its_digest():
    steps = _steps()
    [image] = [k for k, s in enumerate(steps) if "infra/sandbox.Dockerfile" in s.get("run", "")]
    [deploy] = [k for k, s in enumerate(steps) if "sam deploy" in s.get("run", "")]
    assert image < deploy
    run = steps[image]["run"]
    assert re.search(r"docker build .*-f infra/sandbox\.Dockerfile", run.replace("\\\n", " "))
    assert re.search(r"docker push \"\$REPOSITORY:\$GITHUB_SHA\"", run)
    # the digest the push gave, of this repository, is what the stack gets: never a tag
    assert "RepoDigests" in run and '"$REPOSITORY@sha256:"' in run
    assert re.search(r'echo "SANDBOX_IMAGE=\$digest" >> "\$GITHUB_ENV"', run)
    assert not re.search(r"SANDBOX_IMAGE=\$REPOSITORY:", run)
    assert "SandboxImageUri=$SANDBOX_IMAGE" in steps[deploy]["run"]
    later = [s.get("run", "") for s in steps[image + 1:]]
    assert not any("SANDBOX_IMAGE=" in r and "GITHUB_ENV" in r for r in later)  # nothing sets it again
