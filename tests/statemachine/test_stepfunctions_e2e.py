"""The AWS engine end to end: a signed webhook through API Gateway's event shape and Mangum, the
real ASL executed by moto, the real handlers behind its Lambda invokes, candidates in bubblewrap
(through the sandbox function's handler), and the GitHub calls on the local GitHub."""

from __future__ import annotations

import json
import re
import uuid

import boto3
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey

from entrypoints import aws_lambda
from pve.models import SessionStatus
from statemachine.proof.attestation import ATTESTATION
from store.dynamo import DynamoStore
from tests.app_harness import INSTALLATION, ROOT, SECRET, app_env, files_of, for_repo
from tests.aws_engine import ASL, BUCKET, api_gateway_event, deployed
from tests.github_payloads import comment_on_issue
from webhooks.signature import sign

pytestmark = pytest.mark.sandbox
STATS, CALC = ROOT / "examples" / "stats", ROOT / "examples" / "calc"


def issue_command(gh, repo, log: str):
    body = "/pve verify"
    number = gh.add_issue(repo, "it crashes", f"CI fails:\n\n```\n{log}\n```")
    comment = gh.add_comment(repo, number, body, association="OWNER", user="octocat")
    payload = for_repo(comment_on_issue(body, "OWNER"), repo.full_name)
    payload["issue"].update(number=number, body=f"CI fails:\n\n```\n{log}\n```")
    payload["issue"].pop("pull_request", None)
    payload["comment"].update(id=comment["id"], user={**payload["comment"]["user"], "login": "octocat"})
    return payload


def deliver(monkeypatch, payload, event: str = "issue_comment") -> tuple[str, dict]:
    """POST the delivery as API Gateway hands it to the webhook function; (delivery id, answer)."""
    raw = json.dumps(payload).encode()
    delivery = str(uuid.uuid4())
    headers = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "Content-Type": "application/json",
               "X-Hub-Signature-256": sign(SECRET, raw), "Content-Length": str(len(raw))}
    monkeypatch.setattr(aws_lambda, "_handler", None)  # a cold start: the settings are read again
    answer = aws_lambda.handler(api_gateway_event(raw, headers), None)
    return delivery, answer


def states(history, kind: str) -> list[str]:
    key = {"TaskStateEntered": "stateEnteredEventDetails", "TaskStateExited": "stateExitedEventDetails"}[kind]
    return [e[key]["name"] for e in history if e["type"] == kind]


@pytest.fixture
def engine(monkeypatch, tmp_path, github, app_key):
    env = app_env(tmp_path / "home", github, app_key[0], PVE_SLOTS="3")
    with deployed(monkeypatch, env, bot_login=f"{github.slug}[bot]") as eng:
        yield eng


def store() -> DynamoStore:
    return DynamoStore(boto3.client("dynamodb"), boto3.client("s3"), bucket=BUCKET)


def run_issue(monkeypatch, engine, github, example, log_name):
    repo = github.add_repo(f"octo/{example.name}", files_of(example), installation=INSTALLATION)
    payload = issue_command(github, repo, (example / log_name).read_text(encoding="utf-8-sig"))
    return (repo, *run_delivery(monkeypatch, engine, payload, "issue_comment"))


def run_delivery(monkeypatch, engine, payload, event):
    delivery, answer = deliver(monkeypatch, payload, event)
    assert answer["statusCode"] == 202, answer
    assert json.loads(answer["body"])["status"] == "queued"
    (execution,) = [e for e in engine.sfn.list_executions(stateMachineArn=engine.machine)["executions"]
                    if e["name"] == delivery]
    return engine.wait(execution["executionArn"]), engine.history(execution["executionArn"])


def test_asl_passes_both_validators():
    import subprocess

    out = subprocess.run(["npx", "--no-install", "asl-validator", "--json-path", str(ASL)], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    arns = re.sub(r"\$\{(\w+)\}", r"arn:aws:lambda:us-east-1:123456789012:function:\1", ASL.read_text())
    program, _ = AmazonStateLanguageParser.parse(arns)
    assert program is not None
    broken = json.loads(ASL.read_text())
    del broken["States"]["Tally"]["Next"]
    bad = subprocess.run(["npx", "--no-install", "asl-validator", "--json-string", json.dumps(broken)], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0  # the check can fail


def test_a_verified_fix_end_to_end_from_a_signed_webhook(monkeypatch, engine, github):
    repo, done, history = run_issue(monkeypatch, engine, github, STATS, "ci.log")
    assert done["status"] == "SUCCEEDED", done
    entered = states(history, "TaskStateEntered")
    assert entered[0] == "Start" and "Validate" in entered and entered[-1] == "Notify", entered
    assert any(e["type"] == "MapStateStarted" for e in history)
    # GitHub: one reply with the verified fix, a fix PR, the check run green, a credit spent.
    (reply,) = [c["body"] for c in repo.comments.values() if c["user"]["type"] == "Bot"]
    assert "Verified fix" in reply and "ZeroDivisionError" in reply, reply
    (pr,) = [p for p in repo.pulls.values() if p["head"]["ref"].startswith("pve/fix-")]
    assert "PVE EXECUTION PROOF" in pr["body"]
    assert "if not values" in repo.files_at(pr["head"]["ref"])["stats/core.py"]
    (run,) = repo.check_runs.values()
    assert (run["status"], run["conclusion"]) == ("completed", "success")
    # The store: the session verified, its proof in S3, the events, the credit.
    s = store()
    (session,) = [x for x in s.recent_sessions() if x.trigger == "issue_comment"]
    assert session.status is SessionStatus.VERIFIED and session.winner is not None
    assert session.proof_path.startswith(f"s3://{BUCKET}/sessions/{session.id}/")
    assert "sandbox function" in s.get_blob(session.id, "proof.txt").decode()
    # ... and as an in-toto attestation beside it, which an independent DSSE library verifies
    # with the engine's published key alone
    assert session.attestation_path.startswith(f"s3://{BUCKET}/sessions/{session.id}/")
    (key,) = engine.steps.services.signer.published()
    verifier = SSlibKey.from_crypto(load_pem_public_key(key["pem"].encode()), keyid=key["keyid"])
    envelope = Envelope.from_dict(json.loads(s.get_blob(session.id, ATTESTATION)))
    assert list(envelope.verify([verifier], 1)) == [key["keyid"]] == [session.proof_key]
    assert any("Running candidate" in e.text for e in s.events(session.id)), [e.text for e in s.events(session.id)]
    assert s.quota(INSTALLATION, 50).used == 1
    # Every candidate ran in the sandbox function: the validate steps hold no sandbox of their own.
    assert ("sandbox", "run") in engine.calls and ("validate", "validate") in engine.calls


def test_a_fix_found_in_a_later_batch_and_the_window_after_it(monkeypatch, engine, github):
    repo, done, history = run_issue(monkeypatch, engine, github, CALC, "ci.log")
    assert done["status"] == "SUCCEEDED", done
    batches = sum(1 for e in history if e["type"] == "MapStateStarted")
    assert batches >= 2
    s = store()
    (session,) = [x for x in s.recent_sessions() if x.trigger == "issue_comment"]
    assert session.status is SessionStatus.VERIFIED, session.message
    winner_rank = session.winner - 1
    assert winner_rank >= 3  # not in the first batch of three
    assert session.search.tried == winner_rank + 1 + 3  # the window: three ranks after it, no more
    assert batches == -(-session.search.tried // 3)
    assert any("Verified fix" in c["body"] for c in repo.comments.values() if c["user"]["type"] == "Bot")


def test_no_fix_within_the_candidate_budget(monkeypatch, tmp_path, github, app_key):
    env = app_env(tmp_path / "home", github, app_key[0], PVE_SLOTS="3", PVE_MAX_CANDIDATES="5")
    with deployed(monkeypatch, env, bot_login=f"{github.slug}[bot]") as eng:
        repo, done, history = run_issue(monkeypatch, eng, github, CALC, "ci.log")
        assert done["status"] == "SUCCEEDED", done
        assert sum(1 for e in history if e["type"] == "MapStateStarted") == 2  # ranks 0-2, then 3-4
        s = store()
        (session,) = [x for x in s.recent_sessions() if x.trigger == "issue_comment"]
        assert session.status is SessionStatus.NO_FIX and session.search.tried == 5
        assert session.search.stop == "candidate budget (5)"
        assert not [p for p in repo.pulls.values() if p["head"]["ref"].startswith("pve/fix-")]
        (reply,) = [c["body"] for c in repo.comments.values() if c["user"]["type"] == "Bot"]
        assert "no fix" in reply.lower(), reply
        assert s.quota(INSTALLATION, 50).used == 0


def test_a_validate_task_throttled_once_is_retried(monkeypatch, engine, github):
    engine.faults["validate"] = ["TooManyRequestsException"]
    _, done, history = run_issue(monkeypatch, engine, github, STATS, "ci.log")
    assert done["status"] == "SUCCEEDED", done
    failures = [e["taskFailedEventDetails"]["error"] for e in history if e["type"] == "TaskFailed"]
    assert failures == ["Lambda.TooManyRequestsException"], failures
    session = next(x for x in store().recent_sessions() if x.trigger == "issue_comment")
    assert session.status is SessionStatus.VERIFIED


def test_a_failing_step_is_caught_recorded_and_told(monkeypatch, engine, github):
    def broken(event):
        if event.get("step") == "notify":
            raise RuntimeError("the notifier lost its way")

    engine.broken["notifier"] = broken
    repo, done, history = run_issue(monkeypatch, engine, github, STATS, "ci.log")
    assert done["status"] == "FAILED" and done.get("error") == "VerificationFailed", done
    entered = states(history, "TaskStateEntered")
    assert entered[-1] == "Failed" and "Notify" in entered
    s = store()
    (session,) = [x for x in s.recent_sessions() if x.trigger == "issue_comment"]
    assert session.status is SessionStatus.FAILED and "the notifier lost its way" in session.message
    (reply,) = [c["body"] for c in repo.comments.values() if c["user"]["type"] == "Bot"]
    assert "⏳" not in reply.splitlines()[0], reply  # never left at "verifying"
    (run,) = repo.check_runs.values()
    assert run["status"] == "completed"


def test_a_pull_request_that_does_not_fix_its_issue_runs_two_verifications_in_one_execution(monkeypatch, engine,
                                                                                              github):
    """The handler asks for a judgement (the issue's reproduction on base and head), then, as the
    head does not fix it, for a fix to offer: Notify hands the second one back to Prepare."""
    from tests.bot.test_pull_fixes_e2e import REWORDED, bot_comments, checks_for, pull_event, setup

    repo, issue = setup(github)
    pull = github.add_pull(repo, "Change mean", {**files_of(STATS), "stats/core.py": REWORDED}, body="Fixes #1")
    done, history = run_delivery(monkeypatch, engine, pull_event(repo, pull), "pull_request")
    assert done["status"] == "SUCCEEDED", done
    entered = states(history, "TaskStateEntered")
    assert entered.count("Notify") == 2 and entered[0] == "Start", entered
    (run,) = checks_for(repo, issue)
    assert run["conclusion"] == "failure" and run["output"]["title"] == f"does not fix #{issue}"
    (comment,) = bot_comments(repo, pull["number"])
    assert f"❌ **does not fix #{issue}**" in comment["body"]
    (review,) = repo.reviews
    assert "if not values" in str(review)
    sessions = store().recent_sessions()
    assert len(sessions) == 2 and {s.status for s in sessions} >= {SessionStatus.VERIFIED}


def test_a_sandbox_function_that_fails_once_is_retried_through_its_validate_task(monkeypatch, engine, github):
    failed: list[str] = []

    def once(event):
        label = (event.get("spec") or {}).get("label", "")
        if label.startswith("candidate") and not failed:
            failed.append(label)
            raise MemoryError("the instance ran out of memory")

    engine.broken["sandbox"] = once
    _, done, history = run_issue(monkeypatch, engine, github, STATS, "ci.log")
    assert done["status"] == "SUCCEEDED", done
    (failure,) = [e["taskFailedEventDetails"] for e in history if e["type"] == "TaskFailed"]
    assert failure["error"] == "SandboxUnavailable" and "MemoryError" in failure["cause"], failure
    session = next(x for x in store().recent_sessions() if x.trigger == "issue_comment")
    assert session.status is SessionStatus.VERIFIED and failed


def test_the_model_brain_is_a_state_after_the_offline_batches(monkeypatch, tmp_path, github, app_key):
    """A bug no operator fixes (``list.sort()`` returns None): the offline batches end with
    nothing verified, then Models asks Groq and Gemini (local servers speaking their wire
    protocols) from the controller, runs the model's reproduction and candidate in the sandbox
    function, and Notify publishes the model's verified fix with its calls in the proof."""
    from tests.model_servers import ModelServers, say
    from tests.test_models_e2e import GOOD

    servers = ModelServers()
    try:
        servers.script("groq", say('{"error_class": "type", "reason": "None is not iterable"}'))
        servers.script("gemini", say(GOOD))
        env = app_env(tmp_path / "home", github, app_key[0], PVE_SLOTS="3", PVE_MAX_CANDIDATES="6",
                      **servers.env("gemini", "groq"))
        with deployed(monkeypatch, env, bot_login=f"{github.slug}[bot]") as eng:
            repo, done, history = run_issue(monkeypatch, eng, github, ROOT / "examples" / "shop", "pytest.log")
            assert done["status"] == "SUCCEEDED", done
            entered = states(history, "TaskStateEntered")
            # two offline batches (six ranks), then the models once, then Notify
            assert entered.count("Models") == 1 and entered.index("Models") > entered.index("Tally"), entered
            assert entered[entered.index("Models") + 1:] == ["Notify"], entered
            assert sum(1 for e in history if e["type"] == "MapStateStarted") == 2
            assert ("controller", "models") in eng.calls
            s = store()
            (session,) = [x for x in s.recent_sessions() if x.trigger == "issue_comment"]
            assert session.status is SessionStatus.VERIFIED, session.message
            assert session.search.tried == 6  # the offline ranks, then the model's candidate
            session = s.get_session(session.id)  # in full: candidates and verdicts
            winner = session.winning_candidate()
            assert winner.source == "gemini:gemini-2.5-flash" and winner.id == 7
            assert "sorted(prices, reverse=True)" in winner.diff
            assert session.winning_verdict().model_repro.exit_code == 0
            b = session.brain
            assert [(c.purpose, c.provider, c.outcome) for c in b.calls] == [
                ("categorize", "groq", "ok"), ("generate", "gemini", "ok")]
            assert any(n.startswith("gemini:gemini-2.5-flash reproduction verified") for n in b.notes)
            proof = s.get_blob(session.id, "proof.txt").decode()
            assert "generate   gemini:gemini-2.5-flash  ok" in proof and "sandbox function" in proof
            texts = [e.text for e in s.events(session.id)]
            assert any(t.startswith("Generated 1 candidate (gemini") for t in texts), texts
            (pr,) = [p for p in repo.pulls.values() if p["head"]["ref"].startswith("pve/fix-")]
            assert "sorted(prices, reverse=True)" in repo.files_at(pr["head"]["ref"])["shop/report.py"]
            assert servers.violations == []
    finally:
        servers.close()


def test_without_keys_the_models_state_never_runs(monkeypatch, tmp_path, github, app_key):
    env = app_env(tmp_path / "home", github, app_key[0], PVE_SLOTS="3", PVE_MAX_CANDIDATES="3")
    with deployed(monkeypatch, env, bot_login=f"{github.slug}[bot]") as eng:
        _, done, history = run_issue(monkeypatch, eng, github, ROOT / "examples" / "shop", "pytest.log")
        assert done["status"] == "SUCCEEDED", done
        assert "Models" not in states(history, "TaskStateEntered")
        (session,) = [x for x in store().recent_sessions() if x.trigger == "issue_comment"]
        assert session.status is SessionStatus.NO_FIX and session.search.tried == 3
        assert any(n.startswith("model brain off: no GEMINI_API_KEY") for n in session.brain.notes), session.brain.notes
