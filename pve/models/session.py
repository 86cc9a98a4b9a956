"""The session: everything one verification found, as it is stored and shown, and the last
step's answer that concludes it (``Conclusion``). Apart because it gathers the models of every
other module here."""

from __future__ import annotations

import re
import secrets
from enum import StrEnum

from pydantic import BaseModel, Field

from pve.models.analysis import Analysis
from pve.models.candidates import BrainReport, Candidate, Oracle, SearchSummary, Verdict
from pve.models.environment import EnvironmentInfo
from pve.models.reproduction import Reproduction
from pve.models.request import JudgeTree, Origin
from pve.models.runs import RunResult


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


def new_session_id() -> str:
    return secrets.token_hex(16)  # 128 bits: permalinks are unguessable


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


class Conclusion(BaseModel):
    """Step 4's answer: the session's outcome."""

    status: SessionStatus
    message: str
    winner: int | None = None
    oracle: Oracle | None = None
    oracle_passed: str = ""  # what the winner passed, in words
