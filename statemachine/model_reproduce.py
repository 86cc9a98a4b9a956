"""Prepare (``Verification.prepare``), when the report holds no way to reproduce the failure (no test, no script, no code
block) and the model brain is on: a model writes the reproduction (the design's
``reproduce_issue.py``), and it counts only once it has run in the sandbox and failed with the
reported exception in the reported frame, as every reproduction must. Nothing a model says is
trusted before that; the candidates of the same answer are not used (the search asks again,
holding them to this reproduction).
"""

from __future__ import annotations

import contextlib
import secrets

from brain.models.categorize import classify
from brain.models.chain import CallLog, answers
from brain.models.prompt import REPRO_FILE, PromptInput, build
from brain.models.providers import BrainConfig, make
from pve.events import Fanout
from pve.models import Analysis, BrainReport, Reproduction, ReproKind, RunMode, RunSpec
from sandbox.backend import SandboxBackend, StagedProject
from statemachine.verdict import check_reproduction


async def write_reproduction(analysis: Analysis, *, models: BrainConfig, sandbox: SandboxBackend,
                             staged: StagedProject, py_files: list[str], pythonpath: list[str],
                             untrusted_text: str | None, events: Fanout) -> tuple[Reproduction | None, BrainReport]:
    """The first model reproduction that fails as reported, and what was asked and answered."""
    report = BrainReport()
    log = CallLog(report.calls)
    groq = make(models.categorizer) if models.categorizer else None
    generators = [make(p) for p in models.generators]
    try:
        code_line = analysis.failing_frame.code if analysis.failing_frame else None
        error_class, by = await classify(groq, analysis, code_line, log, max_retry_after_s=models.max_retry_after_s)
        report.error_class, report.classified_by = error_class.value, by
        marker = f"PVE-FIXED {secrets.token_hex(8)}"
        placeholder = Reproduction(kind=ReproKind.SCRIPT, target=REPRO_FILE, files=[REPRO_FILE])
        inp = PromptInput(analysis=analysis, error_class=error_class, repro=placeholder, read=staged.read_text,
                          project_files=py_files, marker=marker, candidates=models.candidates,
                          untrusted_text=untrusted_text)
        events.emit("reproduce", "The report has no test, script or code block to run: asking the models "
                                 "for a reproduction")
        async for got in answers(generators, lambda p: build(inp, p.config.context_tokens), log,
                                 max_retry_after_s=models.max_retry_after_s):
            label = got.provider.config.label()
            script = got.answer.reproduction
            candidate = Reproduction(kind=ReproKind.SCRIPT, target=REPRO_FILE, files=[REPRO_FILE], script=script,
                                     pythonpath=pythonpath, derived_from=f"model: {label} (reproduce_issue.py)")
            run = await sandbox.run(staged, RunSpec(mode=RunMode.SCRIPT, target=REPRO_FILE, patches={REPRO_FILE: script},
                                                    pythonpath=pythonpath, label=f"{label} reproduction"))
            ok, why = check_reproduction(run, candidate, analysis)
            report.notes.append(f"{label} reproduction {'verified: ' if ok else 'rejected: '}{why}")
            events.emit("reproduce", f"Checking {label}'s reproduction in sandbox {run.sandbox_id}...",
                        "FAILED as reported" if ok else "REJECTED", detail=why)
            if ok:
                return candidate, report
        return None, report
    finally:
        for provider in [*generators, *([groq] if groq else [])]:
            with contextlib.suppress(Exception):  # a failed close must not hide the result
                await provider.aclose()
