"""Behaviour outside the failure is evidence (TRUTH.md, after PATCH-SIM, Xiong et al. ICSE 2018).

A correct fix changes what the edited code does on the failure; on the calls that tests which
passed before make, it should return what it returned before. The sandbox records, per test,
what each edited function returned or raised, call by call, on the original code (twice: a
call whose result differs between two runs of the same code is noise, not evidence) and with
the candidate. A call outside the failure whose result changed while every test still passes is
a change the tests do not explain: the candidate is not verified, and the change is shown.

Pure but for ``compare_runs``'s sandbox runs: the targets from the two texts, the comparison
from the records.
"""

from __future__ import annotations

import ast
import asyncio
from dataclasses import dataclass, field

from pve.models import Calls, RunResult, RunSpec
from sandbox.backend import SandboxBackend, StagedProject

MAX_TESTS = 200  # tests recorded per candidate: enough to see a change, bounded in time


@dataclass
class Changed:
    """Calls whose result differs, outside the failure."""

    calls: int = 0
    tests: list[str] = field(default_factory=list)
    example: str = ""  # one of them, in words

    def __bool__(self) -> bool:
        return self.calls > 0

    def said(self) -> str:
        return (f"changes what the edited code returns on {self.calls} call(s) that {len(self.tests)} passing test(s) "
                f"make, and no test checks it (e.g. {self.example})")


def first_lines(text: str, qualnames: list[str]) -> dict[str, int]:
    """``qualname`` -> the line CPython gives its code object (the first decorator's, or the
    ``def``'s), for the functions of a module by qualified name (as statemachine/impact.py
    names them: ``Class.method``, ``outer.<locals>.inner``)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return {}
    found: dict[str, int] = {}

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in _flatten(body):
            if isinstance(node, ast.ClassDef):
                visit(node.body, f"{prefix}{node.name}.")
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{node.name}"
                found.setdefault(name, min([node.lineno, *(d.lineno for d in node.decorator_list)]))
                visit(node.body, f"{name}.<locals>.")

    visit(tree.body, "")
    return {q: found[q] for q in qualnames if q in found}


def _flatten(body: list[ast.stmt]) -> list[ast.stmt]:
    """Definitions inside ``if``/``try``/``with`` blocks belong to the enclosing scope."""
    out: list[ast.stmt] = []
    for node in body:
        if isinstance(node, ast.If | ast.Try | ast.With):
            for part in (getattr(node, "body", []), getattr(node, "orelse", []), getattr(node, "finalbody", []),
                         *[h.body for h in getattr(node, "handlers", [])]):
                out += _flatten(part)
        else:
            out.append(node)
    return out


def targets(path: str, old_text: str, new_text: str, qualnames: list[str]) -> tuple[list[tuple[str, int]],
                                                                                    list[tuple[str, int]], dict[str, str]]:
    """The functions to record on the original and on the candidate, and how the candidate's
    records' names map onto the original's (a function's first line moves with the fix)."""
    old, new = first_lines(old_text, qualnames), first_lines(new_text, qualnames)
    both = [q for q in qualnames if q in old and q in new]
    rename = {f"{q.rsplit('.', 1)[-1]}:{new[q]}": f"{q.rsplit('.', 1)[-1]}:{old[q]}" for q in both}
    return [(path, old[q]) for q in both], [(path, new[q]) for q in both], rename


def compare(first: Calls | None, second: Calls | None, fixed: Calls | None, rename: dict[str, str]) -> Changed | None:
    """The calls whose result changed with the fix, ignoring those that differ between two runs
    of the original. None: nothing to compare (a record missing or cut short)."""
    if first is None or second is None or fixed is None or first.cut or second.cut or fixed.cut:
        return None
    out = Changed()
    for test, before in sorted(first.calls.items()):
        again = second.calls.get(test)
        after = [_renamed(c, rename) for c in fixed.calls.get(test, [])]
        if again is None or test not in fixed.calls:
            continue
        if len(before) != len(again):
            continue  # the original itself calls it differently from run to run
        diffs = [(b, a) for k, (b, a) in enumerate(zip(before, after, strict=False)) if b != a and before[k] == again[k]]
        extra = abs(len(after) - len(before))
        if diffs or extra:
            out.calls += len(diffs) + extra
            out.tests.append(test)
            if not out.example:
                if diffs:
                    b, a = diffs[0]
                    out.example = f"{test}: {_short(b)}, now {_short(a.split(' ', 1)[1] if ' ' in a else a)}"
                else:
                    out.example = f"{test}: {len(before)} call(s) before, {len(after)} now"
    return out


def _renamed(call: str, rename: dict[str, str]) -> str:
    name, _, rest = call.partition(" ")
    return f"{rename.get(name, name)} {rest}"


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


async def compare_runs(sandbox: SandboxBackend, staged: StagedProject, spec: RunSpec, patches: dict[str, str],
                       changed: dict[str, list[str]], tests: list[str], *,
                       ran: list[tuple[float, float]] | None = None) -> Changed | None:
    """Record ``changed`` (path -> qualified names) on ``tests`` (node ids that passed before and
    after): the original twice, the candidate once, side by side. The original's two records
    are made once per staged project, functions and tests: the candidates of a search that edit
    the same function compare with the same ones. ``ran`` gets the runs' spans (busy time)."""
    from statemachine.oracle import shard_spec

    tests = sorted(tests)[:MAX_TESTS]
    if not tests or not changed:
        return None
    old_targets: list[tuple[str, int]] = []
    new_targets: list[tuple[str, int]] = []
    rename: dict[str, str] = {}
    for path, names in sorted(changed.items()):
        new_text = patches.get(path)
        if new_text is None:
            continue
        o, n, r = targets(path, staged.read_text(path), new_text, names)
        old_targets += o
        new_targets += n
        rename.update(r)
    if not old_targets:
        return None
    base = shard_spec(spec.model_copy(update={"patches": {}, "record_calls": old_targets, "wall_s": spec.wall_s}),
                      tests, "original code (edited functions recorded)")
    key = (staged.key, base.model_dump_json())
    originals = _ORIGINALS.get(key)
    if originals is not None and (originals.cancelled() or (originals.done() and originals.exception() is not None)
                                  or (not originals.done() and originals.get_loop() is not asyncio.get_running_loop())):
        originals = None  # failed, or still pending on another event loop: make them again
    if originals is None:
        originals = _ORIGINALS[key] = asyncio.ensure_future(asyncio.gather(
            sandbox.run(staged, base),
            sandbox.run(staged, base.model_copy(update={"label": "original code again (edited functions recorded)"}))))
        while len(_ORIGINALS) > 32:
            _ORIGINALS.pop(next(iter(_ORIGINALS)))
    fixed_run = sandbox.run(staged, base.model_copy(update={"patches": patches, "record_calls": new_targets,
                                                          "label": "candidate (edited functions recorded)"}))
    if originals.done():  # (a finished future of another loop is read, not awaited)
        (first_run, second_run), fixed = originals.result(), await fixed_run
    else:
        (first_run, second_run), fixed = await asyncio.gather(asyncio.shield(originals), fixed_run)
    if ran is not None:
        ran += [span(r) for r in (first_run, second_run, fixed)]
    if not all(r.nonce_ok for r in (first_run, second_run, fixed)):
        return None
    return compare(first_run.record.calls, second_run.record.calls, fixed.record.calls, rename)


# the original's records, per staged project and what is recorded on which tests
_ORIGINALS: dict[tuple[str, str], asyncio.Future[tuple[RunResult, RunResult]]] = {}


def span(run: RunResult) -> tuple[float, float]:
    """(start, end) of a run, monotonic seconds: for a session's busy time."""
    return run.started_at, run.started_at + run.duration_ms / 1000
