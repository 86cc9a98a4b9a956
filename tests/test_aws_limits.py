"""The AWS engine's clocks agree: the settings' bounds, the clocks the engine gives its runs
(statemachine/stepfunctions/limits.py), the sandbox function's and the steps' Lambda Timeouts
(infra/template.yaml), the state machine's TimeoutSeconds (statemachine/verify.asl.json) and
Lambda's 900 s.

A run the sandbox function does not finish is no verdict: the invoke fails, Validate is retried,
then the whole session fails through the Catch. So the sandbox function must outlast the
longest clock a run is given, and each step must outlast what it runs in sequence. This test
recomputes each step's worst case, round by round (runs that go out together are one round),
each run counted at its clock plus a sandbox invocation's margin, and fails when a Timeout is
short of it, over 900 s, or when a setting could ask for more than the engine gives without being
capped."""

from __future__ import annotations

import json
import re

import pytest

from pve.settings import SANDBOX_TIMEOUT, SandboxSettings, Settings
from statemachine.stepfunctions import limits

from .conftest import ROOT
from .test_infra import ASL, TEMPLATE, load, translated

# What a step does besides its sandbox runs (seconds): allowances of this model, not measurements
# (the replay benchmark's medians: Start 3.6 s, Validate 2.2 s, Notify 2.4 s on 2 shared cores).
RESTORE_S = 20.0  # its state and the snapshot from S3 (an archive of up to 256 MiB), unpacked; its writes
HANDLER_S = 60.0  # the trigger's handler replayed: its GitHub reads and writes (30 s per request at most)

T = limits.RUN_S  # a reproduction's or a candidate's run
OR = limits.ORACLE_S  # the oracle: the baseline, a coverage run
R = limits.REGRESSION_FACTOR * limits.ORACLE_S  # a candidate's regression run, its flaky re-run, its behaviour records


def run(clock: float) -> float:
    """One round of sandbox invocations: the longest run's clock and an invocation's margin."""
    return clock + limits.INVOKE_MARGIN_S


def validate_s() -> float:
    """One candidate (statemachine/validate.py, no screening and no pending baseline on this
    engine): its reproduction; a model's candidate, the model's reproduction; the regression run
    (its shards at once); a broken test again on the original (flaky?); the failing line counted
    on the original and with the fix; the edited functions' calls recorded (three runs at once)."""
    return RESTORE_S + 4 * run(T) + 3 * run(R)


def judge_s() -> float:
    """A pull request's fix judged (statemachine/given_fix.py): a validation, then its own tests."""
    return validate_s() + run(R)


def prepare_s() -> float:
    """Start: the handler up to its verification; the reproduction beside the baseline (and a
    pytest trace or a script's coverage beside them); then either a trace (coverage) round and a
    cached fix re-verified, or (a pull request's claim: no trace) the judged fix."""
    return HANDLER_S + RESTORE_S + run(max(T, OR)) + max(run(OR) + validate_s(), judge_s())


def models_s(settings: Settings, model_timeout_s: float) -> float:
    """Models, one generator's round: the error classified, the generator asked (two attempts),
    its reproduction run, candidates started within the search budget, the last one validated."""
    return RESTORE_S + model_timeout_s + 2 * model_timeout_s + run(T) + settings.search_seconds + validate_s()


def _template() -> dict:
    return load(TEMPLATE)


def _functions(monkeypatch) -> dict[str, dict]:
    """Each function's properties with the Globals applied (the translation merges them)."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    cfn = translated(_template())
    return {k: v["Properties"] for k, v in cfn["Resources"].items() if v["Type"] == "AWS::Lambda::Function"}


def _tasks() -> dict[str, tuple[str, int]]:
    """Every Task state of the machine (Map iterations included): (its function's logical id, its TimeoutSeconds)."""
    machine = json.loads(ASL.read_text())
    substitutions = _template()["Resources"]["VerifyMachine"]["Properties"]["DefinitionSubstitutions"]
    found: dict[str, tuple[str, int]] = {}

    def walk(states: dict) -> None:
        for name, state in states.items():
            if state["Type"] == "Task":
                placeholder = state["Parameters"]["FunctionName"].strip("${}")
                function = substitutions[placeholder]["Fn::GetAtt"][0]
                found[name] = (function, state["TimeoutSeconds"])
            if state["Type"] == "Map":
                walk(state["ItemProcessor"]["States"])

    walk(machine["States"])
    return found


# ---------------------------------------------------------------------------- the runs' clocks


def test_the_clocks_a_run_can_get_on_this_engine():
    """What the limits module assumes about the code is still what the code does."""
    # The sandbox function runs with the default sandbox settings: a spec may only tighten them.
    assert "return LambdaSandbox()" in (ROOT / "sandbox" / "function.py").read_text()
    runner = (ROOT / "sandbox" / "lambda_runner.py").read_text()
    assert "min(s.timeout_s, spec.timeout_s) if spec.timeout_s" in runner
    assert limits.RUN_S == SandboxSettings().timeout_s == Settings.from_config({}).sandbox.timeout_s
    # A candidate's regression clock: at most REGRESSION_FACTOR times the oracle's.
    reproduce = (ROOT / "statemachine" / "reproduce.py").read_text()
    assert re.search(r"clock = min\((\d+) \* seconds,", reproduce).group(1) == str(limits.REGRESSION_FACTOR)
    # The oracle's shards (and the three behaviour records) go out at once: one round each.
    assert "asyncio.gather(*(sandbox.run(" in (ROOT / "statemachine" / "oracle.py").read_text()
    # The defaults are never capped: the AWS engine runs what `pve serve` runs unless told more.
    assert Settings.from_config({}).oracle_seconds == limits.ORACLE_S
    assert limits.capped(Settings.from_config({}), None)[1] == []


def test_every_setting_that_could_ask_for_more_is_capped_and_said():
    from bot.repoconfig import RepoConfig

    repo_max = RepoConfig.model_fields["timeout"].metadata
    repo_le = next(m.le for m in repo_max if getattr(m, "le", None) is not None)
    assert repo_le == 600 and SANDBOX_TIMEOUT[1] == 3600  # what pve.yml and PVE_SANDBOX_TIMEOUT allow
    most = Settings.from_config({"PVE_ORACLE_SECONDS": "3600", "PVE_SANDBOX_TIMEOUT": str(SANDBOX_TIMEOUT[1])})
    settings, notes = limits.capped(most, repo_le)
    assert settings.oracle_seconds == limits.ORACLE_S and settings.sandbox.timeout_s == limits.RUN_S
    assert len(notes) == 3
    assert "oracle" in notes[0] and "3600" in notes[0] and f"{limits.ORACLE_S:g} s" in notes[0]
    assert "PVE_SANDBOX_TIMEOUT" in notes[1] and ".github/pve.yml" in notes[2] and "600" in notes[2]
    # within the engine's clocks: nothing changes, nothing said
    fine = Settings.from_config({"PVE_ORACLE_SECONDS": "30", "PVE_SANDBOX_TIMEOUT": "5"})
    assert limits.capped(fine, 5.0) == (fine, [])


def test_the_sandbox_function_outlasts_the_longest_run_it_is_sent(monkeypatch):
    fn = _functions(monkeypatch)["SandboxFunction"]
    assert fn["Timeout"] == limits.SANDBOX_FUNCTION_TIMEOUT_S <= limits.LAMBDA_MAX_S
    assert fn["Timeout"] >= run(max(T, OR, R))
    # ... and the trusted steps wait for its answer past its Timeout (botocore's 60 s would not)
    assert fn["Timeout"] < limits.INVOKE_READ_TIMEOUT_S
    composition = (ROOT / "entrypoints" / "aws_steps.py").read_text()  # the steps' composition
    assert 'boto3.client("lambda", config=Config(read_timeout=INVOKE_READ_TIMEOUT_S' in composition
    assert "lambda_invoker(client, function)" in composition


# ---------------------------------------------------------------------------- the steps' clocks


def test_each_step_fits_its_function_and_its_state(monkeypatch):
    from brain.models.providers import BrainConfig

    functions = _functions(monkeypatch)
    tasks = _tasks()
    settings = Settings.from_config({})
    model_timeout = BrainConfig.from_env({"GEMINI_API_KEY": "k"}).generators[0].timeout_s
    needs = {
        "Start": prepare_s(),
        "Validate": validate_s(),
        "Tally": 5.0,  # arithmetic on the batch's results: no store, no sandbox
        "Models": models_s(settings, model_timeout),
        "Notify": RESTORE_S + prepare_s(),  # decide, prove, then the handler: maybe the next verification
        "Failed": RESTORE_S + HANDLER_S,  # the session stored as failed, the user told
    }
    assert set(tasks) == set(needs), "a new Task state: say what it runs in sequence"
    for state, (function, timeout_seconds) in tasks.items():
        lambda_timeout = functions[function]["Timeout"]
        assert lambda_timeout <= limits.LAMBDA_MAX_S, function
        assert needs[state] <= lambda_timeout, f"{state}: needs {needs[state]:g} s, {function} has {lambda_timeout} s"
        assert needs[state] <= timeout_seconds, f"{state}: needs {needs[state]:g} s, its TimeoutSeconds is {timeout_seconds}"
        if state not in ("Tally", "Failed"):
            # Step Functions never abandons a function that is still within its own Timeout
            assert timeout_seconds >= lambda_timeout, state


def test_the_numbers_the_docs_give():
    """infra/README.md's table of limits says these numbers; a change here changes it there."""
    assert (T, OR, R, limits.INVOKE_MARGIN_S) == (10.0, 60.0, 120.0, 20.0)
    assert (validate_s(), judge_s(), prepare_s(), RESTORE_S + prepare_s()) == (560.0, 700.0, 860.0, 880.0)
    readme = (ROOT / "infra" / "README.md").read_text()
    for said in ("| sandbox function | 150 s |", "| Validate | 560 s | 600 s | 600 s |",
                 "| Start (controller) | 860 s | 900 s | 900 s |", "| Notify (notifier) | 880 s | 900 s | 900 s |"):
        assert said in readme, said


@pytest.mark.parametrize("state", ["Start", "Validate", "Notify"])
def test_the_check_fails_when_a_state_gives_up_too_soon(monkeypatch, tmp_path, state):
    """The agreement can fail: a state whose TimeoutSeconds is below what it runs is found."""
    import tests.test_aws_limits as me

    machine = json.loads(ASL.read_text())
    states = machine["States"]
    target = states["Batch"]["ItemProcessor"]["States"]["Validate"] if state == "Validate" else states[state]
    target["TimeoutSeconds"] = 300
    broken = tmp_path / "verify.asl.json"
    broken.write_text(json.dumps(machine))
    monkeypatch.setattr(me, "ASL", broken)
    with pytest.raises(AssertionError, match=state):
        test_each_step_fits_its_function_and_its_state(monkeypatch)
