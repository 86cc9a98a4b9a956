"""The warm screening sandbox (sandbox/inside/screen_server.py): a screened run is the fresh run's
result at a fraction of its cost, and nothing one candidate does reaches the next one's run."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from pve.models import RunMode, RunResult, RunSpec
from pve.settings import SandboxSettings
from sandbox.bwrap import BubblewrapSandbox

pytestmark = pytest.mark.sandbox

LIB = "def answer():\n    return 41\n"
TESTS = ("from lib import answer\n\n"
         "def test_answer():\n    assert answer() == 42\n\n"
         "def test_other():\n    assert True\n")


@pytest.fixture(scope="module")
def sandbox() -> BubblewrapSandbox:
    return BubblewrapSandbox(SandboxSettings(timeout_s=30.0, output_kill_bytes=1 << 20, screen_after=0), slots=1)


@pytest.fixture
def staged(sandbox, tmp_path):
    (tmp_path / "lib.py").write_text(LIB)
    (tmp_path / "test_lib.py").write_text(TESTS)
    st = sandbox.stage(tmp_path)
    yield st
    sandbox.cleanup(st)


def spec(*argv: str, patches: dict[str, str] | None = None, timeout_s: float | None = None) -> RunSpec:
    return RunSpec(mode=RunMode.PYTEST, argv=list(argv or ["test_lib.py"]), patches=patches or {}, label="candidate",
                   timeout_s=timeout_s)


def screens(sandbox, staged, *specs: RunSpec) -> list[RunResult | None]:
    """Several screens in one event loop: one warm server serves them all, in order."""
    async def go():
        try:
            return [await sandbox.screen(staged, s) for s in specs]
        finally:
            await sandbox.release(staged)
    return asyncio.run(go())


def test_a_screened_run_has_the_fresh_runs_outcomes_and_exceptions(sandbox, staged):
    fixed = {"lib.py": "def answer():\n    return 42\n"}
    fresh = [asyncio.run(sandbox.run(staged, s)) for s in (spec(), spec(patches=fixed))]
    screened = screens(sandbox, staged, spec(), spec(patches=fixed))
    for f, s in zip(fresh, screened, strict=True):
        assert s is not None and s.screened and not f.screened
        assert s.nonce_ok and s.record.completed
        assert s.record.outcomes == f.record.outcomes
        assert s.exit_code == f.exit_code
    failed = screened[0].record.test_exceptions["test_lib.py::test_answer"]
    assert failed.type == "AssertionError" and failed.frames[-1].project_path == "test_lib.py"
    assert screened[1].record.outcomes == {"test_lib.py::test_answer": "passed", "test_lib.py::test_other": "passed"}


def test_each_candidate_sees_its_own_files_never_a_cached_compile_of_another(sandbox, staged):
    # Same size, so only the file's mtime tells the bytecode caches apart: importlib's (lib.py)
    # and pytest's rewritten test module (a patched test file).
    texts = ["def answer():\n    return 42\n", "def answer():\n    return 43\n", LIB, "def answer():\n    return 42\n"]
    wants = ["passed", "failed", "failed", "passed"]
    results = screens(sandbox, staged, *(spec(patches={"lib.py": t}) for t in texts))
    assert [r.record.outcomes["test_lib.py::test_answer"] for r in results] == wants
    test_texts = [TESTS.replace("== 42", "== 41"), TESTS, TESTS.replace("== 42", "== 41")]
    results = screens(sandbox, staged, *(spec(patches={"test_lib.py": t}) for t in test_texts))
    assert [r.record.outcomes["test_lib.py::test_answer"] for r in results] == ["passed", "failed", "passed"]


def test_what_a_candidate_writes_leaves_or_starts_is_gone_for_the_next(sandbox, staged):
    leave = ("import os, subprocess, sys\n"
             "def test_leave():\n"
             "    open('/work/src/lib.py', 'a').write('\\nVALUE = 1\\n')\n"
             "    open('/work/src/extra.py', 'w').write('X = 1\\n')\n"
             "    open('/tmp/left', 'w').write('x')\n"
             "    os.makedirs('/dev/shm/dir', exist_ok=True)\n"
             "    subprocess.Popen(['sleep', '600'], start_new_session=True)\n")
    look = ("import os\n"
            "def test_look():\n"
            "    assert not os.path.exists('/work/src/extra.py')\n"
            "    assert 'VALUE' not in open('/work/src/lib.py').read()\n"
            "    assert not os.listdir('/tmp') and not os.listdir('/dev/shm')\n"
            "    others = [p for p in os.listdir('/proc') if p.isdigit() and int(p) not in (1, os.getpid())]\n"
            "    assert others == [], others\n")
    first, second = screens(sandbox, staged, spec("test_leave.py", patches={"test_leave.py": leave}),
                            spec("test_look.py", patches={"test_look.py": look}))
    assert first.record.outcomes == {"test_leave.py::test_leave": "passed"}
    assert second.record.outcomes == {"test_look.py::test_look": "passed"}, second.stdout[-2000:]


def test_the_servers_warm_up_leaves_nothing_but_a_frozen_heap(sandbox, staged):
    # The server ran pytest once on a test of its own (never the project's) and froze its heap:
    # a child sees none of that run, and its collector skips what it inherited.
    probe = ("import gc, os, sys\n"
             "def test_probe():\n"
             "    assert not [m for m in sys.modules if 'warm_up' in m]\n"
             "    assert not os.path.exists('/tmp/pve-warm-up') and os.getcwd() == '/work/src'\n"
             "    assert gc.get_freeze_count() > 10000\n")
    (result,) = screens(sandbox, staged, spec("test_probe.py", patches={"test_probe.py": probe}))
    assert result.record.outcomes == {"test_probe.py::test_probe": "passed"}, result.stdout[-2000:]


def test_a_candidate_cannot_reach_the_servers_pipes(sandbox, staged):
    # Same uid as the server: only the server being undumpable keeps /proc/1 closed.
    probe = ("import os, pytest\n"
             "def test_probe():\n"
             "    for path in ('/proc/1/fd', '/proc/1/fdinfo'):\n"
             "        with pytest.raises(PermissionError):\n"
             "            os.listdir(path)\n"
             "    with pytest.raises(PermissionError):\n"
             "        open('/proc/1/mem', 'rb')\n")
    (result,) = screens(sandbox, staged, spec("test_probe.py", patches={"test_probe.py": probe}))
    assert result.record.outcomes == {"test_probe.py::test_probe": "passed"}, result.stdout[-2000:]


def test_a_hung_or_flooding_or_vanishing_candidate_is_stopped_and_the_server_serves_on(sandbox, staged):
    # (blocking the harness's per-test alarm first: only the wall clock can stop this one)
    hang = "import signal\ndef test_hang():\n    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])\n" \
           "    while True:\n        pass\n"
    flood = "import sys\ndef test_flood():\n    while True:\n        sys.__stdout__.write('x' * 65536)\n"
    vanish = "import os\ndef test_vanish():\n    os._exit(0)\n"
    hung, flooded, vanished, fine = screens(
        sandbox, staged, spec("test_hang.py", patches={"test_hang.py": hang}, timeout_s=1.5),
        spec("test_flood.py", patches={"test_flood.py": flood}),
        spec("test_vanish.py", patches={"test_vanish.py": vanish}), spec())
    assert hung.timed_out and hung.killed_reason.startswith("timeout") and hung.exit_code is None
    assert flooded.killed_reason == "output flood (stdout)" and flooded.stdout_bytes > 1 << 20
    assert vanished.exit_code == 0 and not vanished.nonce_ok  # no record: no pass
    assert fine.nonce_ok and fine.record.outcomes["test_lib.py::test_other"] == "passed"


def test_what_cannot_be_screened_says_none(tmp_path, staged):
    script = RunSpec(mode=RunMode.SCRIPT, target="lib.py")
    on = BubblewrapSandbox(SandboxSettings(timeout_s=30.0, screen_after=0), slots=1)
    off = BubblewrapSandbox(SandboxSettings(timeout_s=30.0, screening=False), slots=1)
    try:
        assert asyncio.run(on.screen(staged, script)) is None
        assert asyncio.run(on.screen(staged, spec().model_copy(update={"wall_s": 5.0}))) is None  # a clock of its own
        assert asyncio.run(off.screen(staged, spec())) is None
    finally:
        for sb in (on, off):
            for fd in sb._slot_locks:
                os.close(fd)


def test_a_projects_first_candidates_run_fresh(staged):
    # a server per slot costs about two fresh runs: a search over in a few candidates is faster without
    sb = BubblewrapSandbox(SandboxSettings(timeout_s=30.0, screen_after=2), slots=1)
    try:
        first, second, third = screens(sb, staged, spec(), spec(), spec())
        assert first is None and second is None
        assert third is not None and third.screened and third.nonce_ok
    finally:
        for fd in sb._slot_locks:
            os.close(fd)


def test_release_stops_the_projects_server(sandbox, staged):
    async def go():
        await sandbox.screen(staged, spec())
        (screener,) = sandbox._screeners.values()
        assert screener.sandbox_pid is not None and os.path.exists(f"/proc/{screener.sandbox_pid}")
        await sandbox.release(staged)
        return screener
    screener = asyncio.run(go())
    assert screener.closed and not sandbox._screeners and screener.proc.returncode is not None
    for _ in range(100):  # bwrap has exited; its child, killed too, is reaped by the host's init
        if not os.path.exists(f"/proc/{screener.sandbox_pid}") or \
                Path(f"/proc/{screener.sandbox_pid}/stat").read_text().split()[2] == "Z":
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the screening server outlived its project")


def test_a_session_rejects_by_screening_and_verifies_only_fresh(tmp_path):
    from dataclasses import replace

    from entrypoints import bootstrap
    from pve.models import SessionStatus, VerifyRequest
    from pve.settings import Settings
    from statemachine.runner import verify

    (tmp_path / "calc.py").write_text("def half(x):\n    if x >= 4:\n        raise ValueError(x)\n    return x / 2\n")
    (tmp_path / "test_calc.py").write_text("from calc import half\n\n\ndef test_half():\n    assert half(4) == 2\n\n\n"
                                          "def test_small():\n    assert half(2) == 1\n")
    settings = Settings.from_env({})
    svc = bootstrap.services(replace(settings, home=tmp_path / "home", slots=2,
                                     sandbox=replace(settings.sandbox, screen_after=0)))
    session = asyncio.run(verify(VerifyRequest(path=tmp_path, test="test_calc.py::test_half", cache=False), svc))
    assert session.status is SessionStatus.VERIFIED, session.message
    winner = session.winning_verdict()
    assert winner.run is not None and not winner.run.screened and winner.run.nonce_ok
    # failed the reproduction: screened only; passed it and broke a test: run fresh, then held
    failed = [v for v in session.verdicts if not v.verified and v.preflight.ok and v.regression is None]
    assert failed and all(v.run is not None and v.run.screened and v.run.label.endswith("(screened, tests called directly)") for v in failed)
    broke = [v for v in session.verdicts if v.regressions]
    assert all(v.run is not None and not v.run.screened for v in broke)
    assert not svc.sandbox._screeners  # released with the session


def test_an_endless_loop_in_a_test_is_a_failure_with_a_traceback_and_the_others_still_run(sandbox, staged):
    loops = {"lib.py": "def answer():\n    n = 0\n    while n >= 0:\n        n += 1\n    return 42\n"}
    started = time.monotonic()
    fresh = asyncio.run(sandbox.run(staged, spec(patches=loops, timeout_s=4.0)))
    (screened,) = screens(sandbox, staged, spec(patches=loops, timeout_s=4.0))
    for run in (fresh, screened):
        assert run is not None and run.nonce_ok and not run.killed_reason  # the run itself finished
        assert run.record.outcomes == {"test_lib.py::test_answer": "failed", "test_lib.py::test_other": "passed"}
        exc = run.record.test_exceptions["test_lib.py::test_answer"]
        assert exc.type == "TimeoutError" and "2 s" in exc.message
        assert any(f.line in (3, 4) and f.file.endswith("lib.py") for f in exc.frames)  # stopped inside the loop
    assert time.monotonic() - started < 15


def test_a_stepping_stones_trace_may_be_screened_and_is_the_fresh_runs(sandbox, staged):
    # coverage orders candidates and never judges one: the warm server may trace it
    traced = spec().model_copy(update={"coverage": True})
    fresh = asyncio.run(sandbox.run(staged, traced))
    (screened,) = screens(sandbox, staged, traced)
    assert screened is not None and screened.screened and screened.record.coverage is not None
    assert screened.record.coverage == fresh.record.coverage
    assert screened.record.coverage.tests["test_lib.py::test_answer"] == {"lib.py": [2]}
