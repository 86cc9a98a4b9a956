"""The SAM template: cfn-lint on it and on its offline translation to CloudFormation by
aws-sam-translator (cfn-lint 1.58 no longer runs the translator itself, and misses what only the
translation shows: PLATFORM.md), and the table it declares agrees with the one the code uses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from store.dynamo import table_definition

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "infra" / "template.yaml"
ASL = ROOT / "statemachine" / "verify.asl.json"


class Policies:
    """The managed policies SAM's resources name, without asking IAM."""

    def load(self) -> dict[str, str]:
        names = ("AWSLambdaBasicExecutionRole", "AWSLambdaVPCAccessExecutionRole", "AWSXrayWriteOnlyAccess",
                 "AWSXRayDaemonWriteAccess")
        return {n: f"arn:aws:iam::aws:policy/service-role/{n}" for n in names}


def translated(template: dict) -> dict:
    from samtranslator.translator.transform import transform

    local = json.loads(json.dumps(template))
    for resource in local["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function" and props.get("CodeUri") == "..":
            props["CodeUri"] = "s3://pve-artifacts/pve.zip"  # what `sam package` puts there
        if resource["Type"] == "AWS::Serverless::StateMachine":
            props["Definition"] = json.loads((TEMPLATE.parent / props.pop("DefinitionUri")).read_text())
    params = {"SandboxImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/pve-sandbox:1"}
    return transform(local, params, Policies())


def load(path: Path) -> dict:
    from samtranslator.yaml_helper import yaml_parse

    return yaml_parse(path.read_text())


def cfn_lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), str(path)], capture_output=True, text=True,
                          timeout=120)


def test_the_template_and_its_translation_pass_cfn_lint(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    out = cfn_lint(TEMPLATE)
    assert out.returncode == 0, out.stdout + out.stderr
    cfn = translated(load(TEMPLATE))
    (tmp_path / "cfn.json").write_text(json.dumps(cfn))
    out = cfn_lint(tmp_path / "cfn.json")
    assert out.returncode == 0, out.stdout + out.stderr
    types = {r["Type"] for r in cfn["Resources"].values()}
    assert {"AWS::StepFunctions::StateMachine", "AWS::Lambda::Function", "AWS::DynamoDB::Table",
            "AWS::ApiGatewayV2::Api", "AWS::EC2::VPCEndpoint"} <= types


def test_a_broken_template_is_caught_by_the_translation(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    broken = load(TEMPLATE)
    broken["Resources"]["WebhookFunction"]["Properties"]["Events"]["GitHub"]["Properties"]["Methd"] = "POST"
    with pytest.raises(Exception, match=r"Methd|property"):
        translated(broken)


def test_the_sandbox_function_holds_no_data_permissions_and_no_egress(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    cfn = translated(load(TEMPLATE))
    roles = {k: v for k, v in cfn["Resources"].items() if v["Type"] == "AWS::IAM::Role"}
    role = roles["SandboxFunctionRole"]["Properties"]
    assert role.get("Policies", []) == []  # no inline policy: no DynamoDB, S3, Lambda or secrets
    assert set(role["ManagedPolicyArns"]) <= {f"arn:aws:iam::aws:policy/service-role/{n}" for n in (
        "AWSLambdaBasicExecutionRole", "AWSLambdaVPCAccessExecutionRole")}  # its own logs and network interfaces
    fn = cfn["Resources"]["SandboxFunction"]["Properties"]
    assert fn["MemorySize"] == 1024 and fn["Timeout"] == 10 and fn["VpcConfig"]["SubnetIds"]
    assert not fn["Environment"]["Variables"]["PVE_AWS_SECRET_ID"]  # the secrets' name is not even there
    routes = [r for r in cfn["Resources"].values() if r["Type"] == "AWS::EC2::Route"]
    assert routes == []  # no route to the internet from the sandbox's subnets
    assert not [r for r in cfn["Resources"].values() if r["Type"] in ("AWS::EC2::NatGateway", "AWS::EC2::InternetGateway")]


def test_the_table_is_the_one_the_store_creates():
    table = load(TEMPLATE)
    props = table["Resources"]["Table"]["Properties"]
    code = table_definition()
    assert props["TableName"] == code["TableName"] and props["BillingMode"] == code["BillingMode"]
    assert props["KeySchema"] == code["KeySchema"]
    assert sorted(props["AttributeDefinitions"], key=str) == sorted(code["AttributeDefinitions"], key=str)
    assert props["GlobalSecondaryIndexes"] == code["GlobalSecondaryIndexes"]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires", "Enabled": True}


def test_the_sandbox_image_copies_only_what_its_handler_imports():
    """No Docker here: the Dockerfile is checked by reading. Its handler's imports, followed
    through our packages, stay inside what it copies (pve, sandbox, the handler)."""
    import ast

    dockerfile = (ROOT / "infra" / "sandbox.Dockerfile").read_text()
    assert dockerfile.startswith("#") and "FROM public.ecr.aws/lambda/python:3.12" in dockerfile
    for package in ("numpy", "pandas", "scipy", "scikit-learn", "pytest"):
        assert f'"{package}==' in dockerfile
    assert 'CMD ["entrypoints.aws_lambda_sandbox.handler"]' in dockerfile
    copied = ("pve/", "sandbox/", "entrypoints/aws_lambda_sandbox.py", "entrypoints/__init__.py")
    seen, todo = set(), [ROOT / "entrypoints" / "aws_lambda_sandbox.py"]
    while todo:
        path = todo.pop()
        rel = path.relative_to(ROOT).as_posix()
        if rel in seen:
            continue
        seen.add(rel)
        assert rel.startswith(copied), f"the sandbox image does not hold {rel}"
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else [])
            for name in names:
                top = name.split(".")[0]
                if top in ("pve", "sandbox", "entrypoints", "brain", "store", "bot", "statemachine", "webhooks", "web"):
                    target = ROOT / (name.replace(".", "/") + ".py")
                    todo.append(target if target.exists() else ROOT / name.replace(".", "/") / "__init__.py")
    assert "sandbox/function.py" in seen
