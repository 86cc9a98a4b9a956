"""How the failure is made to happen (``Reproduction``), and the steps' answers about it: what
the report held (``Analyzed``), whether the failure happened and what every candidate is held to
(``Reproduced``, ``Checks``, the localization ``Spectrum``)."""

from __future__ import annotations

import shlex
from enum import StrEnum

from pydantic import BaseModel, Field

from pve.models.analysis import Analysis
from pve.models.runs import Coverage, RunResult, RunSpec


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
