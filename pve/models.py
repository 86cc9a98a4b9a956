"""The models every arrow of the pipeline carries (see ../shared/ARCHITECTURE.md, "The one flow").

They are plain pydantic models so that the same step functions can run in the local runner,
a Lambda handler or a test, and so that a session serialises the same way into SQLite,
DynamoDB or ``--json``.
"""

from __future__ import annotations

import re
import shlex
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# --------------------------------------------------------------------------- analysis


class Category(StrEnum):
    """Coarse error classes; the offline engine and the model prompts pick strategies by them."""

    SYNTAX = "syntax"
    IMPORT = "import"
    NAME = "name"
    ATTRIBUTE = "attribute"
    TYPE = "type"
    INDEX = "index"
    KEY = "key"
    VALUE = "value"
    ARITHMETIC = "arithmetic"
    ASSERTION = "assertion"
    RECURSION = "recursion"
    TIMEOUT = "timeout"
    ENVIRONMENT = "environment"
    RUNTIME = "runtime"


class Frame(BaseModel):
    """One traceback frame as reported, plus where it lives in the project (if it does)."""

    file: str  # as written in the log
    line: int | None = None
    function: str | None = None
    code: str | None = None
    project_path: str | None = None  # POSIX path relative to the project root, when it exists there
    cut: bool = False  # the report ends on this frame's line: its function's name may be cut short


class ExceptionInfo(BaseModel):
    type: str  # short name, e.g. "JSONDecodeError"
    qualified_type: str  # as written, e.g. "json.decoder.JSONDecodeError"
    message: str = ""
    type_truncated: bool = False  # pytest's summary cut the name ("ZeroDivisionEr..."): match by prefix
    frames: list[Frame] = Field(default_factory=list)
    # SyntaxError family: where the compiler stopped
    syntax_file: str | None = None
    syntax_line: int | None = None
    # the traceback ended before its exception line (cut by the reporter, or by a length limit):
    # the type is the one the rest of the report names (its title, its prose)
    cut: bool = False


# The compiler's errors: they point at a location (``syntax_file``/``syntax_line``), not a frame.
SYNTAX_ERRORS = frozenset({"SyntaxError", "IndentationError", "TabError"})


def same_exception_type(reported: ExceptionInfo, actual_type: str) -> bool:
    """Does an observed exception type match what the log reported?"""
    if reported.type_truncated:
        return actual_type.startswith(reported.type)
    return actual_type == reported.type


class Failure(BaseModel):
    """One failure found in a log: a final exception, what led to it, and the test if any."""

    exception: ExceptionInfo
    chain: list[ExceptionInfo] = Field(default_factory=list)  # earlier exceptions, oldest first
    test_id: str | None = None  # pytest node id when the log is pytest output
    origin: str = "traceback"  # "traceback" | "pytest" | "pytest-summary"


class ParsedLog(BaseModel):
    failures: list[Failure] = Field(default_factory=list)
    failing_tests: list[str] = Field(default_factory=list)
    is_pytest: bool = False


class ReproKind(StrEnum):
    PYTEST = "pytest"
    SCRIPT = "script"
    MODULE = "module"


class Reproduction(BaseModel):
    """How to make the failure happen. Its files are never edited by a candidate."""

    kind: ReproKind
    argv: list[str] = Field(default_factory=list)  # script/module args, or pytest args
    target: str = ""  # script path, module name, or "" for pytest
    test_ids: list[str] = Field(default_factory=list)
    files: list[str] = Field(default_factory=list)  # project-relative files that ARE the reproduction
    snippet: bool = False  # single-file mode: the snippet's top-level code is the reproduction
    # A script the reproduction runs whose functions and classes may be fixed: only its
    # top-level statements are the reproduction (a snippet, a project's own script).
    editable_defs: bool = False
    script: str | None = None  # a reproduction PVE wrote (a report's code block): run as ``target``
    pythonpath: list[str] = Field(default_factory=list)  # project folders importable as installed ("src")
    pytest_options: list[str] = Field(default_factory=list)  # every pytest run of the project ("-o addopts=…")
    derived_from: str = ""  # "--test", "--cmd", "log: pytest ids", "log: outermost frame", "snippet", "report: …"

    def written(self) -> dict[str, str]:
        """The file PVE wrote for this reproduction (from a report), as a patch to every run of it."""
        return {self.target: self.script} if self.script is not None else {}

    def defs_editable(self) -> bool:
        """May a fix edit the functions and classes of the reproduction's own files?"""
        return self.snippet or self.editable_defs

    def frozen_files(self) -> set[str]:
        """Files no fix may touch at all: the reproduction, unless only its top level is frozen."""
        return set() if self.defs_editable() else set(self.files)

    def display(self) -> str:
        if self.kind is ReproKind.PYTEST:
            return shlex.join(["pytest", *(self.argv or self.test_ids)])
        if self.kind is ReproKind.MODULE:
            return shlex.join(["python", "-m", self.target, *self.argv])
        return shlex.join(["python", self.target, *self.argv])


class Analysis(BaseModel):
    exception: ExceptionInfo
    category: Category
    failing_frame: Frame | None = None  # innermost frame inside the project (not a test file, if any)
    project_frames: list[Frame] = Field(default_factory=list)
    test_id: str | None = None

    def headline(self) -> str:
        where = ""
        if self.failing_frame and self.failing_frame.project_path:
            where = f" in {self.failing_frame.project_path}:{self.failing_frame.line}"
            if self.failing_frame.function and self.failing_frame.function != "<module>":
                where += f" {self.failing_frame.function}()"
        return f"{self.exception.type or 'an exception (the report does not name it)'}{where}"


# --------------------------------------------------------------------------- candidates


class FileEdit(BaseModel):
    path: str  # project-relative POSIX path
    new_text: str


class Candidate(BaseModel):
    id: int
    source: str = "offline"  # which brain produced it
    rule: str  # e.g. "name.closest"
    rationale: str
    edits: list[FileEdit]
    diff: str = ""
    diff_lines: int = 0  # changed lines (+ and -), for the "smallest" tie-break


class Preflight(BaseModel):
    ok: bool
    reasons: list[str] = Field(default_factory=list)
    # Shortcuts that may still run but are never verified (TRUTH.md's anti-patterns: a deleted
    # exit or control statement, an inserted early exit, a trivially true or false condition, a
    # swallowed exception): if one passes, it is shown as a workaround, worded as one.
    workaround: list[str] = Field(default_factory=list)


# --------------------------------------------------------------------------- runs


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
    """What chosen functions returned or raised, call by call, per test (sandbox/inside/harness.py)."""

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


# --------------------------------------------------------------------------- project environments


class InstallPlan(BaseModel):
    """What a project's environment is built from (sandbox/declarations.py reads it; the
    environment's key hashes it with the declaration files' contents)."""

    kind: str  # "uv.lock" | "pylock.toml" | "poetry.lock" | "pdm.lock" | "Pipfile.lock" | "requirements" | "project" | "pve.yml" | "none"
    files: list[str] = Field(default_factory=list)  # declaration files (and what they include), keyed by content
    requirements: list[str] = Field(default_factory=list)  # requirement files installed with -r
    constraints: list[str] = Field(default_factory=list)  # exact pins from a lock file
    # The project's own distribution names, over any dependency's pin of them (written as the
    # source's path): a tool among its dev requirements that depends on a release of the project
    # (pylint in astroid's) is installed beside the project's source instead of failing the
    # resolution.
    overrides: list[str] = Field(default_factory=list)
    packages: list[str] = Field(default_factory=list)  # requirement strings (pytest, always)
    editable: bool = False  # the project itself, editable
    extras: list[str] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list)
    commands: list[str] = Field(default_factory=list)  # .github/pve.yml's own commands, in the build sandbox
    requires_python: str | None = None

    def needed(self) -> bool:
        return self.kind != "none"


class EnvironmentInfo(BaseModel):
    """A built environment, as a session and its proof record it."""

    key: str
    kind: str  # the plan's kind
    python: str  # "3.11.2 (/usr/bin/python3.11)"
    packages: list[str] = Field(default_factory=list)  # frozen: name==version
    reused: bool = False  # built before (by key), not now
    build_ms: float = 0.0
    size_bytes: int = 0


# --------------------------------------------------------------------------- decision and session


class Oracle(StrEnum):
    EXISTING_TESTS = "existing tests"
    FAILING_TESTS = "the failing tests only"  # pytest targets, but no regression baseline ran
    REPRO_ASSERTIONS = "reproduction with assertions"
    NO_CRASH = "no crash only"


class Verdict(BaseModel):
    candidate_id: int
    # Verified: the reproduction failed as reported and now passes, tests that run the edited
    # code passed before and after, no rule of TRUTH.md broken.
    verified: bool
    reason: str
    # Passed the reproduction (and every regression test that ran) without the evidence to be
    # verified: ``reason`` says what is missing (no test runs the edit, the suite could not run,
    # a workaround, behaviour changed outside the failure).
    plausible: bool = False
    covered: str = ""  # the tests that ran the edited code, and which edited functions they cover
    outcome: str = ""  # a reproduction from a report: what happens instead of the crash (returns, or a proper error)
    preflight: Preflight
    run: RunResult | None = None
    regression: RunResult | None = None
    regressions: list[str] = Field(default_factory=list)
    regression_scope: str = ""  # which of the tests that passed before were run again, and why (statemachine/impact.py)
    regression_selected: int | None = None  # how many of them, when not all (None: the whole suite)
    duration_ms: float = 0.0  # wall time of the candidate's runs
    exec_ms: float | None = None  # execution time of the reproduction's own code: the "fastest" tie-break
    diff_lines: int = 0
    model_repro: RunResult | None = None  # a model candidate's run of the model's own reproduction
    # (start, end) monotonic seconds of the other sandbox runs the verdict needed (behaviour
    # records, the failing line counted): the session's busy time counts them
    side_runs: list[tuple[float, float]] = Field(default_factory=list)
    own_tests: RunResult | None = None  # a pull request's own (added or changed) tests, run on its head


def settles(v: Verdict) -> bool:
    """Does this verdict end a search (after its window of near ranks)? Verified, or plausible
    and not a workaround: past a plausible fix, a deeper search mostly finds candidates that fit
    the tests elsewhere (measured on the repair benchmark: edits to well-tested code that let an
    untested fix through), so it looks only a window further, as after a verified one."""
    return v.verified or (v.plausible and not v.preflight.workaround)


class SearchSummary(BaseModel):
    """How the repair search went: what it considered, what it ran, why it stopped."""

    suspects: list[str] = Field(default_factory=list)  # top suspicious lines, "path:line (score, why)"
    spectra: str = ""  # what localization had: "3 failing / 41 passing tests", or why none
    proposed: int = 0  # edits proposed before deduplication and the budget
    ranked: int = 0  # distinct candidates in the ranking (up to the budget)
    tried: int = 0  # candidates judged (preflight or run)
    rejected: int = 0  # of those, stopped by preflight
    plausible: int = 0  # passed the reproduction
    stop: str = ""
    first_verified_ms: float | None = None  # from the session's start
    oracle: str = ""  # what a verified fix passed


class ModelCall(BaseModel):
    """One request to a model provider, as the session records it (and the cost table reads it)."""

    provider: str  # "gemini" | "deepseek" | "openai" | "groq"
    model: str
    purpose: str  # "categorize" | "generate"
    outcome: str  # "ok", "invalid: ...", "timeout", "rate limited (429)", "server error (503)", ...
    tokens_in: int = 0
    tokens_out: int = 0
    latency_ms: float = 0.0
    cost_usd: float | None = None  # None: no published price for this model


class BrainReport(BaseModel):
    """What the brains did: which ran, what the models were asked and answered, the cache."""

    mode: str = "auto"  # offline | models | auto
    models: str = ""  # "off: ..." or the chain, e.g. "gemini:gemini-2.5-flash -> deepseek:deepseek-chat"
    error_class: str = ""  # the class the prompt strategy was picked by
    classified_by: str = ""  # "groq:<model>" or "offline"
    calls: list[ModelCall] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)  # model reproductions checked, candidates dropped, ...
    cache: str = ""  # "hit, re-verified" | "stale: ..." | "miss" | "stored"
    signature: str = ""  # the error signature's hash (ERROR_HASH#...)

    def cost_usd(self) -> float | None:
        costs = [c.cost_usd for c in self.calls if c.tokens_in or c.tokens_out]
        return None if any(c is None for c in costs) else sum(c for c in costs if c is not None)

    def tokens(self) -> tuple[int, int]:
        return sum(c.tokens_in for c in self.calls), sum(c.tokens_out for c in self.calls)


class Solution(BaseModel):
    """The last verified fix for an error signature (``ERROR_HASH#<hash>`` / ``SOLUTION``)."""

    signature: str
    candidate: Candidate
    file_sha256: dict[str, str]  # each edited file's hash before the fix: it applies only to those
    session_id: str
    created_at: str


class SessionStatus(StrEnum):
    RUNNING = "running"
    VERIFIED = "verified"
    # TRUTH.md's evidence levels are VERIFIED, PLAUSIBLE and NO_FIX: one vocabulary everywhere.
    PLAUSIBLE = "plausible, not verified"  # the winner passed the reproduction only (never a green check)
    NO_FIX = "no fix"
    NOT_REPRODUCED = "could not reproduce"
    DEPENDENCIES = "could not install the dependencies"  # the project's own environment failed to build
    FAILED = "failed"

    @classmethod
    def _missing_(cls, value: object) -> SessionStatus | None:
        # Sessions stored before the evidence levels said "no verified fix".
        return cls.NO_FIX if value == "no verified fix" else None


_SESSION_ID = re.compile(r"^[0-9a-f]{32}$")


def is_session_id(text: str) -> bool:
    """128-bit lowercase hex: anything else is no session (and never reaches a path or a query)."""
    return bool(_SESSION_ID.match(text))


class Session(BaseModel):
    id: str
    created_at: str
    status: SessionStatus = SessionStatus.RUNNING
    trigger: str = "cli"
    project: str
    origin: Origin | None = None  # a GitHub session's repository, commit, pull request, issue
    requested_by: str | None = None  # the GitHub login that asked (a comment's author, a pull request's, the playground's)
    unlisted: bool = False  # a playground session: reached by its link, listed only in its author's history
    snippet: bool = False
    input_sha256: dict[str, str] = Field(default_factory=dict)
    error_log_sha256: str | None = None
    notes: list[str] = Field(default_factory=list)  # intake: other failures in the report, dropped options, ...
    environment: EnvironmentInfo | None = None  # the project's dependencies, when it declares any
    judged: JudgeTree | None = None  # the fix judged, when the session judged one instead of searching
    oracle_note: str = ""  # the regression oracle: which tests formed it (and which not), or why none ran
    oracle_files: list[str] = Field(default_factory=list)
    oracle_left_out: list[str] = Field(default_factory=list)
    analysis: Analysis | None = None
    reproduction: Reproduction | None = None
    before: RunResult | None = None
    baseline: RunResult | None = None  # the regression suite on the original code
    localization_runs: list[RunResult] = Field(default_factory=list)  # coverage for localization (no verdict rests on them)
    candidates: list[Candidate] = Field(default_factory=list)  # the candidates tried, in rank order
    verdicts: list[Verdict] = Field(default_factory=list)
    search: SearchSummary | None = None
    brain: BrainReport | None = None
    winner: int | None = None
    oracle: Oracle | None = None
    message: str = ""
    proof_path: str | None = None
    attestation_path: str | None = None  # the same record as an in-toto statement in a DSSE envelope
    proof_key: str | None = None  # the fingerprint of the key that signed them (keyid)
    diff_path: str | None = None
    timings_ms: dict[str, float] = Field(default_factory=dict)
    sandbox_busy_ms: float = 0.0  # wall time during which at least one sandboxed program ran

    def winning_candidate(self) -> Candidate | None:
        return next((c for c in self.candidates if c.id == self.winner), None)

    def winning_verdict(self) -> Verdict | None:
        return next((v for v in self.verdicts if v.candidate_id == self.winner), None)


# --------------------------------------------------------------------------- the steps' models
#
# What the pipeline's steps hand each other (statemachine/runner.py calls them in order; the
# Step Functions handlers pass the same models between states). Big inputs travel as the
# staged project's key, never inside these models' own fields.

BRAIN_MODES: tuple[str, ...] = ("offline", "models", "auto")


class JudgeTree(BaseModel):
    """Someone else's fix, judged as the one candidate instead of a search: a pull request's head.
    The request's ``path`` is its base."""

    path: Path
    label: str  # "pull request #7": the console and the proof name it so
    base_commit: str = ""
    head_commit: str = ""


class Origin(BaseModel):
    """Where a GitHub session's code came from, for its page's links."""

    repo: str  # "owner/name"
    sha: str  # the commit verified
    pull: int | None = None  # the pull request, when the session is about one
    issue: int | None = None  # the issue: the one commented on, or the one a pull request claims to fix
    web: str = "https://github.com"
    # Who may see the session's page: anyone when the repository is public; otherwise only a
    # signed-in user whose own token can read it. Unknown means private (zero trust).
    private: bool = True
    installation: int | None = None
    # the fork whose code this is (a fork's pull request or its CI run): its environments are
    # built and kept apart from the repository's own (sandbox/environments.py: tenant_of)
    fork: str | None = None


class VerifyRequest(BaseModel):
    """What one verification is asked: where the code is, the failure, how to reproduce it."""

    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")

    path: Path
    error_log: bytes | None = None
    test: str | None = None
    cmd: str | None = None
    trigger: str = "cli"
    brain: str = "auto"  # offline | models | auto (offline engine first, models when it finds nothing)
    issue_text: str | None = None  # the issue or comment the request came from: untrusted data
    cache: bool = True  # try (and store) the last verified fix for the same error signature
    session_id: str | None = None  # given by a retried job, so its branch and comment are found again
    suite: list[str] | None = None  # pytest arguments for the regression suite (default: all tests)
    protected: tuple[str, ...] = ()  # globs of paths no fix may touch
    timeout_s: float | None = None  # wall clock per sandboxed run, if tighter than the sandbox's
    install: dict[str, Any] | None = None  # the repository's own install section (.github/pve.yml)
    judge: JudgeTree | None = None  # judge someone else's fix instead of searching for one
    origin: Origin | None = None  # a GitHub session's repository, commit, pull request, issue
    requested_by: str | None = None  # the GitHub login that asked, for their history
    unlisted: bool = False  # a playground session (see Session.unlisted)


class Analyzed(BaseModel):
    """Step 1's answer: how to reproduce the failure, and what was reported (when a log was given)."""

    reproduction: Reproduction | None  # None: the report holds none, and a model may write one
    analysis: Analysis | None = None
    notes: list[str] = Field(default_factory=list)  # what the report held beside it, what was dropped or mapped


def _one_whole_suite() -> list[list[str]]:
    return [[]]


class Checks(BaseModel):
    """Everything a candidate is held to: the reproduction, the regression suite and, for a
    model's candidates, the model's own reproduction (exit 0 and the session's marker line)."""

    repro: Reproduction
    analysis: Analysis
    before: RunResult  # the reproduction on the original code
    repro_spec: RunSpec
    baseline: RunResult | None = None  # the regression suite on the original code
    regression_spec: RunSpec | None = None
    regression_shards: list[list[str]] = Field(default_factory=_one_whole_suite)  # the oracle's tests, per sandbox
    model_repro_spec: RunSpec | None = None  # carries the script as a patch
    marker: str | None = None  # what the model's reproduction prints when fixed
    protected: tuple[str, ...] = ()  # globs no fix may touch
    declarations: tuple[str, ...] = ()  # files that declare the environment: a fix may not edit them
    oracle_note: str = ""  # which tests form the regression oracle, or why there is none
    others_failing: list[str] = Field(default_factory=list)  # failed otherwise before any fix: not held, still failing
    # A judged pull request's changed test files: its version runs as its own tests on the head;
    # the base's version of them holds it to nothing (it changes them on purpose).
    own_test_files: list[str] = Field(default_factory=list)


class Spectrum(BaseModel):
    """Line coverage for fault localization, split by test outcome (advisory, never a verdict)."""

    coverages: list[Coverage] = Field(default_factory=list)
    failing: list[str] = Field(default_factory=list)
    passing: list[str] = Field(default_factory=list)
    note: str = ""  # what localization had to work with, in one line


class Reproduced(BaseModel):
    """Step 2's answer: did the failure happen as reported, and what candidates will be held to."""

    ok: bool
    why: str
    before: RunResult
    baseline: RunResult | None = None
    analysis: Analysis | None = None  # as reported, or observed when no log was given
    checks: Checks | None = None  # None when there is nothing to search for
    spectrum: Spectrum = Field(default_factory=Spectrum)
    traced: list[RunResult] = Field(default_factory=list)  # localization's coverage runs (their coverage in spectrum)
    oracle_note: str = ""  # which tests form the regression oracle, or why there is none
    oracle_files: list[str] = Field(default_factory=list)  # the test files chosen ([]: the whole suite)
    oracle_left_out: list[str] = Field(default_factory=list)  # test files of a large suite not chosen


class Found(BaseModel):
    """A search's answer (cache, offline engine or models: one shape)."""

    candidates: list[Candidate] = Field(default_factory=list)  # the ones judged, in rank order
    verdicts: list[Verdict] = Field(default_factory=list)
    summary: SearchSummary | None = None  # the offline engine's account of its search
    report: BrainReport | None = None  # the models' account: calls, class, notes
    timings_ms: dict[str, float] = Field(default_factory=dict)

    def verified(self) -> bool:
        return any(v.verified for v in self.verdicts)


class Conclusion(BaseModel):
    """Step 4's answer: the session's outcome."""

    status: SessionStatus
    message: str
    winner: int | None = None
    oracle: Oracle | None = None
    oracle_passed: str = ""  # what the winner passed, in words
