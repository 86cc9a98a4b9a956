"""The AWS engine's clocks: what one run and one step may take on Lambda.

Lambda ends an invocation at its function's ``Timeout`` (900 s at most), and a run the sandbox
function does not finish in time is no verdict: the invoke fails, Validate is retried, then the
session fails through the Catch. So every clock a run can be given must fit the sandbox
function's Timeout, and every step must fit what it runs in sequence into its own.
``infra/template.yaml``'s Timeouts and ``statemachine/verify.asl.json``'s ``TimeoutSeconds`` are
set from these numbers; ``tests/test_aws_limits.py`` recomputes each step's worst case from them
and from the settings' bounds, and fails when they disagree.

Where a setting may ask for more than this engine can give, ``capped`` caps it for the session
and says so (its notes and its console); ``pve serve`` keeps the setting as given.
"""

from __future__ import annotations

from dataclasses import replace

from pve.settings import SandboxSettings, Settings

LAMBDA_MAX_S = 900  # Lambda's longest invocation
# One run's clock in the sandbox function: its image runs with the default sandbox settings
# (sandbox/function.py), and a spec's ``timeout_s`` (a candidate's clock, .github/pve.yml's
# ``timeout``) only ever tightens it.
RUN_S = SandboxSettings().timeout_s
# The regression oracle's clock at most on this engine (PVE_ORACLE_SECONDS, 1-3600 elsewhere).
# The baseline and the coverage runs get it, a candidate's regression run twice it
# (statemachine/reproduce.py), and Start must hold the baseline, the coverage run and a whole
# validation (a cached fix re-verified, or a pull request's fix judged) within LAMBDA_MAX_S.
ORACLE_S = 60.0
REGRESSION_FACTOR = 2  # a candidate's regression clock: at most twice the oracle's
# One sandbox invocation beyond its run's clock: a cold start, the snapshot's download (up to
# 256 MiB) and unpacking, the staging and the clean-up after the run.
INVOKE_MARGIN_S = 20.0
# infra/template.yaml's SandboxFunction Timeout: the longest run the remote backend sends it
# (a regression run, REGRESSION_FACTOR * ORACLE_S) and the margin.
SANDBOX_FUNCTION_TIMEOUT_S = 150
# How long a trusted step waits for the sandbox function's answer: past its Timeout, so the
# function's own end (an error answer) comes first. botocore's default, 60 s, cut longer runs
# short and retried them (a second run of the same spec).
INVOKE_READ_TIMEOUT_S = SANDBOX_FUNCTION_TIMEOUT_S + 30


def capped(settings: Settings, repo_timeout_s: float | None = None) -> tuple[Settings, list[str]]:
    """``settings`` within this engine's clocks, and each cap in words (for the session's notes
    and console). ``repo_timeout_s``: the repository's own ``timeout`` per run (.github/pve.yml)."""
    notes: list[str] = []
    if settings.oracle_seconds > ORACLE_S:
        notes.append(f"the regression oracle's clock is {ORACLE_S:g} s on the AWS engine (PVE_ORACLE_SECONDS asks "
                     f"{settings.oracle_seconds:g} s; a step runs at most {LAMBDA_MAX_S} s on Lambda)")
        settings = replace(settings, oracle_seconds=ORACLE_S)
    if settings.sandbox.timeout_s > RUN_S:
        notes.append(f"runs stop at {RUN_S:g} s each on the AWS engine, the sandbox function's clock "
                     f"(PVE_SANDBOX_TIMEOUT asks {settings.sandbox.timeout_s:g} s)")
        settings = replace(settings, sandbox=replace(settings.sandbox, timeout_s=RUN_S))
    if repo_timeout_s is not None and repo_timeout_s > RUN_S:
        notes.append(f"runs stop at {RUN_S:g} s each on the AWS engine, the sandbox function's clock "
                     f"(.github/pve.yml's timeout asks {repo_timeout_s:g} s)")
    return settings, notes
