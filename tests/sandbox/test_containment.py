"""Real bubblewrap sandboxes against the attacks in ../shared/SANDBOX.md. Each asserts containment."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

import pytest

from pve.errors import SandboxUnavailable
from pve.models import RunMode, RunResult, RunSpec
from pve.settings import SandboxSettings
from sandbox.bwrap import BubblewrapSandbox

pytestmark = pytest.mark.sandbox

# The wall-clock tests set WALL per run (a run's limit may only be tighter than the sandbox's);
# every other run gets the roomy CEILING, so a busy 2-core machine cannot turn a containment
# check (out of memory, output flood, ...) into a timeout.
WALL = 3.0
CEILING = 30.0


@pytest.fixture(scope="module")
def sandbox() -> BubblewrapSandbox:
    return BubblewrapSandbox(SandboxSettings(timeout_s=CEILING, output_kill_bytes=4 << 20), slots=2)


@pytest.fixture(scope="module")
def staged(sandbox, tmp_path_factory):
    project = tmp_path_factory.mktemp("proj")
    (project / "lib.py").write_text("VALUE = 41\n")
    st = sandbox.stage(project)
    yield st
    sandbox.cleanup(st)


def run(sandbox, staged, code: str, *, timeout_s: float | None = None, **kw) -> RunResult:
    spec = RunSpec(mode=RunMode.SCRIPT, target="attack.py", patches={"attack.py": code, **kw.pop("patches", {})},
                   timeout_s=timeout_s)
    return asyncio.run(sandbox.run(staged, spec))


def snapshot(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(root.rglob("*"))}


def slot_processes(sandbox) -> list[int]:
    uids = {sandbox.settings.uid_base + n for n in sandbox.slot_numbers}
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if os.stat(f"/proc/{pid}").st_uid in uids:
                    found.append(int(pid))
            except FileNotFoundError:
                pass
    return found


def _gone(sandbox, within_s: float = 10.0) -> bool:
    """Have the slots' processes all exited? (Polled: the kernel reaps them asynchronously.)"""
    deadline = time.monotonic() + within_s
    while slot_processes(sandbox) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not slot_processes(sandbox)


def test_a_normal_run_passes_with_nonce(sandbox, staged):
    r = run(sandbox, staged, "import lib\nassert lib.VALUE + 1 == 42\nprint('ok')\n")
    assert r.exit_code == 0 and r.nonce_ok and r.stdout == "ok\n", r


def _descends_from(pid: int, ancestor: int) -> bool:
    while pid > 1:
        if pid == ancestor:
            return True
        stat = Path(f"/proc/{pid}/stat").read_text()
        pid = int(stat.rsplit(")", 1)[1].split()[1])  # the field after the command name is the parent
    return False


def test_runs_as_an_unprivileged_host_uid(sandbox, staged):
    """Seen from the host, every sandboxed process (bwrap included) has a non-root uid."""
    marker = "pve-uid-probe-7c1d"
    seen: dict[int, int] = {}

    async def probe():
        task = asyncio.create_task(sandbox.run(staged, RunSpec(
            mode=RunMode.SCRIPT, target="attack.py",
            patches={"attack.py": f"import os, time\nprint(os.getuid())\ntime.sleep(1.0)  # {marker}\n"})))
        deadline = time.monotonic() + 3
        while not task.done() and time.monotonic() < deadline:
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
                    # ours only: other PVE processes on a busy machine run sandboxes too
                    if (b"bwrap" in cmd or b"/pve/harness.py" in cmd) and _descends_from(int(pid), os.getpid()):
                        seen[int(pid)] = os.stat(f"/proc/{pid}").st_uid
                except OSError:
                    pass
            await asyncio.sleep(0.05)
        return await task

    r = asyncio.run(probe())
    assert r.stdout == "1000\n"
    assert seen and 0 not in seen.values(), seen
    if os.geteuid() == 0:
        base = sandbox.settings.uid_base
        assert set(seen.values()) <= {base + n for n in sandbox.slot_numbers}, seen


def test_os_exit_zero_at_import_has_no_nonce(sandbox, staged):
    r = run(sandbox, staged, "import helper\nassert False\n", patches={"helper.py": "import os\nos._exit(0)\n"})
    assert r.exit_code == 0
    assert not r.nonce_ok


def test_sys_exit_from_code_under_test_is_not_a_pass(sandbox, staged):
    r = run(sandbox, staged, "import helper\nassert False\n", patches={"helper.py": "import sys\nsys.exit(0)\n"})
    assert r.record.exception is not None and r.record.exception.type == "SystemExit"
    assert r.exit_code == 1


def test_fork_bomb_is_contained_and_the_next_slot_still_works(sandbox, staged):
    bomb_wall = 10.0  # long enough for the other slot's run on a busy machine
    bomb = RunSpec(mode=RunMode.SCRIPT, target="bomb.py", timeout_s=bomb_wall, patches={"bomb.py": (
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n")})
    ok = RunSpec(mode=RunMode.SCRIPT, target="ok.py", patches={"ok.py": "import subprocess\nprint(subprocess.run(['true']).returncode)\n"})

    async def both():
        b = asyncio.create_task(sandbox.run(staged, bomb))
        # wait until the bomb has filled its slot (its process limit), not for a guessed time
        deadline = time.monotonic() + bomb_wall / 2
        while len(slot_processes(sandbox)) < sandbox.settings.max_procs // 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert len(slot_processes(sandbox)) >= sandbox.settings.max_procs // 2, "the bomb never filled its slot"
        o = await sandbox.run(staged, ok)  # the other slot, a different uid
        assert not b.done()
        return await b, o

    started = time.monotonic()
    bomb_result, ok_result = asyncio.run(both())
    assert bomb_result.timed_out and bomb_result.exit_code is None
    assert time.monotonic() - started < bomb_wall + 5
    assert ok_result.nonce_ok and ok_result.stdout == "0\n", ok_result.stderr
    assert _gone(sandbox), slot_processes(sandbox)


def test_memory_bomb_hits_the_address_space_limit(sandbox, staged):
    r = run(sandbox, staged, "blob = bytearray(8 << 30)\n")
    assert r.record.exception is not None and r.record.exception.type == "MemoryError"
    assert r.duration_ms < CEILING * 1000 / 3  # refused at once, not a slow crawl into the wall clock


def test_endless_loop_is_stopped_by_the_wall_clock(sandbox, staged):
    r = run(sandbox, staged, "while True:\n    pass\n", timeout_s=WALL)
    assert r.timed_out and r.killed_reason.startswith("timeout")
    assert WALL * 1000 <= r.duration_ms < (WALL + 5) * 1000


def test_sigterm_ignoring_code_still_dies(sandbox, staged):
    r = run(sandbox, staged, "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(60)\n",
            timeout_s=WALL)
    assert r.timed_out and r.duration_ms < (WALL + 5) * 1000


def test_output_flood_is_capped_while_streaming(sandbox, staged):
    r = run(sandbox, staged, "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n")
    assert r.killed_reason == "output flood (stdout)"
    assert r.stdout_bytes > 4 << 20
    assert len(r.stdout) < sandbox.settings.output_cap_bytes + 200
    assert "bytes cut by PVE" in r.stdout


def test_disk_fill_stays_in_the_sandbox(sandbox, staged):
    before = snapshot(staged.root)
    code = ("import os\nn = 0\ntry:\n    with open('/work/src/fill.bin', 'wb') as f:\n"
            "        while True:\n            f.write(b'0' * (1 << 20)); n += 1\n"
            "except OSError as e:\n    print('stopped', n, e.errno)\n"
            "for path in ('/usr/evil', '/orig/evil.py', '/pve/harness.py', '/etc/passwd'):\n"
            "    try:\n        open(path, 'w').write('x')\n        print('WROTE', path)\n"
            "    except OSError as e:\n        print('denied', path, e.errno)\n")
    r = run(sandbox, staged, code)
    assert r.stdout.startswith("stopped"), r.stderr
    written_mb = int(r.stdout.split()[1])
    assert written_mb <= sandbox.settings.max_file_bytes >> 20
    assert "WROTE" not in r.stdout
    assert snapshot(staged.root) == before


def test_the_sandbox_root_and_etc_take_no_writes(sandbox, staged):
    """bwrap's root is a tmpfs with no size: writable, 5 GB went into it until the memory cgroup
    (or, without one, the host's memory) gave out. It is read-only after the mounts."""
    code = ("import os\nfor path in ('/fill.bin', '/etc/fill.bin', '/newdir/x', '/run/x', '/var/x'):\n"
            "    try:\n        os.makedirs(os.path.dirname(path), exist_ok=True)\n"
            "        with open(path, 'wb') as f:\n            f.write(b'0' * (8 << 20))\n"
            "        print('WROTE', path)\n"
            "    except OSError as e:\n        print('denied', path, e.errno)\n"
            "open('/tmp/ok', 'w').write('x'); open('/work/ok', 'w').write('x'); print('sized tmpfs ok')\n")
    r = run(sandbox, staged, code)
    assert "WROTE" not in r.stdout, r.stdout
    assert r.stdout.count("denied") == 5 and "sized tmpfs ok" in r.stdout, (r.stdout, r.stderr)


def test_no_network_not_even_the_hosts_loopback(sandbox, staged):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(4)
    port = server.getsockname()[1]
    hits = []

    def accept():
        with contextlib.suppress(OSError):
            hits.append(server.accept())

    t = threading.Thread(target=accept)
    t.start()
    code = ("import socket\nfor addr in [('127.0.0.1', %d), ('1.1.1.1', 53), ('10.0.0.1', 80)]:\n"
            "    try:\n        socket.create_connection(addr, timeout=1)\n        print('CONNECTED', addr)\n"
            "    except OSError as e:\n        print('blocked', addr, type(e).__name__)\n"
            "import os\nprint(sorted(os.listdir('/sys/class/net')) if os.path.exists('/sys/class/net') else 'no-sys')\n") % port
    r = run(sandbox, staged, code)
    server.close()
    t.join()
    assert "CONNECTED" not in r.stdout and r.stdout.count("blocked") == 3, r.stdout + r.stderr
    assert hits == []


def test_environment_secrets_are_not_visible(sandbox, staged, monkeypatch):
    monkeypatch.setenv("PVE_TEST_SECRET", "hunter2-secret-value")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-value")
    code = ("import os\nprint(dict(os.environ))\nfor p in ('/proc/1/environ', '/proc/self/environ'):\n"
            "    try:\n        print(open(p, 'rb').read())\n    except OSError as e:\n        print(p, e)\n")
    r = run(sandbox, staged, code)
    assert r.nonce_ok
    assert "hunter2" not in r.stdout and "aws-secret" not in r.stdout
    assert "PVE_TEST_SECRET" not in r.stdout


def test_host_files_are_not_visible(sandbox, staged, tmp_path):
    secret = tmp_path / "host-secret.txt"
    secret.write_text("top secret")
    code = ("import os\nfor p in %r:\n    print(p, os.path.exists(p))\n"
            "print(sorted(os.listdir('/')))\n") % ([str(secret), "/etc/shadow", "/root", "/home", str(Path.cwd() / "pyproject.toml"),
                                                     str(staged.root)],)
    r = run(sandbox, staged, code)
    lines = r.stdout.splitlines()
    assert all(line.endswith("False") for line in lines[:-1]), r.stdout
    top = eval(lines[-1])  # a list literal printed by the sandbox
    assert "root" not in top and "home" not in top


def test_kernel_knobs_and_seccomp(sandbox, staged):
    code = (
        "import ctypes, errno, os, fcntl, termios\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "def call(name, *args):\n"
        "    rc = getattr(libc, name)(*args)\n"
        "    print(name, rc, errno.errorcode.get(ctypes.get_errno(), ctypes.get_errno()))\n"
        "call('unshare', 0x10000000)\n"
        "call('ptrace', 0, 0, 0, 0)\n"
        "call('mount', b'none', b'/tmp', b'tmpfs', 0, None)\n"
        "call('syscall', 321, 0, 0, 0)\n"  # bpf
        "try:\n    open('/proc/sys/kernel/core_pattern', 'w').write('|/bin/sh')\n    print('core_pattern WROTE')\n"
        "except OSError as e:\n    print('core_pattern', type(e).__name__)\n"
    )
    r = run(sandbox, staged, code)
    out = dict(line.split(" ", 1) for line in r.stdout.splitlines())
    for name in ("unshare", "ptrace", "mount", "syscall"):
        assert out[name] == "-1 EPERM", r.stdout + r.stderr
    assert "WROTE" not in out["core_pattern"]


def test_leftover_daemons_die_with_the_run(sandbox, staged):
    code = ("import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
            "        time.sleep(60)\n    os._exit(0)\nprint('parent done')\n")
    r = run(sandbox, staged, code)
    assert r.nonce_ok and r.stdout == "parent done\n"
    assert _gone(sandbox), slot_processes(sandbox)


def test_planted_symlinks_never_reach_the_host(sandbox, staged):
    before = snapshot(staged.root)
    code = ("import os\nfor src, dst in [('/etc/shadow', '/work/src/result.json'), ('/etc/shadow', '/orig/result.json'),"
            " ('/root', '/patch/x')]:\n    try:\n        os.symlink(src, dst)\n        print('linked', dst)\n"
            "    except OSError as e:\n        print('denied', dst, e.errno)\n")
    r = run(sandbox, staged, code)
    assert "linked /work/src/result.json" in r.stdout  # its own tmpfs: allowed, and invisible to the host
    assert "linked /orig" not in r.stdout and "linked /patch" not in r.stdout
    assert snapshot(staged.root) == before
    assert r.nonce_ok  # the verdict came over the pipe, untouched by files in the run dir


def test_threads_work_under_the_memory_limit(sandbox, staged):
    r = run(sandbox, staged, "import threading\nts = [threading.Thread(target=lambda: None) for _ in range(60)]\n"
                             "[t.start() for t in ts]\n[t.join() for t in ts]\nprint('threads ok')\n")
    assert r.stdout == "threads ok\n", r.stderr


def test_memory_summed_over_forked_processes_is_capped(sandbox, staged):
    """4 x 600 MB stays under the per-process address-space limit but not under the sandbox's cgroup."""
    if not sandbox.cgroups.available:
        assert os.geteuid() != 0, f"running as root, cgroups should be available: {sandbox.cgroups.reason}"
        pytest.skip(f"no cgroups here: {sandbox.cgroups.reason} (documented limit)")
    code = ("import os, time\nkids = []\nfor _ in range(4):\n    pid = os.fork()\n    if pid == 0:\n"
            "        blob = b'x' * (600 << 20)\n        time.sleep(2)\n        os._exit(0)\n    kids.append(pid)\n"
            "codes = [os.waitpid(k, 0)[1] for k in kids]\nprint('statuses', codes)\n")
    r = run(sandbox, staged, code)
    assert r.killed_reason and r.killed_reason.startswith("out of memory"), (r.killed_reason, r.stdout, r.stderr)
    assert "memory" in sandbox.describe()["cgroups"]


def test_describe_names_every_defence(sandbox):
    """The proof's sandbox block states each defence with the values this sandbox enforces."""
    d, s = sandbox.describe(), sandbox.settings
    assert d["backend"].startswith("bubblewrap (bubblewrap ")
    assert d["python"].split()[0].count(".") == 2
    assert all(ns in d["namespaces"] for ns in ("user", "pid", "net (loopback only)", "ipc", "uts", "mount"))
    assert "empty" in d["environment"]
    assert "read-only /usr" in d["filesystem"] and f"{s.tmpfs_bytes >> 20} MiB" in d["filesystem"]
    assert f"wall {s.timeout_s:g} s" in d["limits"] and f"address space {s.memory_bytes >> 20} MiB" in d["limits"]
    assert f"{s.max_procs} processes" in d["limits"] and f"file size {s.max_file_bytes >> 20} MiB" in d["limits"]
    assert all(call in d["seccomp"] for call in ("ptrace", "io_uring", "bpf", "unshare", "ioctl(TIOCSTI)"))
    if os.geteuid() == 0:
        uids = ", ".join(str(s.uid_base + n) for n in sandbox.slot_numbers)
        assert f"one uid/gid per parallel slot ({uids})" in d["identity"]
        assert f"memory {s.cgroup_memory_bytes >> 20} MiB for all processes together" in d["cgroups"]
    assert f"{s.output_cap_bytes >> 10} KiB kept per stream" in d["output"]
    # two slots for candidates, plus one for the background baseline where CPU weights exist
    assert d["slots"] == 2 and len(sandbox.slot_numbers) == 2 + sandbox.background_slots
    assert (d["background slots"] == "none") == (sandbox.background_slots == 0)
    # a proof is public: it says where a run sees its environment, never the host's store
    assert "read-only at /pve-env" in d["environments"]
    assert not any(str(sandbox.environments_root()) in str(v) for v in d.values())


def test_each_pve_process_gets_its_own_slots(sandbox):
    other = BubblewrapSandbox(SandboxSettings(timeout_s=CEILING), slots=2)
    assert not set(other.slot_numbers) & set(sandbox.slot_numbers)
    assert len(set(other.slot_numbers)) == 2 + other.background_slots


def test_bwrap_without_namespaces_stops_with_the_fix(staged):
    """When the kernel refuses namespaces, bwrap says so on stderr; PVE stops with the sysctl to change."""
    folder = Path(tempfile.mkdtemp(prefix="pve-fake-bwrap-"))
    folder.chmod(0o755)  # the slot uid starts it
    fake = folder / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    sb = BubblewrapSandbox(SandboxSettings(timeout_s=CEILING), slots=1)
    sb.bwrap = str(fake)
    with pytest.raises(SandboxUnavailable, match="cannot create its sandbox") as err:
        run(sb, staged, "print('never runs')\n")
    assert "unprivileged_userns_clone" in str(err.value)
    shutil.rmtree(folder)


def test_coverage_is_recorded_per_test_inside_the_sandbox(sandbox, tmp_path):
    project = tmp_path / "cov"
    (project / "tests").mkdir(parents=True)
    (project / "calc.py").write_text("LIMIT = 3\n\n\ndef double(x):\n    if x > LIMIT:\n        return x\n    return 2 * x\n")
    (project / "tests" / "test_calc.py").write_text(
        "from calc import double\n\n\ndef test_small():\n    assert double(1) == 2\n\n\n"
        "def test_big():\n    assert double(9) == 18\n")
    st = sandbox.stage(project)
    try:
        traced = asyncio.run(sandbox.run(st, RunSpec(mode=RunMode.PYTEST, argv=["tests"], coverage=True)))
        plain = asyncio.run(sandbox.run(st, RunSpec(mode=RunMode.PYTEST, argv=["tests"])))
    finally:
        sandbox.cleanup(st)
    cov = traced.record.coverage
    assert traced.nonce_ok and cov is not None
    assert cov.tests["tests/test_calc.py::test_small"]["calc.py"] == [5, 7]
    assert cov.tests["tests/test_calc.py::test_big"]["calc.py"] == [5, 6]
    assert 1 in cov.shared["calc.py"]  # module-level lines ran at import, outside any test
    assert traced.record.outcomes == plain.record.outcomes  # tracing changes no outcome
    assert plain.record.coverage is None  # only when asked


def test_a_cancelled_run_takes_its_sandbox_down(sandbox, staged):
    """A run its caller no longer needs (the baseline of a failure that did not reproduce) is
    killed on cancellation, not left running unowned; its slot is free again."""
    endless = RunSpec(mode=RunMode.SCRIPT, target="spin.py", patches={"spin.py": "import time\nwhile True:\n    time.sleep(0.01)\n"})

    async def cancel_it():
        task = asyncio.create_task(sandbox.run(staged, endless))
        deadline = time.monotonic() + 10
        while not slot_processes(sandbox) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert slot_processes(sandbox), "the run never started"
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return task.cancelled()

    assert asyncio.run(cancel_it())
    deadline = time.monotonic() + 5
    while slot_processes(sandbox) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert slot_processes(sandbox) == []
    assert run(sandbox, staged, "print('next')\n").stdout == "next\n"  # the slot works again


def test_a_run_cancelled_at_any_moment_of_its_start_leaves_nothing_running(sandbox, staged):
    """Cancelled while bwrap is being spawned, its pipes connected or its child released: the
    cancellation finishes (asyncio alone would wait forever for pipes the blocked child holds)
    and no process of the sandbox is left."""
    endless = RunSpec(mode=RunMode.SCRIPT, target="spin.py", patches={"spin.py": "import time\nwhile True:\n    time.sleep(0.01)\n"})

    async def cancel_after(delay: float) -> None:
        task = asyncio.create_task(sandbox.run(staged, endless))
        await asyncio.sleep(delay)
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=15)
        assert done, f"a run cancelled after {delay * 1000:.0f} ms did not end"

    for k in range(12):
        asyncio.run(cancel_after(k * 0.003))
        deadline = time.monotonic() + 5
        while slot_processes(sandbox) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert slot_processes(sandbox) == [], f"left running after a cancellation at {k * 3} ms"
    assert run(sandbox, staged, "print('next')\n").stdout == "next\n"


def test_the_nonce_is_nowhere_the_code_under_test_can_name(sandbox, staged):
    """The attack that forged a pass: read the nonce (command line, environment, __main__'s and
    the harness's globals, its spec, open descriptors) and write "passed" into the result pipe
    before exiting. None of those places holds it now."""
    code = (
        "import os, sys, json, gc\n"
        "found = []\n"
        "cmd = open('/proc/self/cmdline', 'rb').read()\n"
        "env = open('/proc/self/environ', 'rb').read()\n"
        "main = sys.modules['__main__']\n"
        "names = {k: repr(v)[:100000] for k, v in vars(main).items()}\n"
        "spec = repr(getattr(main, 'SPEC', {}))\n"
        "fds = {}\n"
        "for fd in os.listdir('/proc/self/fd'):\n"
        "    try:\n        fds[fd] = os.readlink(f'/proc/self/fd/{fd}')\n    except OSError:\n        pass\n"
        "print(json.dumps({'cmd': cmd.decode('latin-1'), 'env': env.decode('latin-1'), 'spec': spec,"
        " 'globals': ' '.join(names.values()), 'fds': fds}))\n")
    r = run(sandbox, staged, code)
    seen = json.loads(r.stdout.strip().splitlines()[-1])
    assert r.nonce_ok, r.stderr  # the run itself completed, so the harness did hold a nonce
    assert "fd:" in seen["cmd"] and '"nonce"' not in seen["cmd"] and "nonce" not in seen["spec"]
    assert "nonce" not in seen["env"] and "nonce" not in seen["globals"]
    assert not any("pve-spec" in target for target in seen["fds"].values())  # read and closed before the test ran


def test_a_test_whose_report_was_patched_to_passed_still_fails(sandbox, staged):
    """The other forgery: patch pytest's TestReport so a failing test reports "passed"."""
    conftest = ("import _pytest.reports as reports\n"
                "_orig = reports.TestReport.from_item_and_call.__func__\n"
                "def forged(cls, item, call):\n"
                "    report = _orig(cls, item, call)\n"
                "    report.outcome = 'passed'\n"
                "    report.longrepr = None\n"
                "    return report\n"
                "reports.TestReport.from_item_and_call = classmethod(forged)\n")
    test = "def test_cannot_pass():\n    assert 1 + 1 == 3\n\n\ndef test_honest():\n    assert True\n"
    spec = RunSpec(mode=RunMode.PYTEST, argv=["test_forged.py"], patches={"conftest.py": conftest, "test_forged.py": test})
    r = asyncio.run(sandbox.run(staged, spec))
    assert r.record.outcomes["test_forged.py::test_cannot_pass"] == "failed", r.record.outcomes
    assert r.record.outcomes["test_forged.py::test_honest"] == "passed"
    assert r.record.tampered == ["test_forged.py::test_cannot_pass"]
    assert r.record.test_exceptions["test_forged.py::test_cannot_pass"].type == "AssertionError"
