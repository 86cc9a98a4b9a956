"""Judge (``Verification.judge``), someone else's fix: a tree (a pull request's head) judged as the one candidate
against the staged base, instead of a search.

The same checks as any candidate of PVE's: the reproduction must pass with the head's files and
the regression oracle (the base's baseline) must still pass; on top of that, the tests the pull
request adds or changes run on the head, and one that fails is a test it breaks. Preflight's
cheat checks are for generated code and are not applied to a person's change (editing tests is
what a pull request does), except one: code that reaches into the process judging it (frames,
``gc``, ``ctypes``, ``/proc/self``, pytest's or the harness's objects) is not run at all, since it
could forge its own verdict. What judges is never the pull request's: the reproduction and the
regression oracle run the base's tests, and the tests the pull request adds or changes run on
its head as its own. What the head changes that the run cannot follow (deleted files, binary
files, dependency declarations) is said in the verdict.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

from brain.candidates import unified_diff
from pve.layout import is_test_path, walk
from pve.models import (
    Candidate,
    Checks,
    FileEdit,
    Found,
    JudgeTree,
    Preflight,
    RunMode,
    RunSpec,
    SearchSummary,
    Verdict,
)
from sandbox.backend import SandboxBackend, StagedProject
from statemachine import testmap
from statemachine.search.context import SearchContext
from statemachine.shortcuts import introspection, is_test_configuration
from statemachine.validate import validate

RULE = "pull-request"
MAX_FILE_BYTES = 2 << 20  # a changed file larger than this is not a source edit PVE can carry


def tree_edits(staged: StagedProject, head: Path) -> tuple[list[FileEdit], list[str]]:
    """The head's changed and added text files, as edits of the staged base; and what of the
    head's change cannot be carried into a run (said in the verdict)."""
    edits: list[FileEdit] = []
    notes: list[str] = []
    seen: set[str] = set()
    for path in walk(head):
        rel = path.relative_to(head).as_posix()
        seen.add(rel)
        if path.is_symlink():
            continue
        data = path.read_bytes()
        if staged.files.get(rel) == hashlib.sha256(data).hexdigest():
            continue
        if len(data) > MAX_FILE_BYTES:
            notes.append(f"{rel} changed but is over {MAX_FILE_BYTES >> 20} MB: not applied")
            continue
        try:
            edits.append(FileEdit(path=rel, new_text=data.decode("utf-8")))
        except UnicodeDecodeError:
            notes.append(f"{rel} is a binary file the pull request changes: not applied")
    deleted = sorted(set(staged.files) - seen)
    if deleted:
        notes.append(f"the pull request deletes {len(deleted)} file(s) ({', '.join(deleted[:3])}): they stayed in "
                     "place for the runs")
    return edits, notes


def candidate(staged: StagedProject, edits: list[FileEdit], cid: int, label: str) -> Candidate:
    diff = "".join(unified_diff(e.path, _base_text(staged, e.path), e.new_text) for e in edits)
    return Candidate(id=cid, source="pull request", rule=RULE, rationale=label, edits=edits, diff=diff,
                     diff_lines=sum(1 for x in diff.splitlines() if x[:1] in "+-" and x[:3] not in ("+++", "---")))


def _base_text(staged: StagedProject, rel: str) -> str:
    try:
        return staged.read_text(rel)
    except FileNotFoundError:
        return ""


async def judge_given_fix(ctx: SearchContext, given: JudgeTree, cid: int = 1) -> Found:
    """The given tree judged as the one candidate, where a search would have run its own: the
    same context (sandbox, staged base, checks, console, the baseline while it runs)."""
    head, label, sandbox, staged, checks, events, pending = (given.path, given.label, ctx.sandbox, ctx.staged,
                                                               ctx.checks, ctx.events, ctx.pending)
    edits, notes = tree_edits(staged, head)
    summary = SearchSummary(spectra="not needed: the fix is given", proposed=1, ranked=1, tried=1)
    if not edits:
        verdict = Verdict(candidate_id=cid, verified=False, reason="the head changes no file the runs can carry",
                          preflight=_unchecked())
        found = Found(summary=summary, candidates=[candidate(staged, [], cid, label)], verdicts=[verdict])
        summary.stop = "nothing to judge"
        return found
    # Never edit what judges: the reproduction and the regression oracle run the base's tests
    # and test configuration; the pull request's own tests run on its head, as its own.
    judging = [e for e in edits if is_test_path(e.path) or is_test_configuration(e.path)]
    if judging:
        notes.append(f"the pull request changes {len(judging)} test file(s) or test configuration "
                     f"({', '.join(e.path for e in judging[:3])}): the reproduction and the regression oracle used the "
                     "base's version, the pull request's own tests ran on its head")
    if {e.path for e in edits} & set(checks.declarations):
        notes.append("the pull request changes the dependency declarations: the environment is the base's")
    source = [e for e in edits if e not in judging]
    c = candidate(staged, edits, cid, label)
    judged = c.model_copy(update={"edits": source})
    # A person's change may edit tests (the runs use the base's), but code that reaches into
    # the process judging it could forge its own verdict: it is not run at all.
    reaching = [f"{e.path} {r}" for e in source for r in _reaches(staged, e)]
    if reaching:
        verdict = Verdict(candidate_id=cid, verified=False, preflight=Preflight(ok=False, reasons=reaching),
                          reason="not judged automatically: " + "; ".join(reaching[:3]))
        summary.stop = "not judged automatically"
        return Found(summary=summary, candidates=[c], verdicts=[verdict])
    events.emit("judge", f"Judging {label}: {len(edits)} changed file(s), {c.diff_lines} changed lines")
    own = [e.path for e in edits if testmap.is_test_module(e.path)]
    held = checks.model_copy(update={"own_test_files": own})
    verdict = await validate(judged, sandbox, staged, held, events, pending, checked=False)
    if own and verdict.run is not None:
        verdict = await _own_tests(verdict, own, c, sandbox, staged, checks)
    if notes:
        verdict.reason += "".join(f"; note: {n}" for n in notes)
    summary.plausible = int(verdict.verified or verdict.plausible or verdict.regression is not None)
    summary.stop = "judged"
    return Found(summary=summary, candidates=[c], verdicts=[verdict])


async def _own_tests(verdict: Verdict, files: list[str], c: Candidate, sandbox: SandboxBackend, staged: StagedProject,
                     checks: Checks) -> Verdict:
    """The tests the pull request adds or changes, run on its head: one that fails is broken by it."""
    spec = RunSpec(mode=RunMode.PYTEST, argv=files, patches={e.path: e.new_text for e in c.edits},
                   pythonpath=checks.repro_spec.pythonpath, wall_s=checks.regression_spec.wall_s
                   if checks.regression_spec else None, label=f"candidate {c.id} own tests")
    run = await sandbox.run(staged, spec)
    failed = sorted(t for t, o in run.record.outcomes.items() if o in ("failed", "error"))
    if not run.nonce_ok and not failed:
        failed = [f"{', '.join(files[:3])} (the run did not complete: {run.killed_reason or 'no record'})"]
    new_broken = [t for t in failed if t not in verdict.regressions]
    if not new_broken:
        return verdict.model_copy(update={"own_tests": run})
    regressions = [*verdict.regressions, *new_broken]
    return verdict.model_copy(update={
        "verified": False, "regressions": regressions, "own_tests": run,
        "reason": f"breaks {len(regressions)} test(s): {', '.join(regressions[:5])} (its own tests included)"})


def _reaches(staged: StagedProject, edit: FileEdit) -> list[str]:
    if not edit.path.endswith((".py", ".pyw")):
        return []
    try:
        new = ast.parse(edit.new_text)
    except (SyntaxError, ValueError):
        return []  # it runs and fails as it is: nothing it could forge
    try:
        old: ast.AST | None = ast.parse(_base_text(staged, edit.path))
    except (SyntaxError, ValueError):
        old = None
    return introspection(old, new)


def _unchecked() -> Preflight:
    return Preflight(ok=True, reasons=["not applied: a person's change"])
