"""The sandbox function's in-Lambda runner never runs anywhere else; its clean-up of what a run
leaves behind is plain process bookkeeping, checked here on processes of the test's own."""

from __future__ import annotations

import contextlib
import inspect
import os
import subprocess

import pytest

from entrypoints import aws_lambda_sandbox
from pve.errors import SandboxUnavailable
from sandbox import lambda_runner
from tests.sandbox.test_not_root import as_a_user  # noqa: F401  (fixture)


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


PARENT = r'''
import asyncio, json, sys
from pathlib import Path
from pve.errors import SandboxUnavailable
from pve.models import RunMode, RunSpec
from sandbox.lambda_runner import LambdaSandbox

scratch, project = Path(sys.argv[1]), Path(sys.argv[2])
sandbox = LambdaSandbox(scratch=scratch)
staged = sandbox.stage(project)
ATTACK = """
import ctypes, json, os, socket
ppid, out = os.getppid(), {}
for what in ("environ", "mem", "fd"):
    try:
        path = f"/proc/{ppid}/{what}"
        out[what] = os.listdir(path) if what == "fd" else open(path, "rb").read(4096).decode("latin-1")
    except OSError as e:
        out[what] = f"denied {e.errno}"
host, port = os.environ.get("RUNTIME_API", "%s").split(":")
try:
    socket.create_connection((host, int(port)), timeout=2).sendall(b"POST /2018-06-01/runtime/invocation/x/response HTTP/1.1\\r\\n\\r\\n")
    out["runtime_api"] = "reached"
except OSError as e:
    out["runtime_api"] = f"denied {e.errno}"
libc = ctypes.CDLL(None, use_errno=True)
if libc.ptrace(0x4206, ppid, 0, 0) == 0:  # PTRACE_SEIZE: attached without stopping it
    out["ptrace"] = "attached"
    libc.ptrace(17, ppid, 0, 0)  # PTRACE_DETACH
else:
    out["ptrace"] = f"denied {ctypes.get_errno()}"
print(json.dumps(out))
"""
POISON = "import glob\nfor p in glob.glob('/tmp/pve-lambda-test/pve-staged/*/orig/lib.py'):\n    open(p, 'a').write('import os; os.system(\"id\")\\n')\nprint('planted')\n"
first = asyncio.run(sandbox.run(staged, RunSpec(mode=RunMode.SCRIPT, target="attack.py", patches={"attack.py": ATTACK % sys.argv[3]})))
second = asyncio.run(sandbox.run(staged, RunSpec(mode=RunMode.SCRIPT, target="poison.py", patches={"poison.py": POISON})))
try:
    asyncio.run(sandbox.run(staged, RunSpec(mode=RunMode.SCRIPT, target="lib.py")))
    third = "ran"
except SandboxUnavailable as exc:
    third = f"refused: {exc}"
print(json.dumps({"attack": first.stdout.strip().splitlines()[-1] if first.stdout.strip() else first.stderr,
                  "attack_nonce": first.nonce_ok, "poison": second.stdout, "poison_killed": second.killed_reason,
                  "poison_nonce": second.nonce_ok, "third": third}))
'''


def test_the_lambda_runners_child_cannot_reach_its_parent_or_the_runtime_api(as_a_user):  # noqa: F811
    """As in Lambda, one unprivileged uid for the runner and the run; the function's credentials
    and the runtime API's address in the runner's environment, a stand-in runtime API listening.
    The run tries to read the runner's environment, memory and descriptors, to post to the runtime
    API, to ptrace the runner, and (a second run) to plant code in the staged project."""
    import json
    import shutil
    import socket
    import threading
    from pathlib import Path

    prefix, env, _home = as_a_user
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.2)
    reached = []

    def accept():
        while not done.is_set():
            with contextlib.suppress(OSError):
                reached.append(listener.accept())
    done = threading.Event()
    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    api = f"127.0.0.1:{listener.getsockname()[1]}"
    scratch = Path("/tmp/pve-lambda-test")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(mode=0o755)
    project = scratch.parent / "pve-lambda-project"
    shutil.rmtree(project, ignore_errors=True)
    project.mkdir(mode=0o755)
    (project / "lib.py").write_text("VALUE = 41\n")
    if os.geteuid() == 0:
        subprocess.run(["chown", "-R", "65534:65534", str(scratch)], check=True)
    try:
        proc = subprocess.run([*prefix, "-c", PARENT, str(scratch), str(project), api], capture_output=True, text=True,
                              timeout=120, cwd="/", env={
                                  "PATH": "/usr/bin:/bin", **env, "AWS_LAMBDA_FUNCTION_NAME": "pve-sandbox",
                                  "LAMBDA_TASK_ROOT": "/var/task", "AWS_LAMBDA_RUNTIME_API": api,
                                  "AWS_ACCESS_KEY_ID": "ASIATESTKEYID", "AWS_SECRET_ACCESS_KEY": "test-secret-key",
                                  "AWS_SESSION_TOKEN": "test-session-token"})
    finally:
        done.set()
        thread.join()
        listener.close()
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(project, ignore_errors=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    seen = json.loads(out["attack"])
    assert out["attack_nonce"]  # the run itself completed normally
    assert seen["environ"].startswith("denied") and seen["mem"].startswith("denied") and seen["fd"].startswith("denied"), seen
    assert seen["runtime_api"] == "denied 1" and not reached  # EPERM from the socket() call itself
    assert seen["ptrace"].startswith("denied"), seen
    assert "planted" in out["poison"] and not out["poison_nonce"]
    assert out["poison_killed"] == "the run wrote outside its folder (into the staged project)"
    assert out["third"].startswith("refused: an earlier run wrote into this staged project")
