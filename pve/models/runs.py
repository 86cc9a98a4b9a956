"""What one sandboxed run executes (``RunSpec``) and what it reports (``RunResult``, with the
harness's record, coverage, reach and recorded calls). Apart because the sandbox speaks only
these: it knows nothing of candidates or sessions."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from pve.models.analysis import ExceptionInfo


class RunMode(StrEnum):
    PYTEST = "pytest"
    SCRIPT = "script"
    MODULE = "module"


class RunSpec(BaseModel):
    """What one sandboxed run executes. Patches overlay the staged project."""

    mode: RunMode
    target: str = ""
    argv: list[str] = Field(default_factory=list)
    patches: dict[str, str] = Field(default_factory=dict)  # path -> full new text
    label: str = ""
    coverage: bool = False  # record line coverage per test (fault localization)
    pythonpath: list[str] = Field(default_factory=list)  # project folders put on sys.path ("src")
    timeout_s: float | None = None  # tighter wall clock than the sandbox's (never looser)
    wall_s: float | None = None  # this run's own wall clock, instead of the sandbox's (the regression oracle)
    # pytest: a test running longer than this is stopped where it is (a TimeoutError, an endless
    # loop?); None: the sandbox's rule (sandbox/runs.py, ``test_seconds``)
    test_seconds: float | None = None
    # pytest: run only the collected tests under these node ids (tests, classes, files); the
    # files in argv are still collected whole. [] runs everything argv selects.
    only: list[str] = Field(default_factory=list)
    part: list[int] = Field(default_factory=list)  # [k, n]: run the k-th (from 0) of n equal slices of what is collected
    skip: list[str] = Field(default_factory=list)  # pytest: exact node ids left out (--deselect would match prefixes)
    reach: bool = False  # pytest: record which project functions each test runs (the baseline; sandbox/inside/reach.py)
    count_line: tuple[str, int] | None = None  # count how often this project line runs (does a fix get past the failure?)
    record_calls: list[tuple[str, int]] = Field(default_factory=list)  # (path, first line): record what these return, per test
    # Work nobody waits for yet (the baseline): a slot of its own at the lowest CPU priority,
    # raised when someone starts waiting for it (SandboxBackend.hurry).
    background: bool = False


class Coverage(BaseModel):
    """Executed lines of project files: per test (pytest node id, or "<run>" for a script) and
    outside any test. Advisory data for fault localization; never part of a verdict."""

    shared: dict[str, list[int]] = Field(default_factory=dict)
    tests: dict[str, dict[str, list[int]]] = Field(default_factory=dict)


class Reach(BaseModel):
    """Which project functions each test ran on the original code (sandbox/inside/reach.py): what
    regression test selection reads (statemachine/impact.py). A function is
    ``"path.py:<line of its def>"``; tests and ``shared`` hold indexes into ``functions``."""

    functions: list[str] = Field(default_factory=list)
    files: list[str] = Field(default_factory=list)  # the project files it could see into
    tests: dict[str, list[int]] = Field(default_factory=dict)  # node id -> functions its call phase ran
    shared: list[int] = Field(default_factory=list)  # ran outside any test's call (imports, fixtures)
    spawned: list[str] = Field(default_factory=list)  # tests that ran code it could not see
    whole: bool = False  # something ran that it could not see outside a test: select everything


class Calls(BaseModel):
    """What chosen functions returned or raised, call by call, per test (sandbox/inside/tracers.py)."""

    calls: dict[str, list[str]] = Field(default_factory=dict)  # node id -> "name:line -> repr" or "name:line raised"
    cut: bool = False  # more calls than the record holds


class HarnessRecord(BaseModel):
    """What the in-sandbox harness reported over its result pipe."""

    completed: bool = False  # the harness reached its end (nonce matched, checked on the host)
    exit_code: int | None = None
    exception: ExceptionInfo | None = None
    outcomes: dict[str, str] = Field(default_factory=dict)  # pytest node id -> passed/failed/...
    test_exceptions: dict[str, ExceptionInfo] = Field(default_factory=dict)
    durations: dict[str, float] = Field(default_factory=dict)  # pytest call phase per test, ms
    collected: int = 0
    cpu_ms: float | None = None  # CPU time of the user code, measured in the sandbox
    coverage: Coverage | None = None  # only when the spec asked for it (and it fitted)
    reach: Reach | None = None  # only when the spec asked for it
    line_count: int | None = None  # only when the spec asked for it (RunSpec.count_line)
    calls: Calls | None = None  # only when the spec asked for it (RunSpec.record_calls)
    # tests whose report said passed while the test itself raised (pytest's report was altered
    # from inside the run): counted as failed, named here
    tampered: list[str] = Field(default_factory=list)


class RunResult(BaseModel):
    label: str = ""
    sandbox_id: str
    command: str
    exit_code: int | None  # None: killed before it exited
    duration_ms: float
    started_at: float = 0.0  # monotonic seconds, for overhead accounting
    stdout: str = ""
    stderr: str = ""
    stdout_bytes: int = 0
    stderr_bytes: int = 0
    timed_out: bool = False
    killed_reason: str | None = None  # "timeout" | "output flood" | ...
    nonce_ok: bool = False
    record: HarnessRecord = Field(default_factory=HarnessRecord)
    # Run in a warm screening sandbox (a forked child of a prepared server): it can reject a
    # candidate; a run that passes is run again fresh, and only a fresh run verifies.
    screened: bool = False

    def outcome_text(self) -> str:
        if self.killed_reason:
            return self.killed_reason
        if self.record.exception is not None:
            return self.record.exception.type
        failed = [t for t, o in self.record.outcomes.items() if o != "passed"]
        if failed:
            exc = self.record.test_exceptions.get(failed[0])
            return exc.type if exc else f"{len(failed)} test(s) {self.record.outcomes[failed[0]]}"
        if not self.nonce_ok:
            return f"exit {self.exit_code}, no completion nonce"
        return f"exit {self.exit_code}"
