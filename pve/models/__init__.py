"""The models every arrow of the pipeline carries (see ../shared/ARCHITECTURE.md, "The one flow").

They are plain pydantic models so that the same step functions can run in the local runner,
a Lambda handler or a test, and so that a session serialises the same way into SQLite,
DynamoDB or ``--json``. What the pipeline's steps hand each other (statemachine/runner.py calls
them in order; the Step Functions handlers pass the same models between states) is among them;
big inputs travel as the staged project's key, never inside these models' own fields.

One module per concern, each importing only those before it: ``analysis`` (what a report says
failed), ``runs`` (a sandboxed run and its result), ``environment`` (a project's environment),
``reproduction`` (how the failure happens, what candidates are held to), ``candidates``
(candidates, verdicts, the searches' accounts), ``request`` (what a verification is asked) and
``session`` (the session and its conclusion). Import from ``pve.models``: the modules are its
layout, not its interface.
"""

from __future__ import annotations

from pve.models.analysis import (
    SYNTAX_ERRORS,
    Analysis,
    Category,
    ExceptionInfo,
    Failure,
    Frame,
    ParsedLog,
    same_exception_type,
)
from pve.models.candidates import (
    BrainReport,
    Candidate,
    FileEdit,
    Found,
    ModelCall,
    Oracle,
    Preflight,
    SearchSummary,
    Solution,
    Verdict,
    settles,
)
from pve.models.environment import EnvironmentInfo, InstallPlan
from pve.models.reproduction import Analyzed, Checks, Reproduced, Reproduction, ReproKind, Spectrum
from pve.models.request import BRAIN_MODES, JudgeTree, Origin, VerifyRequest
from pve.models.runs import Calls, Coverage, HarnessRecord, Reach, RunMode, RunResult, RunSpec
from pve.models.session import Conclusion, Session, SessionStatus, is_session_id, new_session_id

__all__ = [
    "BRAIN_MODES",
    "SYNTAX_ERRORS",
    "Analysis",
    "Analyzed",
    "BrainReport",
    "Calls",
    "Candidate",
    "Category",
    "Checks",
    "Conclusion",
    "Coverage",
    "EnvironmentInfo",
    "ExceptionInfo",
    "Failure",
    "FileEdit",
    "Found",
    "Frame",
    "HarnessRecord",
    "InstallPlan",
    "JudgeTree",
    "ModelCall",
    "Oracle",
    "Origin",
    "ParsedLog",
    "Preflight",
    "Reach",
    "ReproKind",
    "Reproduced",
    "Reproduction",
    "RunMode",
    "RunResult",
    "RunSpec",
    "SearchSummary",
    "Session",
    "SessionStatus",
    "Solution",
    "Spectrum",
    "Verdict",
    "VerifyRequest",
    "is_session_id",
    "new_session_id",
    "same_exception_type",
    "settles",
]
