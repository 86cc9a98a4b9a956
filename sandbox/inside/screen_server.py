"""The warm screening server. It runs INSIDE bubblewrap, as the sandbox's PID 1, in place of the
harness (copied into the runtime as /pve/screen.py; standard library only).

A fresh run pays for an interpreter, pytest's import and the project's copy before the first
test; most candidates fail their reproduction in a few milliseconds after that. This server
prepares once (limits, project copy, pytest and its built-in plugins imported), then for each
candidate: writes the candidate's files into the project copy, forks a child that runs the
harness's own ``execute`` exactly as a fresh run would, collects its output and record, kills
every process the child left, and puts the project back as it was before the next candidate.

What keeps one candidate from changing the next one's run (../shared/SANDBOX.md, "Screening"):
the child is a separate process (copy-on-write memory; nothing it does reaches the server's
memory); it cannot reach the server's pipes (the server is not dumpable, so /proc/1/fd is
closed to it, and it closes its copies before any user code); every other process in the
sandbox is killed after each candidate; the project copy is compared (names, sizes, mtimes)
with its prepared state and copied afresh when anything changed, and /tmp and /dev/shm are
emptied when anything is left in them. A screening result only ever rejects a candidate: a
candidate that passes is run again in a fresh sandbox, which alone decides a verdict.

Protocol: one JSON request per line on the control fd, one JSON reply per line on the reply
fd, in order; the first reply says the server is ready (or why it is not).
"""

import contextlib
import ctypes
import json
import os
import resource
import selectors
import shutil
import signal
import sys
import time

sys.path.insert(0, "/pve")  # -I leaves the script's folder off sys.path
import direct
import harness
from capture import Capture

SRC = harness.SRC
_SCRATCH = ("/tmp", "/dev/shm")
# Bytecode made by the children (importlib's, and pytest's rewritten test modules), shared by
# later children: compiling pyparsing's core and its 10,000-line test module costs more than
# the test. Outside the project copy, so a cache written is not a change to the project.
_PYCACHE = "/work/pyc"
_STAMPS = int(time.time()) + 10_000_000  # candidates' files get mtimes no real file has


def _not_dumpable():
    """Without this, a child (same uid) could open /proc/1/fd/N: the server's pipes."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
    except (OSError, AttributeError):
        return False
    return True


def _tree_state():
    """What the project copy holds: path -> (size, mtime) for files, None for folders."""
    state: dict = {}
    for folder, dirs, files in os.walk(SRC):
        for name in dirs:
            state[os.path.join(folder, name)] = None
        for name in files:
            path = os.path.join(folder, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            state[path] = (st.st_size, st.st_mtime_ns, st.st_mode)
    return state


def _clear(folder):
    try:
        names = os.listdir(folder)
    except OSError:
        return False
    for name in names:
        path = os.path.join(folder, name)
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)
        except OSError:
            pass
    return bool(names)


def _restage():
    os.chdir("/")
    shutil.rmtree(SRC, ignore_errors=True)
    harness._stage_project()
    os.chdir(SRC)


def _inside(rel):
    parts = rel.split("/")
    if not rel or rel.startswith("/") or ".." in parts:
        return None
    path = os.path.join(SRC, rel)
    folder = SRC
    for part in parts[:-1]:  # a link on the way could lead anywhere: not screened
        folder = os.path.join(folder, part)
        if os.path.islink(folder):
            return None
    return None if os.path.islink(path) else path


def _write_patches(patches, stamp):
    """Write the candidate's files; returns how to undo it, or None when they cannot be screened.

    Each written file gets ``stamp`` as its mtime, unique to this candidate: bytecode caches
    (importlib's and pytest's rewritten test modules) are keyed by a source's mtime and size,
    so a cache made from another candidate's text, or from the original, can never match."""
    undo: list = []
    for rel, text in patches.items():
        path = _inside(rel)
        if path is None:
            _undo(undo)
            return None
        if os.path.exists(path):
            with open(path, "rb") as f:
                undo.append((path, f.read(), os.stat(path)))
        else:
            undo.append((path, None, None))
            os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        os.utime(path, (stamp, stamp))
    return undo


def _undo(undo):
    for path, data, st in reversed(undo):
        if data is None:
            with contextlib.suppress(OSError):
                os.unlink(path)
            continue
        with open(path, "wb") as f:
            f.write(data)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.chmod(path, st.st_mode & 0o7777)


def _kill_others():
    """Every process but this one: the sandbox is a PID namespace with the server as PID 1."""
    me = os.getpid()
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != me:
            with contextlib.suppress(OSError):
                os.kill(int(name), signal.SIGKILL)
    while True:  # reap them (orphans are ours as PID 1)
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.001)


def _child(spec, fds, result_w, cpu, runner=None):
    """In the forked child: from here on it is a fresh run's harness."""
    try:
        os.setsid()
        out_w, err_w, keep = fds
        for fd in keep:
            os.close(fd)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        os.close(out_w)
        os.close(err_w)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # as the interpreter set it at start
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        sys.dont_write_bytecode = False  # into _PYCACHE (see there); a fresh run writes none
        result = os.fdopen(result_w, "w", encoding="utf-8")
        # A screening only rejects (a candidate that passes runs again in a fresh sandbox, whose
        # nonce never enters the test's process memory as a spec entry): this one is the request's.
        code = harness.execute(spec, result, runner, nonce=spec.pop("nonce", ""))
    except BaseException:
        code = 1
    os._exit(code & 0xFF if code >= 0 else 1)


def _direct_runner(spec, tests):
    """What a direct run does in the child in place of pytest (sandbox/inside/direct.py)."""
    def runner(record):
        os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        harness._importable(SRC)
        sys.argv = ["pytest", *spec.get("argv", [])]
        return direct.run(tests, SRC, record, harness._exception, lambda: harness.test_alarm(spec.get("test_seconds")),
                          _DIRECT_CACHE)
    return runner


def _supervise(spec, timeout, control_fds, limits, runner=None):
    """Fork a child that runs ``spec`` (the project copy as it is now), stop it at its clock or
    output cap, kill whatever it left. Returns the reply's fields."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    res_r, res_w = os.pipe()
    spec["result_fd"] = res_w
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        _child(spec, (out_w, err_w, (*control_fds, out_r, err_r, res_r)), res_w, int(timeout) + 1, runner)
    for fd in (out_w, err_w, res_w):
        os.close(fd)
    cap = int(limits["output_cap"])
    streams = {out_r: Capture(cap), err_r: Capture(cap), res_r: Capture(int(limits["result_cap"]) * 2)}
    sel = selectors.DefaultSelector()
    for fd in streams:
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ)
    killed = None
    deadline = started + timeout
    while sel.get_map():
        left = deadline - time.monotonic()
        if left <= 0:
            killed = f"timeout after {timeout:g} s"
            break
        for key, _ in sel.select(min(left, 1.0)):
            try:
                data = os.read(key.fd, 1 << 16)
            except BlockingIOError:
                continue
            if not data:
                sel.unregister(key.fd)
                continue
            stream = streams[key.fd]
            stream.feed(data)
            if key.fd != res_r and stream.total > limits["output_kill"]:
                killed = "output flood (" + ("stdout" if key.fd == out_r else "stderr") + ")"
            elif key.fd == res_r and stream.total > limits["result_cap"]:
                killed = "result too large"
        if killed:
            break
    if killed:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    ended = time.monotonic()
    _kill_others()
    sel.close()
    for fd in streams:
        os.close(fd)
    signalled = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    return {
        "duration_ms": (ended - started) * 1000,
        "exit_code": None if killed or signalled else os.WEXITSTATUS(status),
        "signal": None if killed else signalled, "killed_reason": killed,
        "stdout": _export(streams[out_r]), "stderr": _export(streams[err_r]), "result": _export(streams[res_r]),
    }


# Direct runs (sandbox/inside/direct.py), decided once per kind of request (its tests and options) on
# the original code: the plan of plain tests, or why there is none.
_DIRECT_PLANS: dict = {}
_DIRECT_CACHE = "/work/pyc/direct"
# What a candidate may not touch for its run to be direct: files that change what pytest
# collects or how (the plan was checked against the original ones).
_PYTEST_FILES = ("conftest.py", "pytest.ini", "pyproject.toml", "setup.cfg", "tox.ini")


def _request_key(spec):
    return json.dumps([spec.get(k) for k in ("mode", "argv", "only", "part", "pythonpath", "environment")])


def _record_of(reply):
    part = reply["result"]
    if part["total"] > len(part["head"]) + len(part["tail"]):
        return None  # cut: not a whole record
    try:
        return json.loads((part["head"] + part["tail"]).encode("latin-1").decode("utf-8"))
    except ValueError:
        return None


def calibrate(spec, timeout, control_fds, limits):
    """The direct plan for requests like ``spec``: only when pytest's run and the direct run of
    the original code agree on every test's outcome and exception type. (plan or None, why)"""
    if not _PREPARED.get("direct"):
        return None, "off (PVE_DIRECT_SCREENING=0)"
    base = {k: v for k, v in spec.items() if k != "patches"}
    pytest_run = _supervise(dict(base), timeout, control_fds, limits)
    _reset()
    before = _record_of(pytest_run)
    if before is None or pytest_run["killed_reason"] or not before.get("outcomes"):
        return None, "pytest's run of the original code gave no record"
    has_conftest = any(os.path.basename(p) == "conftest.py" for p in _tree_state())
    try:
        tests = direct.plan(list(before["outcomes"]), SRC, has_conftest)
    except direct.NotPlain as why:
        return None, str(why)
    except (OSError, SyntaxError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    direct_run = _supervise(dict(base), timeout, control_fds, limits, _direct_runner(base, tests))
    _reset()
    after = _record_of(direct_run)
    if after is None:
        return None, "the direct run of the original code gave no record"
    if list(after["outcomes"].items()) != list(before["outcomes"].items()):
        return None, "outcomes differ from pytest's on the original code"
    types = {k: v["type"] for k, v in before["test_exceptions"].items()}
    if {k: v["type"] for k, v in after["test_exceptions"].items()} != types:
        return None, "exceptions differ from pytest's on the original code"
    if after["exit_code"] != before["exit_code"]:
        return None, "exit code differs from pytest's on the original code"
    return tests, ""


_PREPARED: dict = {}  # the project copy's prepared state ("state", set by main and _reset), "direct"


def screen(request, control_fds, limits):
    spec = request["spec"]
    timeout = float(request["timeout_s"])
    patches = spec.pop("patches", {})
    if spec.get("coverage"):  # a trace runs under pytest: the harness's coverage is a pytest plugin
        tests, why = None, "a coverage run"
    else:
        key = _request_key(spec)
        if key not in _DIRECT_PLANS:
            _DIRECT_PLANS[key] = calibrate(spec, timeout, control_fds, limits)
        tests, why = _DIRECT_PLANS[key]
    if tests is not None and any(os.path.basename(p) in _PYTEST_FILES or p in {t[1] for t in tests} for p in patches):
        tests, why = None, "the candidate changes a test module or pytest's configuration"
    undo = _write_patches(patches, _STAMPS + int(request["id"]))
    if undo is None:
        return {"id": request["id"], "screened": False, "why": "a candidate's path runs through a link"}
    runner = _direct_runner(spec, tests) if tests is not None else None
    reply = _supervise(spec, timeout, control_fds, limits, runner)
    _undo(undo)
    return {"id": request["id"], "screened": True, "direct": tests is not None, "direct_why": why, **reply}


def _export(cap):
    return {"head": cap.head.decode("latin-1"), "tail": cap.tail.decode("latin-1"), "total": cap.total}


def _reset():
    """Back to the prepared state: the project copy as staged, scratch folders empty. Whether
    anything had to be put back."""
    dirty = _tree_state() != _PREPARED["state"]
    if dirty:
        _restage()
        _PREPARED["state"] = _tree_state()  # a fresh copy has fresh mtimes
    cleared = [_clear(folder) for folder in _SCRATCH]
    return dirty or any(cleared)


# A test file of the server's own, never the project's: the warm-up must not run user code in the
# server (its memory is every child's starting point). It fails, so the failure path (assertion
# rewriting, reporting) is warm too.
_WARM_TEST = "def test_warm_up():\n    values = [1, 2]\n    assert values == [1, 3]\n"


def _warm_up():
    """One pytest run in the server on its own test, then the heap frozen. Measured on a 7-test
    module: a child's run took 97 ms with pytest's plugins merely imported, 53 ms after a warm-up
    run (pytest imports and builds much at its first run: argparse, assertion rewriting, the
    terminal reporter), 24 ms with the heap frozen as well: pytest calls ``gc.collect()`` five
    times at its end, and in a child every collection walks (and so copies, page by page) the
    whole inherited heap. ``gc.freeze()`` moves what the server holds out of the collector's
    sight; a child's own garbage is collected as before. Returns why it failed, or ""."""
    import gc
    import io

    import pytest

    folder = "/tmp/pve-warm-up"
    saved = (sys.stdout, sys.stderr, sys.argv[:], sys.path[:], os.getcwd())
    try:
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "test_pve_warm_up.py"), "w", encoding="utf-8") as f:
            f.write(_WARM_TEST)
        os.chdir(folder)
        sys.stdout = sys.stderr = io.StringIO()
        code = pytest.main([folder, "-p", "no:cacheprovider", "--color=no", "-q", "--tb=native", "--rootdir", folder])
    except BaseException as exc:  # any failure means: no warm server
        return f"the warm-up run failed: {type(exc).__name__}: {exc}"
    finally:
        sys.stdout, sys.stderr, sys.argv[:], sys.path[:], cwd = saved
        os.chdir(cwd)
        sys.modules.pop("test_pve_warm_up", None)
        shutil.rmtree(folder, ignore_errors=True)
    if int(code) != 1:  # its one test fails, by design
        return f"the warm-up run ended with exit code {int(code)}, not 1"
    gc.collect()
    gc.freeze()
    return ""


def main():
    setup = json.loads(sys.argv[1])
    control = os.fdopen(setup["control_fd"], "rb", 0)
    reply = os.fdopen(setup["reply_fd"], "wb", 0)
    control_fds = (setup["control_fd"], setup["reply_fd"])

    def answer(message):
        reply.write((json.dumps(message) + "\n").encode())

    if not _not_dumpable():
        answer({"ready": False, "why": "cannot make the server undumpable"})
        return
    harness.prepare(setup)
    sys.pycache_prefix = _PYCACHE
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    try:  # what every pytest run imports first: pytest and its built-in plugins
        import importlib

        import pytest  # noqa: F401
        from _pytest.config import default_plugins

        for name in default_plugins:
            with contextlib.suppress(Exception):  # a plugin this pytest lacks is imported by no run either
                importlib.import_module(f"_pytest.{name}")
    except Exception as exc:
        answer({"ready": False, "why": f"pytest did not import: {type(exc).__name__}: {exc}"})
        return
    why = _warm_up()
    if why:
        answer({"ready": False, "why": why})
        return
    _PREPARED["state"] = _tree_state()
    _PREPARED["direct"] = bool(setup.get("direct"))
    answer({"ready": True})
    buffered = b""
    while True:
        chunk = control.read(1 << 16)
        if not chunk:
            return
        buffered += chunk
        while b"\n" in buffered:
            line, buffered = buffered.split(b"\n", 1)
            request = json.loads(line)
            message = screen(request, control_fds, setup["screen_limits"])
            message["reset"] = _reset()
            answer(message)


if __name__ == "__main__":
    main()
