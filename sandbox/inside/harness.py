"""The in-sandbox harness. It runs INSIDE bubblewrap, before any user code, as the sandbox uid.

Standard library only (plus pytest from /pve/site in pytest mode); it is copied into the
sandbox runtime and must run on whatever Python the sandbox uses.

It (1) lowers its own rlimits, which user code inherits and cannot raise; (2) copies the
read-only project (/orig) into the sized tmpfs (/work/src) and overlays the candidate's files
(/patch); (3) runs the reproduction in-process; (4) writes one JSON record to the result pipe,
carrying the per-run nonce. The nonce is written only when the harness reaches its end, so
``os._exit(0)`` or a kill in user code leaves no nonce and cannot pass. The host checks it.

What a run records by tracing (coverage of a script run, a line count, the calls of chosen
functions) is ``tracers.py``, and what it records by instrumenting imports is ``reach.py``:
both loaded from the harness's own folder by file name (``_load_beside``), only when asked for.
"""

import contextlib
import functools
import json
import os
import resource
import shutil
import signal
import sys
import threading
import traceback

# Where things are: bubblewrap's mounts by default; the AWS sandbox function, which has no
# mounts, gives its own folders in the spec (``layout``).
LAYOUT = {"orig": "/orig", "overlay": "/overlay", "patch": "/patch", "work": "/work", "runtime": "/pve",
          "site": "/pve/site"}
SRC = "/work/src"
SPEC: dict = {}  # this run's spec (the warm screening server sets it again for each candidate)
_HARNESS_FILES = (os.path.abspath(__file__), "<frozen runpy>")


def _limit(which, value):
    if value is None:
        return
    resource.setrlimit(which, (value, value))


def _apply_limits(limits):
    _limit(resource.RLIMIT_AS, limits.get("as"))
    _limit(resource.RLIMIT_CPU, limits.get("cpu"))
    _limit(resource.RLIMIT_NPROC, limits.get("nproc"))
    _limit(resource.RLIMIT_FSIZE, limits.get("fsize"))
    _limit(resource.RLIMIT_NOFILE, limits.get("nofile"))
    _limit(resource.RLIMIT_CORE, 0)


def _set_layout(layout):
    global SRC
    LAYOUT.update(layout or {})
    SRC = LAYOUT["work"] + "/src"


def _stage_project():
    shutil.copytree(LAYOUT["orig"], SRC, symlinks=True)
    # What the environment's build wrote into the project (a C extension's .so, a generated
    # _version.py), then the candidate's files on top.
    for layer in (LAYOUT["overlay"], LAYOUT["patch"]):
        _overlay(layer)


def _overlay(layer):
    if os.path.isdir(layer):
        for folder, _dirs, files in os.walk(layer):
            rel = os.path.relpath(folder, layer)
            dest = os.path.normpath(os.path.join(SRC, rel))
            os.makedirs(dest, exist_ok=True)
            for name in files:
                target = os.path.join(dest, name)
                if os.path.islink(target):
                    os.unlink(target)
                shutil.copyfile(os.path.join(folder, name), target)
                if os.stat(os.path.join(folder, name)).st_mode & 0o100:
                    os.chmod(target, 0o755)


def _frames(tb):
    out = []
    for fs in traceback.extract_tb(tb):
        if fs.filename in _HARNESS_FILES or fs.filename.startswith(LAYOUT["runtime"] + "/"):
            continue
        out.append(_frame(fs.filename, fs.lineno, fs.name, fs.line))
    return out


def _frame(filename, lineno, name, code):
    rel = None
    if filename.startswith(SRC + "/"):
        rel = filename[len(SRC) + 1:]
    return {"file": filename, "line": lineno, "function": name, "code": (code or None), "project_path": rel}


def _exception(exc):
    t = type(exc)
    qualified = t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"
    try:
        message = str(exc)
    except Exception:  # a user __str__ that raises must not break the record
        message = "<unprintable>"
    info = {"type": t.__name__, "qualified_type": qualified, "message": message[:2000],
            "frames": _frames(exc.__traceback__)}
    if isinstance(exc, SyntaxError) and exc.filename:
        name = exc.filename
        info["syntax_file"] = name[len(SRC) + 1:] if name.startswith(SRC + "/") else name
        info["syntax_line"] = exc.lineno
        info["frames"].append(_frame(exc.filename, exc.lineno or 0, None, (exc.text or "").strip()))
    return info


def _exit_code(code):
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _importable(first):
    """sys.path as an installed project would have it: ``first`` (the script's folder, or the
    project root), then the project folders that hold its packages (``src``)."""
    sys.path.insert(0, first)
    for folder in reversed(SPEC.get("pythonpath") or []):
        path = os.path.normpath(os.path.join(SRC, folder))
        if path.startswith(SRC) and path not in sys.path:
            sys.path.insert(1, path)


def _run_python(mode, target, argv, record, coverage=None):
    import runpy

    if coverage is not None:
        coverage.begin("<run>")
        coverage.start()
    try:
        if mode == "script":
            path = os.path.join(SRC, target)
            sys.argv = [path, *argv]
            _importable(os.path.dirname(path))
            runpy.run_path(path, run_name="__main__")
        else:
            sys.argv = [target, *argv]
            _importable(SRC)
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        return 0
    except SystemExit as exc:
        frames = _frames(exc.__traceback__)
        origin = frames[-1]["project_path"] if frames else None
        if mode == "script" and origin not in (None, target):
            # An exit from code under test (not the reproduction) skipped the rest of the
            # reproduction: that is not a pass, whatever the code.
            record["exception"] = _exception(exc)
            print(f"PVE: SystemExit raised in {origin}, not in the reproduction", file=sys.stderr)
            return 1
        return _exit_code(exc.code)
    except BaseException as exc:
        traceback.print_exc()
        record["exception"] = _exception(exc)
        return 1
    finally:
        if coverage is not None:
            coverage.stop()
            coverage.end()


class _Recorder:
    """pytest plugin: outcome and exception per node id."""

    def __init__(self, record, coverage=None):
        self.record = record
        self.coverage = coverage
        self.raised = {}  # (node id, phase) -> what the test raised (None: nothing, or a skip)

    def pytest_runtest_logstart(self, nodeid, location):
        if self.coverage is not None:
            self.coverage.begin(nodeid)

    def pytest_runtest_logfinish(self, nodeid, location):
        if self.coverage is not None:
            self.coverage.end()

    def pytest_collection_modifyitems(self, session, config, items):  # made trylast in _run_pytest
        only, part = SPEC.get("only"), SPEC.get("part")
        # exact node ids to leave out (pytest's --deselect matches prefixes: deselecting test_total
        # would drop test_total_of_nothing too)
        skip = set(SPEC.get("skip") or ())
        keep: list = []
        drop: list = []
        for item in items:
            # under a node id: itself, its parameters, or a test inside it (statemachine.verdict.under)
            inside = not only or any(item.nodeid == n or item.nodeid.startswith((n + "::", n + "[")) for n in only)
            (keep if inside and item.nodeid not in skip else drop).append(item)
        if part:  # a contiguous slice keeps a module's (and class's) tests together: fixtures set up once
            k, n = part
            drop += keep[:len(keep) * k // n] + keep[len(keep) * (k + 1) // n:]
            keep = keep[len(keep) * k // n:len(keep) * (k + 1) // n]
        items[:] = keep
        if drop:
            config.hook.pytest_deselected(items=drop)

    def pytest_collection_finish(self, session):
        self.record["collected"] = len(session.items)

    def pytest_collectreport(self, report):
        if report.failed:
            self.record["outcomes"][report.nodeid or "<collection>"] = "error"

    def pytest_runtest_makereport(self, item, call):  # made a hookwrapper in _run_pytest
        """What the test did, read from pytest's CallInfo before any report is made of it: code
        that patches TestReport (or the report hooks) changes the report, not this."""
        yield
        exc = call.excinfo
        benign = exc is not None and type(exc.value).__name__ in ("Skipped", "XFailed", "Exit")
        self.raised[(item.nodeid, call.when)] = None if exc is None or benign else f"{type(exc.value).__name__}: {exc.value}"

    def pytest_runtest_logreport(self, report):
        outcomes = self.record["outcomes"]
        prev = outcomes.get(report.nodeid)
        raised = self.raised.get((report.nodeid, report.when))
        if raised and report.passed and not hasattr(report, "wasxfail"):
            # the report says passed, the test raised: the report was altered from inside the run
            self.record.setdefault("tampered", []).append(report.nodeid)
            self.record["test_exceptions"].setdefault(report.nodeid, {
                "type": "ReportAltered", "qualified_type": "ReportAltered", "frames": [],
                "message": f"pytest reported it passed, but it raised {raised[:300]}"})
            outcomes[report.nodeid] = "failed" if report.when == "call" else "error"
            return
        if report.when == "call":
            if hasattr(report, "wasxfail"):
                outcome = "xpassed" if report.passed else "xfailed"
            else:
                outcome = report.outcome
        elif report.failed:
            outcome = "error"
        elif report.skipped:
            outcome = "skipped"
        else:
            outcome = prev or "passed"
        if report.when == "call":
            self.record["durations"][report.nodeid] = report.duration * 1000
        if prev in ("failed", "error") and outcome == "passed":
            return
        outcomes[report.nodeid] = outcome

    def pytest_exception_interact(self, node, call, report):
        exc = call.excinfo.value
        if type(exc).__name__ == "CollectError" and exc.__cause__ is not None:
            exc = exc.__cause__
        self.record["test_exceptions"][report.nodeid or "<collection>"] = _exception(exc)


def _run_pytest(argv, record, coverage=None):
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    _importable(SRC)
    import pytest

    # after -k/-m and the project's own hooks: the slice is of what they left
    pytest.hookimpl(trylast=True)(_Recorder.pytest_collection_modifyitems)
    pytest.hookimpl(hookwrapper=True)(_Recorder.pytest_runtest_makereport)

    sys.argv = ["pytest", *argv]
    args = [*argv, "-p", "no:cacheprovider", "--color=no", "-q", "--rootdir", SRC]
    if getattr(pytest, "version_tuple", (0,))[0] >= 8:
        # A failing assert's values in full, not cut to fit a terminal line ("['Fizz', 'Buz...'"):
        # the user reads the whole of what was compared, and the search can tell whether a
        # candidate's values came nearer (statemachine/stones.py). pytest 8's own option; older
        # ones would warn about it.
        args += ["-o", "verbosity_assertions=2"]
    plugins: list = [_Recorder(record, coverage)]
    if SPEC.get("test_seconds"):
        plugins.append(_alarm_plugin(float(SPEC["test_seconds"]), pytest))
    reach = None
    if SPEC.get("reach"):  # the baseline: which functions each test runs (sandbox/inside/reach.py)
        reach = _load_beside("reach").Reach(SRC)
        reach.install()
        plugins.append(_reach_plugin(reach, pytest))
    if coverage is not None:
        coverage.start()
    try:
        code = pytest.main(args, plugins=plugins)
    except SystemExit as exc:
        return _exit_code(exc.code)
    finally:
        if coverage is not None:
            coverage.stop()
        if reach is not None:
            record["reach"] = reach.export()
    return int(code)


@functools.cache  # one module object per run, whichever probe asks first
def _load_beside(name):
    """A module from the harness's own folder, without putting that folder on sys.path (where
    it would shadow a project module of the same name)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"_pve_{name}", os.path.join(os.path.dirname(__file__), f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def test_alarm(seconds):
    """While one test runs: past ``seconds`` it is stopped by a ``TimeoutError`` raised where it
    is, so an endless loop becomes a failure with a traceback into the loop and the other tests
    run (pytest runs through ``_alarm_plugin``, direct screened runs through sandbox/inside/direct.py)."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise TimeoutError(f"the test ran longer than {seconds:g} s (an endless loop?)")

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _alarm_plugin(seconds, pytest):
    """``test_alarm`` around each test's call phase."""

    class AlarmPlugin:
        @pytest.hookimpl(hookwrapper=True)
        def pytest_runtest_call(self, item):
            with test_alarm(seconds):
                yield

    return AlarmPlugin()


def _reach_plugin(reach, pytest):
    """A test's call phase is its own; everything else (setup, teardown, collection) is shared."""

    class ReachPlugin:
        @pytest.hookimpl(hookwrapper=True)
        def pytest_runtest_call(self, item):
            reach.begin(item.nodeid)
            try:
                yield
            finally:
                reach.end()

    return ReachPlugin()


def _cpu_seconds():
    """CPU time of the user code and its reaped children: steadier than wall time under load."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def prepare(spec):
    """Once per sandbox: limits, the project copy, the interpreter's paths."""
    SPEC.clear()
    SPEC.update(spec)
    _set_layout(spec.get("layout"))
    _apply_limits(spec.get("limits", {}))
    sys.dont_write_bytecode = True
    _stage_project()
    os.chdir(SRC)
    if spec.get("environment"):
        # The project's environment (this interpreter's prefix): its site-packages and .pth
        # files (editable installs), processed now that the project is in place. Its pytest
        # runs the tests.
        import site

        site.main()
    else:
        sys.path.append(LAYOUT["site"])


def execute(spec, result, runner=None, *, nonce):
    """One run in a prepared sandbox: the record goes to ``result`` with ``nonce``; returns the
    exit code. ``runner(record) -> exit code`` runs pytest-mode tests in place of pytest (the
    screening server's direct runs, sandbox/inside/direct.py). The nonce is a local here and in
    ``main``, never in the spec, a module's globals, argv or the environment."""
    SPEC.clear()
    SPEC.update(spec)
    record: dict[str, object] = {"exit_code": None, "exception": None, "outcomes": {}, "test_exceptions": {}, "durations": {},
              "collected": 0}
    mode = spec["mode"]
    coverage = None
    if spec.get("coverage"):
        # pytest: the project's statements marked as it imports them (sandbox/inside/reach.py, several
        # times faster on a parse-heavy suite); a script or module run is traced line by line
        # (it runs the reproduction's own file, which no import brings in).
        coverage = _load_beside("reach").Lines(SRC) if mode == "pytest" else _load_beside("tracers").Coverage(SRC)
    calls = None
    if spec.get("record_calls") and coverage is None:
        # recorded per test through the same hooks as coverage (its begin/end/start/stop)
        coverage = calls = _load_beside("tracers").Calls(SRC, spec["record_calls"])
    counter = None
    if spec.get("count_line") and coverage is None:
        counter = _load_beside("tracers").LineCount(SRC, *spec["count_line"])
        counter.start()
    cpu_before = _cpu_seconds()
    if runner is not None:
        code = runner(record)
    elif mode == "pytest":
        code = _run_pytest(spec.get("argv", []), record, coverage)
    else:
        code = _run_python(mode, spec.get("target", ""), spec.get("argv", []), record, coverage)
    record["cpu_ms"] = (_cpu_seconds() - cpu_before) * 1000
    if counter is not None:
        counter.stop()
        record["line_count"] = counter.count
    if calls is not None:
        record["calls"] = calls.export()
    elif coverage is not None:
        record["coverage"] = coverage.export()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    record["exit_code"] = code
    record["nonce"] = nonce
    try:
        result.write(json.dumps(record))
        result.flush()
    except Exception:
        pass
    return code


def read_spec(arg):
    """The run's spec from ``fd:N``, a descriptor the host wrote it to, read and closed here
    before any project code is imported: the nonce is never on the command line, which
    /proc/self/cmdline shows to the code under test."""
    if not arg.startswith("fd:"):
        raise SystemExit("harness: the spec comes on a descriptor (fd:N), never on the command line")
    fd = int(arg[3:])
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return json.loads(b"".join(chunks))


def main():
    spec = read_spec(sys.argv[1])
    nonce, result_fd = spec.pop("nonce"), spec.pop("result_fd")
    result = os.fdopen(result_fd, "w", encoding="utf-8")
    os.set_inheritable(result_fd, False)  # child processes of user code do not get it
    prepare(spec)
    code = execute(spec, result, nonce=nonce)
    del nonce
    os._exit(code & 0xFF if code >= 0 else 1)


if __name__ == "__main__":
    main()
