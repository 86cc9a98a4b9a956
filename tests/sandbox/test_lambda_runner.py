"""The sandbox function's in-Lambda runner never runs anywhere else; its clean-up of what a run
leaves behind is plain process bookkeeping, checked here on processes of the test's own."""

from __future__ import annotations

import inspect
import os
import subprocess

import pytest

from entrypoints import aws_lambda_sandbox
from pve.errors import SandboxUnavailable
from sandbox import lambda_runner


def test_it_refuses_to_start_outside_lambda(monkeypatch):
    assert not lambda_runner.in_lambda()
    with pytest.raises(SandboxUnavailable, match="only inside AWS Lambda"):
        lambda_runner.LambdaSandbox()
    with pytest.raises(SandboxUnavailable):
        aws_lambda_sandbox.handler({"describe": True}, None)
    # One variable is not Lambda: its runtime sets all three.
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "pve-sandbox")
    with pytest.raises(SandboxUnavailable):
        lambda_runner.LambdaSandbox()


CHILD = """
import contextlib, os, signal, subprocess, sys, time
exec(sys.argv[1])  # the two functions under test, as lambda_runner has them
older = subprocess.Popen(["sleep", "30"])
before = _own_pids()
assert older.pid in before
newer = subprocess.Popen(["sleep", "30"], start_new_session=True)  # left its session, as a daemon would
time.sleep(0.05)
_kill_new(before)
assert newer.wait(timeout=5) < 0, "the new process was not killed"
assert older.poll() is None, "a process from before the run was killed"
older.kill()
print("ok")
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the check a uid of its own")
def test_every_process_new_since_the_run_began_is_killed_and_no_other():
    # As a uid of its own: as root it would kill every other new root process on the machine.
    # (Debian's interpreter: the venv's lies under /root, which that uid cannot read.)
    code = inspect.getsource(lambda_runner._own_pids) + "\n" + inspect.getsource(lambda_runner._kill_new)
    done = subprocess.run(["/usr/bin/python3", "-c", CHILD, code], user=64_999, group=64_999, extra_groups=[],
                          capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"}, cwd="/")
    assert done.stdout.strip() == "ok", done.stderr
