"""The SAM template: cfn-lint on it and on its offline translation to CloudFormation by
aws-sam-translator (cfn-lint 1.58 no longer runs the translator itself, and misses what only the
translation shows: PLATFORM.md), and the table it declares agrees with the one the code uses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from statemachine.stepfunctions.limits import SANDBOX_FUNCTION_TIMEOUT_S
from store.aws_clients import s3_client
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
        code = props.get("CodeUri")
        if resource["Type"] == "AWS::Serverless::Function" and isinstance(code, str) and not code.startswith("s3://"):
            props["CodeUri"] = f"s3://pve-artifacts/{code.strip('./').replace('/', '-')}.zip"  # what `sam package` puts there
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
    assert fn["MemorySize"] == 1024 and fn["Timeout"] == SANDBOX_FUNCTION_TIMEOUT_S and fn["VpcConfig"]["SubnetIds"]
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


# ---------------------------------------------------------------------------- configuration (SSM)


def _functions(cfn: dict) -> dict[str, dict]:
    return {k: v["Properties"] for k, v in cfn["Resources"].items() if v["Type"] == "AWS::Lambda::Function"}


def _statements(cfn: dict, function: str) -> list[dict]:
    """Every statement of a function's role's inline policies."""
    role = cfn["Resources"][f"{function}Role"]["Properties"]
    found = []
    for policy in role.get("Policies", []):
        statements = policy["PolicyDocument"]["Statement"]
        found += statements if isinstance(statements, list) else [statements]
    return found


def _loads_config(props: dict) -> bool:
    """The zip functions' handler modules (entrypoints/aws_*.py) read pve.config (environment,
    secret, SSM) at cold start; the sandbox function's image holds no such handler."""
    module = props.get("Handler", "").rsplit(".", 1)[0]
    return props.get("PackageType") != "Image" and "config.load()" in (ROOT / f"{module.replace('.', '/')}.py").read_text()


def test_every_function_that_loads_config_reads_exactly_the_ssm_path(monkeypatch):
    assert "PVE_SSM_PATH" in (ROOT / "pve" / "config.py").read_text()
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    template = load(TEMPLATE)
    assert template["Parameters"]["SsmPath"]["Default"] == "/pve"
    cfn = translated(template)
    path_arn = {"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${SsmPath}"}
    loading = {name for name, props in _functions(cfn).items() if _loads_config(props)}
    assert {"WebhookFunction", "ControllerFunction", "ValidateFunction", "NotifierFunction", "ConsoleFunction"} <= loading
    for name, props in _functions(cfn).items():
        ssm = [s for s in _statements(cfn, name) if any(str(a).startswith("ssm:") for a in
                                                         ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))]
        variables = props.get("Environment", {}).get("Variables", {})
        if name in loading:
            assert variables.get("PVE_SSM_PATH") == {"Ref": "SsmPath"}, name
            assert [(s["Effect"], s["Action"], s["Resource"]) for s in ssm] == \
                [("Allow", "ssm:GetParametersByPath", path_arn)], name
        else:  # the sandbox function: neither the path's name nor a way to read it
            assert not variables.get("PVE_SSM_PATH") and ssm == [], name
    # no KMS grant: SecureStrings under the AWS-managed key aws/ssm decrypt for any principal of
    # the account that may read the parameter through SSM (its key policy's kms:ViaService)
    assert not [s for name in _functions(cfn) for s in _statements(cfn, name) if "kms:" in json.dumps(s["Action"])]


# ---------------------------------------------------------------------------- the bucket's lifecycle


def _rules() -> dict[str, dict]:
    rules = load(TEMPLATE)["Resources"]["Bucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert all(r["Status"] == "Enabled" for r in rules)
    return {r["Prefix"]: r for r in rules}


def test_every_prefix_the_code_writes_to_s3_has_its_lifecycle_rule(monkeypatch):
    """The keys the store writes, found by writing each kind (a session with a fix over the item
    limit, an artifact, a snapshot, a large webhook payload) into moto's bucket; and no other
    module writes to S3. Each prefix written has a rule, and no rule names a prefix nothing writes."""
    import re

    from pve.models import Candidate, FileEdit, Session, SessionStatus
    from store.dynamo import EVENT_TTL, INLINE_LIMIT, JOB_TTL, TRIGGER_TTL
    from tests.aws import BUCKET, aws, dynamo_store

    writers = re.compile(r"\.(put_object|upload_file|upload_fileobj|copy_object|create_multipart_upload)\(")
    skip = {"tests", "benchmarks", "examples", "node_modules", "test-artifacts", "infra"}
    product = [Path(d) / f for top in ROOT.iterdir() if top.is_dir() and top.name not in skip
               and not top.name.startswith(".") for d, _, files in os.walk(top, followlinks=True)
               for f in files if f.endswith(".py")]
    calls = {p.relative_to(ROOT).as_posix(): len(writers.findall(p.read_text())) for p in product}
    assert {p: n for p, n in calls.items() if n} == {"store/dynamo.py": 3}  # items/, sessions/, snapshots/

    with aws(monkeypatch) as (ddb, s3):
        store = dynamo_store(ddb, s3)
        big = "y = 1\n" * (INLINE_LIMIT // 3)
        cand = Candidate(id=1, rule="r", rationale="why", edits=[FileEdit(path="a.py", new_text=big)], diff=big)
        store.put_session(Session(id="a" * 32, created_at="2026-12-01T00:00:00+00:00", project="/p",
                                  status=SessionStatus.VERIFIED, candidates=[cand], winner=1))
        store.put_blob("a" * 32, "proof.txt", b"proof")
        store.put_snapshot("b" * 64, b"archive")
        store.enqueue_delivery("guid", "issue_comment", json.dumps({"body": "x" * 1_000_000}))
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    written = {k.split("/", 1)[0] + "/" for k in keys}
    assert written == {"items/", "sessions/", "snapshots/"}, keys
    rules = _rules()
    assert set(rules) == written  # nothing writes logs/: no rule for it
    assert rules["snapshots/"]["ExpirationInDays"] == 1  # read within the execution that staged it
    # a session's artifacts and the big items' JSON: as long as the records that point at them
    template = load(TEMPLATE)
    for prefix in ("sessions/", "items/"):
        assert rules[prefix]["ExpirationInDays"] == {"Ref": "SessionRetentionDays"}
    retention = template["Parameters"]["SessionRetentionDays"]
    longest_ttl_days = max(EVENT_TTL, TRIGGER_TTL, JOB_TTL) / 86400
    assert retention["MinValue"] > longest_ttl_days and retention["Default"] >= retention["MinValue"]


# ---------------------------------------------------------------------------- the sandbox's DNS


def test_the_sandbox_vpc_resolves_s3_s_names_only(monkeypatch):
    """Route 53 Resolver DNS Firewall on the sandbox's VPC: its last rule answers NXDOMAIN for
    everything (``*``); the rules before it allow only the names of the presigned snapshot URL's
    host, in the form the code signs it."""
    from urllib.parse import parse_qs, urlsplit

    from store.dynamo import DynamoStore

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    cfn = translated(load(TEMPLATE))
    res = cfn["Resources"]
    subnets = res["SandboxFunction"]["Properties"]["VpcConfig"]["SubnetIds"]
    vpcs = {json.dumps(res[s["Ref"]]["Properties"]["VpcId"]) for s in subnets}
    [associated] = [r["Properties"] for r in res.values() if r["Type"] == "AWS::Route53Resolver::FirewallRuleGroupAssociation"]
    assert {json.dumps(associated["VpcId"])} == vpcs  # the sandbox's VPC
    assert 101 <= associated["Priority"] <= 9900
    group = res[associated["FirewallRuleGroupId"]["Ref"]]["Properties"]
    rules = sorted(group["FirewallRules"], key=lambda r: r["Priority"])
    domains = {name: r["Properties"]["Domains"] for name, r in res.items()
               if r["Type"] == "AWS::Route53Resolver::FirewallDomainList"}
    *allowing, last = rules
    assert (last["Action"], last["BlockResponse"], domains[last["FirewallDomainListId"]["Ref"]]) == ("BLOCK", "NXDOMAIN", ["*"])
    allowed = [d for r in allowing for d in domains[r["FirewallDomainListId"]["Ref"]]]
    assert all(r["Action"] == "ALLOW" and r["FirewallDomainRedirectionAction"] == "TRUST_REDIRECTION_DOMAIN"
               for r in allowing) and allowed
    assert allowed == [{"Fn::Sub": "${Bucket}.s3.amazonaws.com"}, {"Fn::Sub": "${Bucket}.s3.${AWS::Region}.amazonaws.com"}]

    # ... and the URL the sandbox function is given has one of those hosts, in any Region
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    bucket = "pve-bucket-1a2b3c4d5e6f"
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)  # as deployed: AWS's own endpoints
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    for region in ("us-east-1", "eu-west-1", "eu-central-1", "ap-southeast-2"):
        store = DynamoStore(None, s3_client(region), bucket=bucket)
        url = urlsplit(store.snapshot_url("c" * 64))
        names = [d["Fn::Sub"].replace("${Bucket}", bucket).replace("${AWS::Region}", region) for d in allowed]
        assert url.hostname in names, (region, url.hostname)
        # SigV4 (S3 refuses SigV2 for new buckets), and outside us-east-1 the Regional name
        signed = parse_qs(url.query)
        assert signed["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"] and "AWSAccessKeyId" not in signed
        assert region == "us-east-1" or url.hostname == f"{bucket}.s3.{region}.amazonaws.com"


def test_session_records_expire_with_their_proofs(monkeypatch):
    """The bucket keeps a session's artifacts ``SessionRetentionDays``; every function that writes
    sessions is told the same number, so the table's records go with them (store/dynamo.py)."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    template = load(TEMPLATE)
    assert template["Globals"]["Function"]["Environment"]["Variables"]["PVE_SESSION_RETENTION_DAYS"] == \
        {"Ref": "SessionRetentionDays"}
    rules = {r["Prefix"]: r for r in template["Resources"]["Bucket"]["Properties"]["LifecycleConfiguration"]["Rules"]}
    assert rules["sessions/"]["ExpirationInDays"] == {"Ref": "SessionRetentionDays"}
