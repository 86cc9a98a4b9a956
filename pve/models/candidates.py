"""Candidate fixes and what was decided about them: the edits, the preflight, the verdict and the
oracle it rests on, the search's and the brains' accounts, the cached solution, and a search's
answer (``Found``)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from pve.models.runs import RunResult


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


class Found(BaseModel):
    """A search's answer (cache, offline engine or models: one shape)."""

    candidates: list[Candidate] = Field(default_factory=list)  # the ones judged, in rank order
    verdicts: list[Verdict] = Field(default_factory=list)
    summary: SearchSummary | None = None  # the offline engine's account of its search
    report: BrainReport | None = None  # the models' account: calls, class, notes
    timings_ms: dict[str, float] = Field(default_factory=dict)

    def verified(self) -> bool:
        return any(v.verified for v in self.verdicts)
